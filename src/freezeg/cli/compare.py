"""`freezeg pairs`, `freezeg interpolate` and `freezeg blend`: source vs target generators."""

from __future__ import annotations

import argparse
import logging

import torch

from ..generate.blend import blend_blocks, blend_weights
from ..generate.compare import interpolation_frames, pair_grid, seed_ws
from ..generate.sampling import seed_latent
from ..inversion.latents import latent_files, load_latent
from ..models.checkpoint import load_checkpoint, load_generator, save_checkpoint
from ..utils.devices import resolve_device
from ..utils.media import save_image
from ..utils.video import VIDEO_SUFFIXES, write_video
from .common import add_common, check_output, parse_seeds

log = logging.getLogger("freezeg")


def _add_pair_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True, help="source generator checkpoint (its mapping makes the w)")
    p.add_argument("--target", required=True, help="fine-tuned target generator checkpoint")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi (default 1: none)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pairs", help="the same latents through source and target: a pair grid",
                       description="For each seed, the source image above the target image (same w, same noise).")
    _add_pair_inputs(p)
    p.add_argument("--seeds", default="0-15", help="seeds, e.g. 0-31 or 1,5,9 (default 0-15)")
    p.add_argument("--columns", type=int, default=8, help="pairs per row (default 8)")
    p.add_argument("--out", required=True, help="output image (PNG/JPEG)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_common(p)
    p.set_defaults(func=run_pairs)

    p = sub.add_parser("interpolate", help="a looping source | target animation through key latents",
                       description="A closed loop through seeds (slerp in z or lerp in w), "
                                   "source and target side by side, as GIF or MP4.")
    _add_pair_inputs(p)
    keys = p.add_mutually_exclusive_group(required=True)
    keys.add_argument("--seeds", help="key seeds, e.g. 1,5,9")
    keys.add_argument("--latents", nargs="+", metavar="F",
                      help="key latent files (from `freezeg project`/`translate`), or folders of them; lerp in w")
    p.add_argument("--space", choices=["z", "w"], help="with --seeds: slerp in z (default) or lerp in w")
    p.add_argument("--frames", type=int, default=60, help="frames in the whole loop (default 60)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--noise-seed", type=int, default=0, help="seed of the noise maps, fixed for the loop")
    p.add_argument("--out", required=True, help=f"output animation ({', '.join(VIDEO_SUFFIXES)})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_common(p)
    p.set_defaults(func=run_interpolate)

    p = sub.add_parser("blend", help="layer swapping and network interpolation of source and target",
                       description="A new generator mixed from the source and the target, saved as a normal "
                                   "checkpoint. --swap-at: blocks below RES come from the source, the rest from the "
                                   "target (layer swapping). --share A: every block (or every block from --swap-at "
                                   "on) takes A of the target's weights and 1-A of the source's, a weaker "
                                   "fine-tune of the same shapes (network interpolation). The mapping network is "
                                   "the source's, so latents projected with the source stay valid.")
    p.add_argument("--source", required=True, help="generator for the coarse blocks and the mapping")
    p.add_argument("--target", required=True, help="generator for the fine blocks")
    p.add_argument("--swap-at", type=int, default=None, metavar="RES", help="first resolution taken from the target")
    p.add_argument("--width", type=float, default=0.0,
                   help="smooth blend: sigmoid width in octaves (0: hard swap, default)")
    p.add_argument("--share", type=float, default=None, metavar="A",
                   help="the target's share of the weights, 0-1 (default 1: the target's blocks as they are)")
    p.add_argument("--out", required=True, help="output checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_common(p)
    p.set_defaults(func=run_blend)


def _load_pair(args: argparse.Namespace):
    device = resolve_device(args.device)
    source = load_generator(args.source, device=device).eval()
    target = load_generator(args.target, device=device).eval()
    return source, target


def run_pairs(args: argparse.Namespace) -> int:
    out = check_output(args.out, args.overwrite)
    seeds = parse_seeds(args.seeds)
    if args.columns < 1:
        raise ValueError("--columns must be at least 1")
    source, target = _load_pair(args)
    grid = pair_grid(source, target, seeds, truncation=args.truncation, columns=args.columns)
    save_image(grid, out)
    log.info("wrote %s (%d pairs)", out, len(seeds))
    return 0


def run_interpolate(args: argparse.Namespace) -> int:
    out = check_output(args.out, args.overwrite)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"{out}: unknown animation format (use {', '.join(VIDEO_SUFFIXES)})")
    if args.frames < 1:
        raise ValueError("--frames must be at least 1")
    if args.latents and args.space == "z":
        raise ValueError("--latents are W/W+ latents: they interpolate in w (drop --space z)")
    source, target = _load_pair(args)
    key_noise = None
    with torch.no_grad():
        if args.latents:
            space = "w"
            latents = [load_latent(path, source) for path in latent_files(args.latents)]
            keys = torch.stack([lat.ws for lat in latents])  # [K, num_ws, D]
            if all(lat.noise is not None for lat in latents):
                key_noise = [torch.cat(maps) for maps in zip(*(lat.noise for lat in latents))]
        else:
            space = args.space or "z"
            seeds = parse_seeds(args.seeds)
            if space == "z":
                keys = torch.cat([seed_latent(s, source.style_dim) for s in seeds])
            else:
                keys = seed_ws(source, seeds, args.truncation)[:, 0]
        frames = interpolation_frames(source, target, keys, args.frames, space=space,
                                      truncation=args.truncation, noise_seed=args.noise_seed, key_noise=key_noise)
    write_video(frames, out, fps=args.fps)
    log.info("wrote %s (%d frames at %g fps)", out, len(frames), args.fps)
    return 0


def run_blend(args: argparse.Namespace) -> int:
    if args.swap_at is None and args.share is None:
        raise ValueError("blend needs --swap-at RES (layer swapping), --share A (interpolation), or both")
    if args.swap_at is None and args.width:
        raise ValueError("--width smooths the cut at --swap-at: give --swap-at too")
    share = 1.0 if args.share is None else args.share
    out = check_output(args.out, args.overwrite)
    device = resolve_device(args.device)
    source = load_generator(args.source, device=device).eval()
    target_ckpt = load_checkpoint(args.target)
    target = load_generator(target_ckpt, device=device).eval()
    shares = blend_weights(source.config.resolutions, args.swap_at, args.width, share)
    blended = blend_blocks(source, target, shares)
    meta = {"blend": {"source": args.source, "target": args.target, "swap_at": args.swap_at, "width": args.width,
                      "share": share, "target_share": {str(r): a for r, a in shares.items()}}}
    if freeze := target_ckpt.meta.get("freeze"):
        # blocks the target kept frozen are the source's bit for bit in the blend too (lerp of equal
        # values), so pivotal tuning can still share them
        meta["freeze"] = freeze
    save_checkpoint(out, g_ema=blended.cpu(), meta=meta)
    log.info("wrote %s (target share per block: %s)", out,
             ", ".join(f"{r}px {a:.2f}" for r, a in shares.items()))
    return 0
