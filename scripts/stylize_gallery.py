"""The few-shot picture for README: the references, the demo's unseen test scenes, their
translations by generators stylized from 1 and from 10 references (the default loss, and the
pixel loss), the 300-image frozen fine-tune's, and the true cartoons; one row each, enlarged x3
(nearest neighbour), nothing else.

    python scripts/stylize_gallery.py [runs/demo] [runs/stylize-table] [docs/gallery/stylize-row.png]
    python scripts/stylize_gallery.py --emoji runs/emoji [runs/stylize-emoji] [OUT]   # the emoji table's

Run after `make demo` and `python scripts/stylize_table.py` (it reads their run folders).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from stylize_table import emoji_references  # the same references the table stylized from (scripts/ is on sys.path)

import freezeg.api as fz
from freezeg.data.images import read_image
from freezeg.inversion.latents import load_latent
from freezeg.sweep.report import labelled_rows, tile_row
from freezeg.translate.render import render
from freezeg.utils.media import save_image

ZOOM = 3
RUNS = (("stylize, 1 reference", "k1-s300-g2-d-features-rgbtrain-seed0"),
        ("stylize, 10 references", "k10-s300-g2-d-features-rgbtrain-seed0"),
        ("10 references, pixel loss", "k10-s300-g2-pixel-rgbtrain-seed0"))


def enlarge(images: list[np.ndarray], zoom: int = ZOOM) -> list[np.ndarray]:
    return [img.repeat(zoom, axis=0).repeat(zoom, axis=1) for img in images]


def folder_images(folder: Path, n: int | None = None) -> list[np.ndarray]:
    paths = sorted(folder.glob("*.png"))[:n]
    if not paths:
        sys.exit(f"stylize_gallery: {folder}: no images (run `make demo` and scripts/stylize_table.py first)")
    return [read_image(p) for p in paths]


def demo_rows(demo: Path, table: Path) -> list[tuple[str, list[np.ndarray]]]:
    source = fz.load("blobs32")
    latents = [load_latent(p, source) for p in sorted((demo / "projection" / "latents").glob("*.pt"))]
    inputs = folder_images(demo / "data" / "test-blobs" / "images")
    refs = folder_images(demo / "data" / "cartoon" / "images", 10)
    rows = [(f"references 1-{min(len(inputs), 10)} of 10", fill(refs, len(inputs))), ("unseen input", inputs)]
    for label, run in RUNS:
        rows.append((label, list(render(fz.load(table / run), latents))))
    rows.append(("300-image fine-tune", list(render(fz.load(demo / "cartoon" / "g2"), latents))))
    rows.append(("truth", folder_images(demo / "data" / "test-cartoon" / "images")))
    return rows


def emoji_rows(run: Path, table: Path, n: int = 8) -> list[tuple[str, list[np.ndarray]]]:
    """`stylize_table.py --emoji`'s first n held-out pairs: OpenMoji input, the source's reconstruction,
    translations by the styles from 10 Fluent references, and the true Fluent rendering."""
    source = fz.load(run / "emoji.pt")
    latents = [load_latent(p, source) for p in sorted((table / "projection" / "latents").glob("*.pt"))][:n]
    refs = [read_image(p) for p in emoji_references(run)]
    rows = [(f"references 1-{n} of 10", refs[:n]), ("held-out input", folder_images(run / "pairs" / "openmoji", n)),
            ("reconstruction", list(render(source, latents)))]
    for label, folder in (("10 references", "k10-s300-g2-d-features-rgbtrain-seed0"),
                          ("10 refs, pixel loss", "k10-s300-g2-pixel-rgbtrain-seed0")):
        rows.append((label, list(render(fz.load(table / folder), latents))))
    rows.append(("true Fluent", folder_images(run / "pairs" / "fluent3d", n)))
    return rows


def fill(images: list[np.ndarray], n: int) -> list[np.ndarray]:
    return images + [np.full_like(images[0], 255)] * (n - len(images)) if len(images) < n else images[:n]


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", metavar="PATH",
                    help="the demo: [DEMO] [TABLE] [OUT]; with --emoji: [TABLE] [OUT] (see above for the defaults)")
    ap.add_argument("--emoji", metavar="RUN", help="the emoji picture from `make emoji`'s folder")
    args = ap.parse_args(argv)
    if args.emoji:
        table, out = (args.paths + [None, None])[:2]
        rows = emoji_rows(Path(args.emoji), Path(table or "runs/stylize-emoji"))
        out, zoom = Path(out or "docs/gallery/emoji-stylize-row.png"), 2
    else:
        demo, table, out = (args.paths + [None, None, None])[:3]
        rows = demo_rows(Path(demo or "runs/demo"), Path(table or "runs/stylize-table"))
        out, zoom = Path(out or "docs/gallery/stylize-row.png"), ZOOM
    picture = labelled_rows([tile_row(enlarge(images, zoom)) for _, images in rows], [label for label, _ in rows])
    save_image(picture, out)
    print(f"wrote {out} ({len(rows)} rows of {len(rows[1][1])})")


if __name__ == "__main__":
    main(sys.argv[1:])
