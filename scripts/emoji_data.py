"""Render OpenMoji, Apple and Fluent 3D emoji at one size on white, split by code point.

Called by fetch_emoji.sh with the unpacked npm packages; see that script for licences.
Every vendor's code points go to the same fixed split, so a test emoji is unseen by the
source generator and by every target alike; pairs are the code points two vendors share.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

from PIL import Image

TEST_SHARE = 0.10  # code points whose hash falls below this share form the fixed test split
SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}


def key(stem: str) -> str:
    """Code-point name shared by all sets: lower case, without variation selectors."""
    return "-".join(p for p in stem.lower().split("-") if p != "fe0f")


def on_white(rgba: Image.Image, size: int) -> Image.Image:
    """Composite on white and resize with Lanczos (what `freezeg project` does to RGBA input)."""
    rgba = rgba.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    return rgb if rgb.size == (size, size) else rgb.resize((size, size), Image.LANCZOS)


def render_svg(path: Path, size: int) -> Image.Image:
    import cairosvg

    # Render at 4x and downsample: cairo's own small renderings alias thin outlines.
    png = cairosvg.svg2png(url=str(path), output_width=4 * size, output_height=4 * size)
    return on_white(Image.open(io.BytesIO(png)), size)


def is_test(name: str) -> bool:
    """Fixed split by the emoji without its skin-tone modifiers, so variants share a split."""
    base = "-".join(p for p in name.split("-") if p not in SKIN_TONES)
    h = int(hashlib.sha1(base.encode()).hexdigest()[:8], 16)
    return h / 0x100000000 < TEST_SHARE


def render(path: Path, size: int) -> Image.Image:
    return render_svg(path, size) if path.suffix == ".svg" else on_white(Image.open(path), size)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--openmoji", type=Path, required=True, help="OpenMoji color/svg folder")
    p.add_argument("--apple", type=Path, help="emoji-datasource-apple img/apple/64 folder")
    p.add_argument("--fluent3d", type=Path, help="@lobehub/fluent-emoji-3d assets folder")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()

    vendors = {"openmoji": a.openmoji, "apple": a.apple, "fluent3d": a.fluent3d}
    for vendor, folder in vendors.items():
        if folder is None:
            continue
        files = {key(f.stem): f for f in sorted(folder.iterdir()) if f.suffix in (".svg", ".png", ".webp")}
        counts = {"train": 0, "test": 0}
        for name, f in files.items():
            split = "test" if is_test(name) else "train"
            try:
                img = render(f, a.size)
            except Exception as e:  # a broken file in a package: skip it, say so
                print(f"skipped {vendor} {name}: {type(e).__name__}: {e}")
                continue
            out = a.out / vendor / split
            out.mkdir(parents=True, exist_ok=True)
            img.save(out / f"{name}.png")
            counts[split] += 1
        print(f"{vendor}: {counts['train']} train, {counts['test']} test -> {a.out / vendor}")


if __name__ == "__main__":
    main()
