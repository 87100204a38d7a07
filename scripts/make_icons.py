"""Draw the phone apps' icons (PNG 192/512, maskable-safe): a phone with a camera lens, blue for main, orange for aux.

Run once after changing the design: `.venv/bin/python scripts/make_icons.py` (writes clients/common/icons/).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "clients" / "common" / "icons"
COLOURS = {"main": (31, 111, 235), "aux": (188, 76, 0)}


def icon(size: int, colour: tuple[int, int, int], second: bool) -> Image.Image:
    img = Image.new("RGB", (size, size), colour)
    d = ImageDraw.Draw(img)
    s = size / 192
    # Phone body inside the maskable safe zone (central 80%).
    d.rounded_rectangle([64 * s, 38 * s, 128 * s, 154 * s], radius=10 * s, fill=(255, 255, 255))
    d.rounded_rectangle([70 * s, 52 * s, 122 * s, 140 * s], radius=4 * s, fill=colour)
    # Camera lens.
    d.ellipse([82 * s, 78 * s, 110 * s, 106 * s], fill=(255, 255, 255))
    d.ellipse([89 * s, 85 * s, 103 * s, 99 * s], fill=colour)
    if second:  # the aux icon: a second, smaller phone behind
        d.rounded_rectangle([132 * s, 70 * s, 156 * s, 116 * s], radius=5 * s, fill=(255, 255, 255))
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, colour in COLOURS.items():
        for size in (192, 512):
            icon(size, colour, name == "aux").save(OUT / f"{name}-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
