"""Pair OpenMoji and Apple emoji by code point, render both at one size on white, split.

Called by fetch_emoji.sh with the unpacked npm packages; see that script for licences.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

from PIL import Image

TEST_SHARE = 0.10  # code points whose hash falls below this share form the fixed test split


def key(stem: str) -> str:
    """Code-point name shared by both sets: lower case, without variation selectors."""
    return "-".join(p for p in stem.lower().split("-") if p != "fe0f")


def on_white(rgba: Image.Image, size: int) -> Image.Image:
    rgba = rgba.convert("RGBA")
    if rgba.size != (size, size):
        rgba = rgba.resize((size, size), Image.LANCZOS)
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def render_svg(path: Path, size: int) -> Image.Image:
    import cairosvg

    # Render at 4x and downsample: cairo's own small renderings alias thin outlines.
    png = cairosvg.svg2png(url=str(path), output_width=4 * size, output_height=4 * size)
    return on_white(Image.open(io.BytesIO(png)), size)


SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}


def is_test(name: str) -> bool:
    """Fixed split by the emoji without its skin-tone modifiers, so variants share a split."""
    base = "-".join(p for p in name.split("-") if p not in SKIN_TONES)
    h = int(hashlib.sha1(base.encode()).hexdigest()[:8], 16)
    return h / 0x100000000 < TEST_SHARE


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--openmoji", type=Path, required=True, help="OpenMoji color/svg folder")
    p.add_argument("--apple", type=Path, required=True, help="emoji-datasource-apple img/apple/64 folder")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()

    openmoji = {key(f.stem): f for f in sorted(a.openmoji.glob("*.svg"))}
    apple = {key(f.stem): f for f in sorted(a.apple.glob("*.png"))}
    names = sorted(set(openmoji) & set(apple))
    counts = {"train": 0, "test": 0}
    for name in names:
        split = "test" if is_test(name) else "train"
        try:
            src = render_svg(openmoji[name], a.size)
            tgt = on_white(Image.open(apple[name]), a.size)
        except Exception as e:  # a broken SVG or PNG in a package: skip the pair, say so
            print(f"skipped {name}: {type(e).__name__}: {e}")
            continue
        for domain, img in (("openmoji", src), ("apple", tgt)):
            folder = a.out / domain / split
            folder.mkdir(parents=True, exist_ok=True)
            img.save(folder / f"{name}.png")
        counts[split] += 1
    print(f"{len(names)} code points in both sets: {counts['train']} train, {counts['test']} test pairs -> {a.out}")


if __name__ == "__main__":
    main()
