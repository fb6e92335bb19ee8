"""The few-shot picture for README: the references, the demo's unseen test scenes, their
translations by generators stylized from 1 and from 10 references (the default loss, and the
pixel loss), the 300-image frozen fine-tune's, and the true cartoons; one row each, enlarged x3
(nearest neighbour), nothing else.

    python scripts/stylize_gallery.py [runs/demo] [runs/stylize-table] [docs/gallery/stylize-row.png]

Run after `make demo` and `python scripts/stylize_table.py` (it reads their run folders).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

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


def enlarge(images: list[np.ndarray]) -> list[np.ndarray]:
    return [img.repeat(ZOOM, axis=0).repeat(ZOOM, axis=1) for img in images]


def folder_images(folder: Path, n: int | None = None) -> list[np.ndarray]:
    paths = sorted(folder.glob("*.png"))[:n]
    if not paths:
        sys.exit(f"stylize_gallery: {folder}: no images (run `make demo` and scripts/stylize_table.py first)")
    return [read_image(p) for p in paths]


def main(argv: list[str]) -> None:
    demo = Path(argv[0] if argv else "runs/demo")
    table = Path(argv[1] if len(argv) > 1 else "runs/stylize-table")
    out = Path(argv[2] if len(argv) > 2 else "docs/gallery/stylize-row.png")
    source = fz.load("blobs32")
    latents = [load_latent(p, source) for p in sorted((demo / "projection" / "latents").glob("*.pt"))]
    inputs = folder_images(demo / "data" / "test-blobs" / "images")
    n = len(inputs)
    refs = folder_images(demo / "data" / "cartoon" / "images", 10)
    refs = refs + [np.full_like(refs[0], 255)] * (n - len(refs)) if len(refs) < n else refs[:n]
    rows = [(f"references 1-{min(n, 10)} of 10", refs), ("unseen input", inputs)]
    for label, run in RUNS:
        rows.append((label, list(render(fz.load(table / run), latents))))
    rows.append(("300-image fine-tune", list(render(fz.load(demo / "cartoon" / "g2"), latents))))
    rows.append(("truth", folder_images(demo / "data" / "test-cartoon" / "images")))
    picture = labelled_rows([tile_row(enlarge(images)) for _, images in rows], [label for label, _ in rows])
    save_image(picture, out)
    print(f"wrote {out} ({len(rows)} rows of {n})")


if __name__ == "__main__":
    main(sys.argv[1:])
