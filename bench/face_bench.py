"""Face engine latency per pack beside plain OpenCV YuNet + SFace in the same run; prints JSON.

Same as `dualcam face bench --json`; extra arguments pass through (--runs N, --pack NAME, --model-dir DIR).
"""

from __future__ import annotations

import sys

from app.face.cli import root

if __name__ == "__main__":
    root(["face", "bench", "--json", *sys.argv[1:]])
