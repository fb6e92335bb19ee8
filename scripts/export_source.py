"""Slim a trained run into a file to ship: the demo's source, the emoji source and its target.

    python scripts/export_source.py runs/demo/source OUT.pt

Keeps g_ema (what fine-tuning and projection need) and, with --keep-d, the discriminator (what
FreezeD and `freezeg stylize`'s feature loss start from; without it a fresh one is built when
fine-tuning). Each is stored in float16 when that keeps the float32 results within
FP16_TOLERANCE (g_ema: the reference renderings; d: its scores of them). The file records where
it came from: the exact training command line, its seed, git commit and step, the dataset, a
licence notice (--notice), a fine-tune's freeze spec and the reference renderings themselves
(seeds 0-3, float32), so that a test can check the shipped file against all of it.

    python scripts/export_source.py runs/sweep/g2-rgb OUT.pt --blend-with emoji.pt --share 0.2

exports the fine-tune blended with its source instead (`freezeg blend --share`: every block
lerp(source, fine-tune, 0.2), the source's mapping); the provenance keeps the fine-tune's
training and adds the blend.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
from pathlib import Path

import torch

from freezeg import load_checkpoint, save_checkpoint
from freezeg.generate.blend import blend_generators
from freezeg.generate.sampling import seeded_images
from freezeg.models.checkpoint import build_discriminator, build_generator

# Largest |float16 - float32| pixel difference accepted (images in [-1, 1]): two levels of an 8-bit
# image (2 x 2/255), so that a saved PNG moves by at most two levels anywhere. The 64 px emoji
# source's float16 copy differs by 1.1e-2 at most: invisible, and half the file.
FP16_TOLERANCE = 4 / 255
REFERENCE_SEEDS = [0, 1, 2, 3]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="training run folder (its newest checkpoint) or checkpoint file")
    p.add_argument("out", type=Path, help="file to write")
    p.add_argument("--keep-d", action="store_true", help="also keep the discriminator")
    p.add_argument("--notice", default=None, help="licence and attribution notice stored in the file")
    p.add_argument("--blend-with", default=None, metavar="SOURCE", help="blend the generator with this source (--share)")
    p.add_argument("--share", type=float, default=None, help="with --blend-with: the fine-tune's share of the weights")
    a = p.parse_args()
    if (a.blend_with is None) != (a.share is None):
        raise SystemExit("export_source: --blend-with and --share go together")
    if a.blend_with and a.keep_d:
        raise SystemExit("export_source: a blend has no discriminator of its own (drop --keep-d)")

    ckpt = load_checkpoint(a.run)
    meta = ckpt.meta
    g = build_generator(ckpt, "g_ema").eval()
    latent_avg = ckpt.parts.get("latent_avg")
    if a.blend_with:
        source_ckpt = load_checkpoint(a.blend_with)
        source = build_generator(source_ckpt, "g_ema").eval()
        g = blend_generators(source, g, share=a.share)
        latent_avg = source_ckpt.parts.get("latent_avg")  # the blend has the source's mapping
    with torch.no_grad():
        reference = seeded_images(g, REFERENCE_SEEDS)
    half = {k: v.half() if v.is_floating_point() else v for k, v in g.state_dict().items()}
    g16 = build_generator(load_checkpoint({"g_ema": half}), "g_ema").eval()  # float16 values, float32 maths
    with torch.no_grad():
        diff = float((seeded_images(g16, REFERENCE_SEEDS) - reference).abs().max())
    state = half if diff <= FP16_TOLERANCE else g.state_dict()
    parts = {"g_ema": state, "latent_avg": latent_avg}
    if a.keep_d:
        parts["d"], d_diff = _slim_discriminator(ckpt, reference)
    argv = meta.get("command", "").split()
    dataset = dict(meta.get("dataset") or {})
    described = Path(dataset.get("path", "")) / "freezeg-dataset.json"
    if described.is_file():
        dataset["source"] = json.loads(described.read_text()).get("source")
    provenance = {
        "train_command": ["freezeg", *argv[1:]],  # argv[0] is wherever the freezeg script was installed
        "seed": (ckpt.parts.get("args") or {}).get("seed"),
        # every training setting as the run used it: a resumed run's command line names only some
        "train_args": ckpt.parts.get("args"),
        "git_commit": meta.get("git_commit"),
        "step": ckpt.step,
        "dataset": dataset,
        "from_checkpoint": ckpt.path,
        "dtype": "float16" if state is half else "float32",
        "fp16_max_abs_diff": diff,
        **({"d_dtype": _dtype_of(parts["d"]), "d_fp16_max_abs_diff": d_diff} if a.keep_d else {}),
        **({"blend": {"source": a.blend_with, "share": a.share}} if a.blend_with else {}),
        "exported_by": " ".join(shlex.quote(x) for x in ["python", *sys.argv]),
    }
    meta = {"provenance": provenance, "reference": {"seeds": REFERENCE_SEEDS, "images": reference}, "step": ckpt.step}
    if meta_freeze := ckpt.meta.get("freeze"):  # a fine-tune's spec: pivotal tuning checks the shared blocks by it
        meta["freeze"] = meta_freeze
    if a.notice:
        meta["licence"] = a.notice
    save_checkpoint(a.out, **parts, meta=meta)
    kept = f"g_ema in {provenance['dtype']}" + (f", d in {provenance['d_dtype']}" if a.keep_d else "")
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB, {kept}; "
          f"float16 max |diff| {diff:.2e} on seeds {REFERENCE_SEEDS[0]}-{REFERENCE_SEEDS[-1]})")


def _dtype_of(state: dict) -> str:
    return "float16" if any(v.dtype == torch.float16 for v in state.values()) else "float32"


def _slim_discriminator(ckpt, reference: torch.Tensor) -> tuple[dict, float]:
    """The discriminator's state, in float16 when its scores of the reference images move by at
    most FP16_TOLERANCE (relative to their spread) from float32's."""
    if "d" not in ckpt.parts:
        raise SystemExit(f"{ckpt.path}: has no discriminator to keep (drop --keep-d)")
    d = build_discriminator(ckpt).eval()
    half = {k: v.half() if v.is_floating_point() else v for k, v in d.state_dict().items()}
    d16 = copy.deepcopy(d)  # the same settings, float16-rounded values, float32 maths
    d16.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half.items()})
    with torch.no_grad():
        scores, scores16 = d(reference), d16(reference)
    diff = float((scores16 - scores).abs().max() / scores.std().clamp_min(1e-6))
    return (half if diff <= FP16_TOLERANCE else d.state_dict()), diff


if __name__ == "__main__":
    main()
