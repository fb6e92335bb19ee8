"""Few-shot stylization against the truth: `freezeg stylize` from k references, then unseen
inputs translated and compared with their true renderings.

    python scripts/stylize_table.py [runs/demo] [--out runs/stylize-table]   # after `make demo`
    python scripts/stylize_table.py --emoji runs/emoji [--out runs/stylize-emoji]   # after `make emoji`

The demo: the first k of the demo's 300 cartoons as references for the shipped blob source,
the demo's 8 unseen test scenes translated from the demo's own projections, beside the demo's
300-image fine-tunes. Emoji: k Fluent Emoji 3D training renderings (a fixed spread over the
training set) as references for the OpenMoji source (`runs/emoji/emoji.pt`), the 40 held-out
OpenMoji of `runs/emoji/pairs` projected once (default recipe, 300 steps) and translated,
against their true Fluent renderings.

Prints a Markdown table: references, steps, trained blocks, loss, whether the frozen blocks'
toRGB trained (--coarse-rgb), seconds, pixel error (L1, 0-255) and structure against the truth;
with --seeds N, the mean over N seeds of the mixed latents (and the range of the pixel error).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

SETTINGS = [  # (references, steps, trained blocks, loss, coarse toRGB)
    (1, 300, 2, "d-features", "train"), (3, 300, 2, "d-features", "train"), (5, 300, 2, "d-features", "train"),
    (10, 300, 2, "d-features", "train"), (10, 300, 2, "d-features", "freeze"),
    (1, 300, 3, "d-features", "train"), (10, 300, 3, "d-features", "train"),
    (1, 300, 2, "pixel", "train"), (3, 300, 2, "pixel", "train"), (10, 300, 2, "pixel", "train"),
    (10, 300, 2, "pixel", "freeze"),
]
EMOJI_SETTINGS = [
    (1, 300, 2, "d-features", "train"), (3, 300, 2, "d-features", "train"), (10, 300, 2, "d-features", "train"),
    (10, 300, 2, "d-features", "freeze"), (10, 300, 3, "d-features", "train"), (10, 300, 2, "pixel", "train"),
]


def emoji_references(run: Path) -> list[Path]:
    """Ten Fluent training renderings spread evenly over the sorted training set (k references: the first k)."""
    train = sorted((run / "data" / "fluent3d" / "train").glob("*.png"))
    return [train[i * len(train) // 10] for i in range(10)]


def pictures(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("demo", nargs="?", default="runs/demo")
    ap.add_argument("--emoji", metavar="RUN", help="the emoji table from `make emoji`'s folder instead of the demo's")
    ap.add_argument("--out", help="where the runs go (default runs/stylize-table, or runs/stylize-emoji)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds of the mixed latents per setting (default 1)")
    args = ap.parse_args()
    import freezeg.api as fz
    from freezeg.inversion.latents import load_latent
    from freezeg.metrics.structure import structure_similarity
    from freezeg.translate.render import render
    from freezeg.utils.media import from_uint8

    if args.emoji:
        run = Path(args.emoji)
        out = Path(args.out or "runs/stylize-emoji")
        source_path, settings, baselines = str(run / "emoji.pt"), EMOJI_SETTINGS, []
        source = fz.load(source_path)
        inputs, truth = pictures(run / "pairs" / "openmoji"), pictures(run / "pairs" / "fluent3d")
        projection = out / "projection"
        if not (projection / "latents").is_dir():
            subprocess.run([sys.executable, "-m", "freezeg", "project", str(run / "pairs" / "openmoji"), "--ckpt",
                            source_path, "--out", str(projection), "-q"], check=True)
        latents = [load_latent(p, source) for p in sorted((projection / "latents").glob("*.pt"))]
        refs = emoji_references(run)
    else:
        demo, out = Path(args.demo), Path(args.out or "runs/stylize-table")
        source_path, settings = "src/freezeg/data/pretrained/blobs32.pt", SETTINGS
        source = fz.load("blobs32")
        latents = [load_latent(p, source) for p in sorted((demo / "projection" / "latents").glob("*.pt"))]
        truth = pictures(demo / "data" / "test-cartoon" / "images")
        inputs = pictures(demo / "data" / "test-blobs" / "images")
        refs = sorted((demo / "data" / "cartoon" / "images").glob("*.png"))
        baselines = [(f"demo fine-tune {name}, 300 images", "all" if name == "g0" else "2", demo / "cartoon" / name)
                     for name in ("g0", "g2")]

    def score(images: np.ndarray) -> tuple[float, float]:
        struct = structure_similarity(from_uint8(images), from_uint8(truth)).mean()
        return float(np.abs(images.astype(float) - truth).mean()), float(struct)

    def row(name, steps, blocks, loss, rgb, seconds, l1s, structs):
        spread = f" ({min(l1s):.1f}-{max(l1s):.1f})" if len(l1s) > 1 else ""
        return f"| {name} | {steps} | {blocks} | {loss} | {rgb} | {seconds} | {np.mean(l1s):.1f}{spread} | {np.mean(structs):.3f} |"

    l1, struct = score(inputs)
    rows = [row("untranslated inputs", "", "", "", "", "", [l1], [struct])]
    for name, blocks, path in baselines:
        l1, struct = score(render(fz.load(path), latents))
        steps = json.loads((path / "run.json").read_text())["steps"]  # as the run recorded them (the demo's TARGET_STEPS)
        rows.append(row(name, str(steps), blocks, "GAN", "freeze", "", [l1], [struct]))
    for k, steps, blocks, loss, rgb in settings:
        l1s, structs, seconds = [], [], []
        for seed in range(args.seeds):
            folder = out / f"k{k}-s{steps}-g{blocks}-{loss}-rgb{rgb}-seed{seed}"
            cmd = [sys.executable, "-m", "freezeg", "stylize", *map(str, refs[:k]), "--source", source_path,
                   "--out", str(folder), "--steps", str(steps), "--freeze-g", str(blocks), "--loss", loss,
                   "--coarse-rgb", rgb, "--seed", str(seed), "--overwrite", "-q"]
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            seconds.append(time.perf_counter() - start)
            l1, struct = score(render(fz.load(folder), latents))
            l1s.append(l1)
            structs.append(struct)
        rows.append(row(f"stylize, {k} reference{'s' if k > 1 else ''}", steps, blocks, loss, rgb,
                        f"{np.mean(seconds):.0f}", l1s, structs))
        print(rows[-1], flush=True)
    print("| target | steps | trained blocks | loss | coarse toRGB | seconds | truth L1 | truth struct |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
