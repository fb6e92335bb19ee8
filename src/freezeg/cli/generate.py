"""`freezeg generate`: images from seeds, as one grid or one file per seed."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from ..generate.sampling import seeded_images
from ..models.checkpoint import load_generator
from ..utils.devices import resolve_device
from ..utils.media import make_grid, save_image, to_uint8
from .common import add_common, check_output, parse_seeds

log = logging.getLogger("freezeg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate images from seeds", description=__doc__)
    p.add_argument("--ckpt", required=True, help="generator checkpoint (any supported format)")
    p.add_argument("--key", default="g_ema", help="which generator in the file (default: g_ema)")
    p.add_argument("--seeds", default="0-15", help="seeds, e.g. 0-15 or 1,5,9 (default: 0-15)")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi (default: 1, none)")
    p.add_argument("--noise-mode", default="random", choices=["random", "const", "none"],
                   help="random: noise drawn from the seed; const: the model's stored maps; none")
    p.add_argument("--batch", type=int, default=8, help="images per forward pass")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="write one grid image (PNG/JPEG)")
    out.add_argument("--out-dir", help="write one PNG per seed into this folder")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seeds = parse_seeds(args.seeds)
    if args.batch < 1:
        raise ValueError("--batch must be at least 1")
    if args.out:
        targets = [check_output(args.out, args.overwrite)]
    else:
        targets = [check_output(Path(args.out_dir) / f"seed{s:04d}.png", args.overwrite) for s in seeds]
    device = resolve_device(args.device)
    g = load_generator(args.ckpt, key=args.key, device=device).eval()
    with torch.no_grad():
        images = seeded_images(g, seeds, truncation=args.truncation, noise_mode=args.noise_mode, batch=args.batch)
    pixels = to_uint8(images)
    if args.out:
        save_image(make_grid(pixels), targets[0])
    else:
        for target, img in zip(targets, pixels):
            save_image(img, target)
    log.info("wrote %s", targets[0] if args.out else f"{len(targets)} images to {args.out_dir}")
    return 0
