"""Copy the outputs of `make demo` into docs/gallery for the README, enlarged for display.

    python scripts/gallery.py [runs/demo] [docs/gallery]

The demo's images are 32px tiles; here they are only enlarged (nearest neighbour, x3) and
the translation panels stacked into one picture. Nothing is retouched.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

ZOOM = 3
TARGETS = ("cartoon", "star")  # the demo's sweeps


def enlarge(img: Image.Image) -> Image.Image:
    return img.resize((img.width * ZOOM, img.height * ZOOM), Image.NEAREST)


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"gallery: {path}: missing (run `make demo` first)")
    return path


def finetune_progress(samples: Path, tile: int = 32, gap: int = 2) -> Image.Image:
    """The first row of the source generator, then the fine-tuned row at each saved step.

    A fine-tuning sample grid puts a source row over a current row for the same latents; the
    source row never changes, so one copy of it heads the stack.
    """
    grids = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(need(samples).glob("step-*.png"))]

    def row(grid: np.ndarray, r: int) -> np.ndarray:  # tile row r with the gap above it
        return grid[r * (tile + gap) : gap + r * (tile + gap) + tile]

    stack = [row(grids[0], 0)] + [row(g, 1) for g in grids[1:]]
    return Image.fromarray(np.concatenate([*stack, np.full_like(stack[0][:gap], 255)], axis=0))


def main(demo: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    copies = {"source-samples.png": demo / "source-samples.png", "pairs-blend.png": demo / "pairs-blend.png",
              "mix.png": demo / "mix.png"}
    for target in TARGETS:
        copies[f"{target}-translations.png"] = demo / target / "translations.png"
        copies[f"{target}-pairs.png"] = demo / target / "pairs.png"
    for name, path in copies.items():
        enlarge(Image.open(need(path)).convert("RGB")).save(out / name)
    for target in TARGETS:
        shutil.copyfile(need(demo / target / "sweep.svg"), out / f"{target}-sweep.svg")
    samples = demo / "cartoon" / "g2" / "samples"  # the frozen cartoon fine-tune
    enlarge(finetune_progress(samples)).save(out / "finetune-progress.png")
    grids = sorted(need(samples).glob("step-*.png"))
    halfway = grids[len(grids) // 2]  # a sample grid as training writes it, mid-run
    enlarge(Image.open(halfway).convert("RGB")).save(out / f"finetune-samples-{halfway.stem}.png")

    panels = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(need(demo / "translate" / "panels").glob("*.png"))]
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    rows = [np.concatenate([panels[i], gap, panels[i + 1]], axis=1) for i in range(0, len(panels) - 1, 2)]
    enlarge(Image.fromarray(np.concatenate(rows, axis=0))).save(out / "translate-panels.png")

    with Image.open(need(demo / "loop.gif")) as gif:
        frames = [enlarge(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
        duration = gif.info.get("duration", 60)
    frames[0].save(out / "loop.gif", save_all=True, append_images=frames[1:], duration=duration, loop=0)
    print(f"wrote {len(list(out.iterdir()))} files to {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else Path("runs/demo"), Path(args[1]) if len(args) > 1 else Path("docs/gallery"))
