"""`freezeg inspect` (what a checkpoint holds) and `freezeg freeze-plan` (what would train)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import torch

from ..models.checkpoint import Checkpoint, build_discriminator, build_generator, load_checkpoint
from ..models.freeze import FreezeSpec, format_plan, freeze_plan
from ..models.networks import Discriminator, Generator, ModelConfig
from .common import add_common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show what a checkpoint holds", description=__doc__)
    p.add_argument("ckpt", help="checkpoint file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(p)
    p.set_defaults(func=run_inspect)

    p = sub.add_parser(
        "freeze-plan",
        help="show which blocks a freeze spec trains",
        description="Each block of G and D with its resolution, parameter count and trained/frozen state.",
    )
    p.add_argument("--ckpt", help="checkpoint whose config to use (or give --size)")
    p.add_argument("--size", type=int, help="model size when no --ckpt is given")
    p.add_argument("--style-dim", type=int, default=512)
    p.add_argument("--n-mlp", type=int, default=8)
    p.add_argument("--channel-multiplier", type=int, default=2)
    add_freeze_options(p)
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    add_common(p)
    p.set_defaults(func=run_freeze_plan)


def add_freeze_options(p: argparse.ArgumentParser) -> None:
    """The freeze spec flags, shared with `finetune`."""
    p.add_argument("--freeze-g", "--finetune-loc", dest="freeze_g", type=int, metavar="N",
                   help="FreezeG: train only the top N resolution blocks of G (finetune_loc N); 0: nothing frozen")
    p.add_argument("--freeze-d", dest="freeze_d", type=int, metavar="K",
                   help="FreezeD: train only the last K discriminator blocks and the head; 0: nothing frozen")
    p.add_argument("--freeze-mapping", action="store_true", help="freeze the mapping network")
    p.add_argument("--freeze-styles", metavar="A-B", help="freeze the style affines of w layers A..B")
    add_coarse_rgb_option(p, "freeze")


def add_coarse_rgb_option(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--coarse-rgb", choices=("freeze", "train"), default=default,
                   help="the toRGB layers of G's frozen blocks: frozen with them, or trained (they only colour the "
                        f"output, so the frozen blocks still keep the geometry; default {default})")


def freeze_spec_from_args(args: argparse.Namespace) -> FreezeSpec:
    return FreezeSpec.from_args(args.freeze_g, args.freeze_d, args.freeze_mapping, args.freeze_styles,
                                args.coarse_rgb == "train")


def step_of(ckpt: Checkpoint) -> tuple[int | None, str]:
    """The training step: freezeg metadata, else a rosinality file name such as 010000.pt."""
    if ckpt.step is not None:
        return int(ckpt.step), "metadata"
    m = re.fullmatch(r"0*(\d+)", Path(ckpt.path).stem)
    if m:
        return int(m.group(1)), "file name"
    return None, "unknown"


def describe(ckpt: Checkpoint) -> dict:
    """Everything `inspect` reports; building the networks also checks that the tensors fit."""
    size = Path(ckpt.path).stat().st_size if Path(ckpt.path).exists() else None
    info: dict = {"file": ckpt.path, "bytes": size, "format": ckpt.format, "parts": list(ckpt.parts)}
    info["config"] = ckpt.config.to_dict() if ckpt.config else None
    builders = {"g": build_generator, "g_ema": build_generator, "d": build_discriminator}
    info["params"] = {
        k: sum(p.numel() for p in build(ckpt, k).parameters()) for k, build in builders.items() if ckpt.has(k)
    }
    for key in ("g_optim", "d_optim"):
        if ckpt.has(key):
            state = ckpt.parts[key].get("state", {})
            steps = [int(s["step"]) for s in state.values() if "step" in s]
            group = (ckpt.parts[key].get("param_groups") or [{}])[0]
            info[key] = {"tensors": len(state), "adam_step": max(steps) if steps else 0, "lr": group.get("lr")}
    if "ada_aug_p" in ckpt.parts:
        info["ada_aug_p"] = float(ckpt.parts["ada_aug_p"])
    if "latent_avg" in ckpt.parts:
        info["latent_avg"] = list(ckpt.parts["latent_avg"].shape)
    args = ckpt.parts.get("args")
    if args is not None:
        info["args"] = {k: v for k, v in (vars(args) if hasattr(args, "__dict__") else dict(args)).items()
                        if isinstance(v, (int, float, str, bool, type(None)))}
    info["step"], info["step_source"] = step_of(ckpt)
    info["metadata"] = {k: _summarized(v) for k, v in ckpt.meta.items() if k != "config"}
    return info


def _summarized(value):
    """Metadata with its tensors (e.g. a shipped file's reference renderings) shown by shape, not printed."""
    if isinstance(value, torch.Tensor):
        return f"tensor{list(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, dict):
        return {k: _summarized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_summarized(v) for v in value]
    return value


def format_description(info: dict) -> str:
    lines = [f"file:      {info['file']} ({info['bytes'] / 1e6:.1f} MB)" if info["bytes"] else f"file:      {info['file']}"]
    lines.append(f"format:    {info['format']}")
    lines.append(f"parts:     {', '.join(info['parts'])}")
    c = info["config"]
    if c:
        table = " ".join(f"{r}:{n}" for r, n in c["channels"].items())
        lines.append(
            f"config:    size {c['size']}, style_dim {c['style_dim']}, n_mlp {c['n_mlp']}, "
            f"lr_mlp {c['lr_mlp']}, blur {c['blur_kernel']}"
        )
        lines.append(f"channels:  {table}")
        clamp, group = c.get("conv_clamp"), c.get("mbstd_group", 4)
        lines.append(
            f"settings:  conv_clamp {'none' if clamp is None else f'{clamp:g}'}, "
            f"D minibatch-stddev group {'batch' if group is None else group} x {c.get('mbstd_channels', 1)} channels"
        )
    for k, n in info["params"].items():
        lines.append(f"params:    {k:<6} {n:>12,}")
    for k in ("g_optim", "d_optim"):
        if k in info:
            o = info[k]
            lines.append(f"optimizer: {k} {o['tensors']} tensors, Adam step {o['adam_step']}, lr {_number(o['lr'])}")
    if "ada_aug_p" in info:
        lines.append(f"ada_aug_p: {info['ada_aug_p']:.4f}")
    if "latent_avg" in info:
        lines.append(f"latent_avg: {info['latent_avg']}")
    step = info["step"]
    lines.append(f"step:      {step if step is not None else '-'}" + (f" (from {info['step_source']})" if step is not None else ""))
    if "args" in info:
        lines.append("args:      " + ", ".join(f"{k}={v}" for k, v in info["args"].items()))
    for k, v in info["metadata"].items():
        lines.append(f"meta:      {k} = {v}")
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> int:
    info = describe(load_checkpoint(args.ckpt))
    print(json.dumps(info, indent=2, default=str) if args.json else format_description(info))
    return 0


def run_freeze_plan(args: argparse.Namespace) -> int:
    spec = freeze_spec_from_args(args)
    if args.ckpt:
        ckpt = load_checkpoint(args.ckpt)
        g = build_generator(ckpt) if any(ckpt.has(k) for k in ("g", "g_ema")) else Generator(ckpt.config)
        d = build_discriminator(ckpt) if ckpt.has("d") else Discriminator(g.config)
    elif args.size:
        config = ModelConfig(args.size, args.style_dim, args.n_mlp, args.channel_multiplier)
        g, d = Generator(config), Discriminator(config)
    else:
        raise ValueError("freeze-plan needs --ckpt or --size")
    rows = freeze_plan(g, d, spec)
    if args.json:
        print(json.dumps([{**r.__dict__, "state": r.state} for r in rows], indent=2))
    else:
        print(format_plan(rows, spec))
    return 0


def _number(x) -> str:
    return "?" if x is None else f"{x:.6g}"
