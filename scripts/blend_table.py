"""How much of each fine-tune to keep: every setting of a finished sweep blended with its source
(`freezeg blend --share A`) at several shares, scored against the truth of the sweep's pairs.

    python scripts/blend_table.py SWEEP_DIR [--shares 0.1,0.2,0.3,0.4,0.5,1]

Run from the folder the sweep ran in: its plan.json names the source checkpoint and the --pairs
folders relative to it. The sweep's saved projections are rendered by lerp(source, setting, A)
(every block alike, the source's mapping), with no training or projecting again, and compared
with the true target images as the sweep does: mean absolute pixel error (0-255) and structure.

The pairs are split in two halves by name. The choice uses only the first: of the (setting,
share) pairs whose translations beat the untranslated inputs in both pixel error and structure
there, the largest share (the most of the fine-tune), ties to the lower pixel error. The second
half, not used to choose, checks it. Writes SWEEP_DIR/blends.json (every row) and the chosen
blend's translations of all pairs to SWEEP_DIR/blends/SETTING-A/ (for KID and pictures);
blends.json's "choice" is null when no blend beats the inputs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from freezeg.api import load
from freezeg.data.images import read_image
from freezeg.generate.blend import blend_generators, blend_weights
from freezeg.inversion.latents import latent_files, load_latent
from freezeg.metrics.pairs import pixel_error
from freezeg.metrics.structure import structure_report
from freezeg.sweep.report import BASELINE
from freezeg.translate import render
from freezeg.utils.media import from_uint8, save_image

HALVES = ("choose", "check", "all")


def scores(images: np.ndarray, truths: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    """Pixel error and structure against the truth on each half and on all pairs."""
    half = len(names) // 2
    out = {}
    for label, part in zip(HALVES, (slice(0, half), slice(half, None), slice(None))):
        a = [from_uint8(t)[0] for t in images[part]]
        b = [from_uint8(t)[0] for t in truths[part]]
        out[label] = {"l1": pixel_error(images[part], truths[part]),
                      "structure": structure_report(names[part], a, b).mean}
    return out


def beats(row: dict, inputs: dict) -> bool:
    mine, theirs = row["choose"], inputs["choose"]
    return mine["l1"] < theirs["l1"] and mine["structure"] > theirs["structure"]


def line(label: str, s: dict) -> str:
    return f"{label:22s}" + "".join(f"  {s[h]['l1']:6.2f} {s[h]['structure']:6.3f}" for h in HALVES)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep", type=Path)
    p.add_argument("--shares", default="0.1,0.2,0.3,0.4,0.5,1", help="target shares to try (default 0.1-0.5 and 1)")
    a = p.parse_args()
    plan = json.loads((a.sweep / "plan.json").read_text())
    if not plan.get("pairs"):
        raise SystemExit(f"blend_table: {a.sweep}: the sweep ran without --pairs; nothing to score against")
    inputs_dir, truth_dir = map(Path, plan["pairs"])
    shares = [float(x) for x in a.shares.split(",")]
    for share in shares:  # the range check, before any work
        try:
            blend_weights([4], share=share)
        except ValueError as e:
            raise SystemExit(f"blend_table: {e}") from None
    settings = sorted(r.parent.name for r in a.sweep.glob("*/result.json") if r.parent.name != BASELINE)
    if not settings:
        raise SystemExit(f"blend_table: {a.sweep}: no measured fine-tuned setting (no */result.json)")

    source = load(plan["source"])
    files = latent_files([a.sweep / "projection" / "latents"])
    latents = [load_latent(f, source) for f in files]
    names = [f.stem for f in files]
    truths = np.stack([read_image(truth_dir / f"{n}.png") for n in names])
    inputs = scores(np.stack([read_image(inputs_dir / f"{n}.png") for n in names]), truths, names)
    rows, rendered = [], {}
    for setting in settings:
        target = load(str(a.sweep / setting))
        for share in shares:
            blended = blend_generators(source, target, share=share)
            rendered[setting, share] = render(blended, latents)
            rows.append({"setting": setting, "share": share, **scores(rendered[setting, share], truths, names)})
    winners = [r for r in rows if beats(r, inputs)]
    choice = max(winners, key=lambda r: (r["share"], -r["choose"]["l1"])) if winners else None
    if choice is not None:
        out = a.sweep / "blends" / f"{choice['setting']}-{choice['share']:g}"
        for name, image in zip(names, rendered[choice["setting"], choice["share"]]):
            save_image(image, out / f"{name}.png")
    (a.sweep / "blends.json").write_text(json.dumps(
        {"pairs": len(names), "halves": {"choose": names[: len(names) // 2], "check": names[len(names) // 2 :]},
         "inputs": inputs, "rows": rows, "choice": choice}, indent=1))
    half = len(names) // 2
    print(f"{'':22s}  {'first ' + str(half) + ' (choose)':>13s}  {'last ' + str(len(names) - half) + ' (check)':>13s}"
          f"  {'all ' + str(len(names)):>13s}")
    print(f"{'setting, share':22s}" + "  pixel  struct" * 3)
    print(line("untranslated inputs", inputs))
    for r in rows:
        mark = " <- chosen" if r is choice else (" (beats the inputs)" if r in winners else "")
        print(line(f"{r['setting']}, {r['share']:g}", r) + mark)
    if choice is None:
        print("no blend beats the untranslated inputs in both pixel error and structure on the first half")
    else:
        check = "beats" if (choice["check"]["l1"] < inputs["check"]["l1"]
                            and choice["check"]["structure"] > inputs["check"]["structure"]) else "does NOT beat"
        print(f"chosen: {choice['setting']} at share {choice['share']:g} (the largest share that beats the inputs on the "
              f"first half); on the last half, not used to choose, it {check} them")


if __name__ == "__main__":
    torch.set_num_threads(1)  # rendering a few dozen latents; often beside a training run
    main()
