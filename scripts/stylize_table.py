"""Few-shot stylization on the demo's domains, against the truth: `freezeg stylize` from k
cartoon references, then the demo's unseen test scenes translated (from the demo's own
projections) and compared with their true cartoons, beside the demo's 300-image fine-tunes.

    python scripts/stylize_table.py [runs/demo] [--out runs/stylize-table]   # after `make demo`

Prints a Markdown table: references, steps, frozen blocks, loss, seconds, pixel error (L1,
0-255) and structure against the truth.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

SETTINGS = [  # (references, steps, trained blocks, loss)
    (1, 300, 2, "d-features"), (3, 300, 2, "d-features"), (5, 300, 2, "d-features"), (10, 300, 2, "d-features"),
    (1, 300, 3, "d-features"), (10, 300, 3, "d-features"), (10, 600, 3, "d-features"),
    (1, 300, 2, "pixel"), (10, 300, 2, "pixel"), (10, 600, 3, "pixel"),
]


def pictures(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("demo", nargs="?", default="runs/demo")
    ap.add_argument("--out", default="runs/stylize-table")
    args = ap.parse_args()
    import freezeg.api as fz
    from freezeg.inversion.latents import load_latent
    from freezeg.metrics.structure import structure_similarity
    from freezeg.translate.render import render
    from freezeg.utils.media import from_uint8

    demo, out = Path(args.demo), Path(args.out)
    source = fz.load("blobs32")
    latents = [load_latent(p, source) for p in sorted((demo / "projection" / "latents").glob("*.pt"))]
    truth = pictures(demo / "data" / "test-cartoon" / "images")
    inputs = pictures(demo / "data" / "test-blobs" / "images")
    refs = sorted((demo / "data" / "cartoon" / "images").glob("*.png"))

    def score(images: np.ndarray) -> tuple[float, float]:
        struct = structure_similarity(from_uint8(images), from_uint8(truth)).mean()
        return float(np.abs(images.astype(float) - truth).mean()), float(struct)

    rows = [("untranslated inputs", "", "", "", "", *score(inputs))]
    for name in ("g0", "g2"):
        rows.append((f"demo fine-tune {name}, 300 images", "300", "all" if name == "g0" else "2", "GAN", "",
                     *score(render(fz.load(demo / "cartoon" / name), latents))))
    for k, steps, blocks, loss in SETTINGS:
        run = out / f"k{k}-s{steps}-g{blocks}-{loss}"
        cmd = [sys.executable, "-m", "freezeg", "stylize", *map(str, refs[:k]), "--source",
               "src/freezeg/data/pretrained/blobs32.pt", "--out", str(run), "--steps", str(steps), "--freeze-g",
               str(blocks), "--loss", loss, "--overwrite", "-q"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - start
        rows.append((f"stylize, {k} reference{'s' if k > 1 else ''}", str(steps), str(blocks), loss, f"{seconds:.0f}",
                     *score(render(fz.load(run), latents))))
    print("| target | steps | trained blocks | loss | seconds | truth L1 | truth struct |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.1f} | {r[6]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
