"""The HTTP protocol `dualcam serve` runs: uvicorn's httptools protocol with a cap on a request's head.

httptools (llhttp) sets no limit on the request line and headers: it gathers a header's value piece by piece until
the line ends, so a 100 MB header was read whole (taking 17 s, the concatenation being quadratic) and answered 200.
uvicorn's h11 protocol has a limit (`h11_max_incomplete_event_size`) but answers 400 and parses bodies at about a
third of the speed, which recording uploads feel. So: httptools, with the bytes of each request's head counted as
they arrive; past the limit the request is answered 431 and the connection closed, before the app sees it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app import errors
from app.logs import get_logger

log = get_logger(__name__)


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: ClassVar[int] = 32 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the next bytes belong to a request line or headers
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # what follows (keep-alive) is the next request's head
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        # Counted by whole reads (at most 256 KiB each): the parser holds at most that much past the limit.
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
            self._refuse_head()

    def _refuse_head(self) -> None:
        log.warning("http.head.too_large", client=(self.client or ("?",))[0], received=self._head_bytes, limit=self.max_head_bytes)
        if self.cycle is None or self.cycle.response_complete:  # else a response is on its way: just close
            body = json.dumps(errors.HeadersTooLarge().body(), ensure_ascii=False).encode()
            head = (
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n"
                b"connection: close\r\n\r\n"
            )
            self.transport.write(head + body)
        self.transport.close()


def http_protocol(*, max_head_bytes: int) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's `http=` with this head limit (request line and headers, in bytes)."""
    return type("HeadLimitedHttpTools", (HeadLimitedHttpToolsProtocol,), {"max_head_bytes": max_head_bytes})
