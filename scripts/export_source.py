"""Slim a trained source run into the file `make demo` ships and starts from.

    python scripts/export_source.py runs/demo/source OUT.pt

Keeps only g_ema (what fine-tuning and projection need; a fresh discriminator is built when
fine-tuning), in float16 when that keeps the reference renderings within FP16_TOLERANCE of
float32's, and records where it came from: the exact training command line, its seed, git
commit and step, the dataset, and the reference renderings themselves (seeds 0-3, float32),
so that a test can check the shipped file against all of it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from freezeg import load_checkpoint, save_checkpoint
from freezeg.generate.sampling import seeded_images
from freezeg.models.checkpoint import build_generator

FP16_TOLERANCE = 1e-2  # largest |float16 - float32| pixel difference (images in [-1, 1]) accepted
REFERENCE_SEEDS = [0, 1, 2, 3]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="training run folder (its newest checkpoint) or checkpoint file")
    p.add_argument("out", type=Path, help="file to write")
    a = p.parse_args()

    ckpt = load_checkpoint(a.run)
    meta = ckpt.meta
    g = build_generator(ckpt, "g_ema").eval()
    with torch.no_grad():
        reference = seeded_images(g, REFERENCE_SEEDS)
    half = {k: v.half() if v.is_floating_point() else v for k, v in g.state_dict().items()}
    g16 = build_generator(load_checkpoint({"g_ema": half}), "g_ema").eval()  # float16 values, float32 maths
    with torch.no_grad():
        diff = float((seeded_images(g16, REFERENCE_SEEDS) - reference).abs().max())
    state = half if diff <= FP16_TOLERANCE else g.state_dict()
    argv = meta.get("command", "").split()
    dataset = dict(meta.get("dataset") or {})
    described = Path(dataset.get("path", "")) / "freezeg-dataset.json"
    if described.is_file():
        dataset["source"] = json.loads(described.read_text()).get("source")
    provenance = {
        "train_command": ["freezeg", *argv[1:]],  # argv[0] is wherever the freezeg script was installed
        "seed": (ckpt.parts.get("args") or {}).get("seed"),
        "git_commit": meta.get("git_commit"),
        "step": ckpt.step,
        "dataset": dataset,
        "from_checkpoint": ckpt.path,
        "dtype": "float16" if state is half else "float32",
        "fp16_max_abs_diff": diff,
        "exported_by": " ".join(shlex.quote(x) for x in ["python", *sys.argv]),
    }
    save_checkpoint(a.out, g_ema=state, latent_avg=ckpt.parts.get("latent_avg"),
                    meta={"provenance": provenance, "reference": {"seeds": REFERENCE_SEEDS, "images": reference},
                          "step": ckpt.step})
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB, g_ema in {provenance['dtype']}; "
          f"float16 max |diff| {diff:.2e} on seeds {REFERENCE_SEEDS[0]}-{REFERENCE_SEEDS[-1]})")


if __name__ == "__main__":
    main()
