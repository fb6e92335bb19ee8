"""`freezeg project`: GAN inversion of images into a generator's latent space."""

from __future__ import annotations

import argparse

from ..models.checkpoint import load_generator
from ..translate import FolderTranslation, collect_inputs
from ..utils.devices import resolve_device
from .common import (
    add_align,
    add_common,
    add_inversion,
    add_outputs,
    aligned_inputs,
    check_align,
    check_any,
    finish_report,
    make_inversion,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="project images into a generator's latent space (GAN inversion)",
                       description="Find the latent (W or W+) and noise maps with which the generator reproduces "
                                   "each image. Writes DIR/latents/NAME.pt, DIR/reconstructions/NAME.png and "
                                   "DIR/fidelity.json; a rerun skips images already done.")
    p.add_argument("images", nargs="+", metavar="IMAGES", help="image files or folders")
    p.add_argument("--ckpt", required=True, help="generator checkpoint to invert")
    add_outputs(p, "images")
    add_align(p, paste=False)
    add_inversion(p)
    add_common(p)
    p.set_defaults(func=run_project)


def run_project(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    inputs = collect_inputs(args.images, kinds=("image",))
    check_any(inputs)
    check_align(args)
    g = load_generator(args.ckpt, device=device).eval()
    inputs = aligned_inputs(args, inputs, g.size)
    run = FolderTranslation(g, args.out, make_inversion(args, device, g), overwrite=args.overwrite,
                            poor_psnr=args.poor_psnr, source_path=args.ckpt, progress=not args.quiet)
    finish_report(args, run.run(inputs), "projected")
    return 0
