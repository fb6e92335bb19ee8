"""`freezeg stylize`: a new style from 1 to 10 reference pictures, the frozen layers keeping the structure."""

from __future__ import annotations

import argparse
import logging

from ..inversion.distances import make_distance
from ..models.checkpoint import load_generator
from ..stylize import StylizeOptions, stylize_run
from ..stylize.fewshot import LOSSES
from ..utils.devices import resolve_device
from ..utils.precision import resolve_precision
from .common import add_common, add_inversion, add_precision_argument, make_inversion
from .inspect import add_coarse_rgb_option

log = logging.getLogger("freezeg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stylize", help="a new target from 1 to 10 pictures of a style (few-shot, frozen coarse blocks)",
                       description="Project each reference with the source generator, then fine-tune only the top "
                                   "--freeze-g blocks so that latents mixing a reference's coarse layers with random "
                                   "fine ones render that reference. Writes a run folder whose checkpoint works "
                                   "wherever a target is taken (translate, pairs, mix, serve).")
    p.add_argument("references", nargs="+", metavar="REF", help="1 to 10 pictures of one style")
    p.add_argument("--source", required=True, help="source generator checkpoint (or run folder)")
    p.add_argument("--out", required=True, help="run folder, e.g. runs/NAME")
    defaults = StylizeOptions()
    p.add_argument("--freeze-g", type=int, help="train only the top N resolution blocks (default: the top half)")
    p.add_argument("--steps", type=int, default=defaults.steps, help=f"fine-tuning steps (default {defaults.steps})")
    p.add_argument("--batch", type=int, default=defaults.batch, help=f"mixed latents per step (default {defaults.batch})")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 0.004 with --loss pixel, else 0.002)")
    p.add_argument("--loss", choices=LOSSES, default=defaults.loss,
                   help="d-features: L1 between the source discriminator's features (default; needs its d); "
                        "pixel: L1 + MSE; lpips: needs --lpips-vgg/--lpips-lin")
    p.add_argument("--preserve-color", action="store_true", help="the loss sees luminance only: colours stay the source's")
    add_coarse_rgb_option(p, "train")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the mixed latents")
    p.add_argument("--ckpt-every", type=int, help="checkpoint interval (default: a third of the steps)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--resume", action="store_true", help="continue the run in --out")
    which.add_argument("--overwrite", action="store_true", help="start over in a folder that holds a run")
    add_inversion(p, prefix="project-")
    add_precision_argument(p)
    add_common(p)
    p.set_defaults(func=run_stylize)


def run_stylize(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision or "auto", device)
    options = StylizeOptions(freeze_g=args.freeze_g, steps=args.steps, batch=args.batch, lr=args.lr, loss=args.loss,
                             preserve_color=args.preserve_color, coarse_rgb=args.coarse_rgb == "train", seed=args.seed,
                             precision=precision)
    lpips = None
    if args.loss == "lpips":
        lpips = make_distance("lpips", device=device, lpips_vgg=args.project_lpips_vgg, lpips_lin=args.project_lpips_lin)
    source = load_generator(args.source, device=device).eval()
    inversion = make_inversion(args, device, source, prefix="project-")
    path = stylize_run(args.references, args.source, args.out, options, inversion, device, resume=args.resume,
                       overwrite=args.overwrite, lpips=lpips, ckpt_every=args.ckpt_every, progress=not args.quiet)
    log.info("done: %s (use it as --target)", path)
    return 0
