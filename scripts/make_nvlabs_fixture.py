"""Write a tests/fixtures/nvlabs fixture with freezeg's own NVlabs-layout writer.

Inputs come from NVlabs' code, run elsewhere (see tests/fixtures/nvlabs/README.md): the
network pickle their training loop wrote, the raw state dicts of its G, G_ema and D under
their names, and the outputs their networks computed. This script uses only freezeg: it
reads the config from the reference pickle with our reader, writes the same tensors with our
writer, checks that the record tree matches the reference record for record (class names,
attribute names and values, tensor names), and copies the expected outputs beside it.

usage: python scripts/make_nvlabs_fixture.py REF.pkl REF-state.pt REF-expected.pt \\
           --repository stylegan2-ada-pytorch|stylegan3 --out tests/fixtures/nvlabs/NAME
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from freezeg.models.checkpoint import load_checkpoint
from freezeg.models.nvlabs.records import PersistentRecord
from freezeg.models.nvlabs.unpickler import load_restricted
from freezeg.models.nvlabs.writer import REPOSITORIES, snapshot, write_network_pickle

IGNORED_STATE = {"_init_args", "_init_kwargs"}  # constructor arguments: informational only


def layout_differences(ours: PersistentRecord, ref: PersistentRecord, path: str = "") -> list[str]:
    """Where two record trees differ in class, attribute names/values or tensor names/shapes."""
    out = []
    if ours.class_name != ref.class_name:
        return [f"{path or '<root>'}: class {ours.class_name} != {ref.class_name}"]
    a, b = set(ours.state) - IGNORED_STATE, set(ref.state) - IGNORED_STATE
    if a != b:
        out.append(f"{path or '<root>'}: attributes only ours {sorted(a - b)}, only theirs {sorted(b - a)}")
    for key in sorted(a & b):
        va, vb = ours.state[key], ref.state[key]
        if key in ("_parameters", "_buffers"):
            shapes_a = {k: tuple(v.shape) for k, v in va.items() if v is not None}
            shapes_b = {k: tuple(v.shape) for k, v in vb.items() if v is not None}
            if shapes_a != shapes_b:
                out.append(f"{path}.{key}: {shapes_a} != {shapes_b}")
        elif key == "_modules":
            if list(va) != list(vb):
                out.append(f"{path}._modules: {list(va)} != {list(vb)}")
            for name in va:
                if isinstance(va[name], PersistentRecord) and isinstance(vb.get(name), PersistentRecord):
                    out.extend(layout_differences(va[name], vb[name], f"{path}.{name}" if path else name))
        elif not _same_value(va, vb):
            out.append(f"{path}.{key}: {va!r} != {vb!r}")
    return out


def _same_value(a, b) -> bool:
    try:
        return bool(a == b) and type(a).__name__ == type(b).__name__
    except (TypeError, ValueError, RuntimeError):
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference", help="network pickle written by NVlabs' training loop")
    p.add_argument("state", help="torch file {G, G_ema, D}: their state dicts")
    p.add_argument("expected", help="torch file with their outputs")
    p.add_argument("--repository", required=True, choices=sorted(REPOSITORIES))
    p.add_argument("--out", required=True, help="fixture path without suffix")
    p.add_argument("--num-fp16-res", type=int, default=4, help="the reference's num_fp16_res (a flag in the records)")
    args = p.parse_args(argv)

    ckpt = load_checkpoint(args.reference)
    raw = torch.load(args.state, weights_only=True)
    source = ckpt.meta["source"]
    data = snapshot(ckpt.config, raw, args.repository, training_set_kwargs=source["training_set_kwargs"],
                    augment_p=source["augment_p"], num_fp16_res=args.num_fp16_res)
    with open(args.reference, "rb") as f:
        reference = load_restricted(f)
    problems = [d for key in ("G", "D", "G_ema") for d in layout_differences(data[key], reference[key], key)]
    if problems:
        print("the written records differ from the reference:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    out = Path(args.out)
    write_network_pickle(out.with_suffix(".pkl"), data)
    expected = torch.load(args.expected, weights_only=True)
    expected["config"] = ckpt.config.to_dict()
    torch.save(expected, out.parent / f"{out.name}-expected.pt")
    print(f"wrote {out.with_suffix('.pkl')} ({out.with_suffix('.pkl').stat().st_size / 1e3:.0f} kB) and its expected outputs; "
          "record layout identical to the reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
