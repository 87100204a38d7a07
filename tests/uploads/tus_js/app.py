"""The tus test server of `tests.uploads.serve` plus a page and tus-js-client's browser bundle on the same origin.

`uvicorn --factory tests.uploads.tus_js.app:create`, with serve.py's environment (UPLOADS_TEST_DB, UPLOADS_TEST_STORE)
and TUS_JS_DIST: the `dist/` folder of the npm package tus-js-client (served unmodified at /tus-js-client/).
The page, its script and the tus endpoint share one origin on 127.0.0.1: a secure context, no CORS.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.uploads import serve

STATIC = Path(__file__).resolve().parent / "static"


def create() -> Starlette:
    app = serve.create()  # the TusApp at /api/v1/uploads exactly as the tuspy tests run it
    app.router.routes.append(Mount("/tus-js-client", app=StaticFiles(directory=os.environ["TUS_JS_DIST"])))
    app.router.routes.append(Mount("/", app=StaticFiles(directory=STATIC, html=True)))
    return app
