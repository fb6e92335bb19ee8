"""`freezeg encoder train` and `freezeg bench-inversion`: the encoder for instant starts, and the
harness that measures inversion quality, speed and translation."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import open_dataset
from ..data.images import fit_square, list_images, read_image
from ..inversion.distances import DISTANCES, make_distance
from ..inversion.encoder import load_encoder
from ..inversion.encoder_training import EncoderTrainingOptions, train_encoder
from ..inversion.harness import DEFAULT_RUNS, HarnessSetup, format_harness, parse_runs, run_harness
from ..inversion.pivotal import TuningOptions, shared_blocks
from ..metrics.inception import inception_if_available
from ..models.checkpoint import load_checkpoint, load_generator
from ..utils.devices import resolve_device
from ..utils.files import write_json
from ..utils.media import from_uint8
from ..utils.precision import resolve_precision
from .common import add_common, add_precision_argument, check_output

log = logging.getLogger("freezeg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encoder", help="an encoder that guesses latents from images (instant projection starts)",
                       description="Train an encoder on images the source generator renders (self-supervised: "
                                   "sample w, render, regress W+ and optionally the noise maps), for "
                                   "`project/translate --init ENC.pt`.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    t = actions.add_parser("train", help="train (or --resume) an encoder for a source generator",
                           description="Each step renders a batch of latents with the source generator (random "
                                       "style mixing and per-layer jitter, fresh noise), augments the images and "
                                       "regresses the latents, plus the rendering of the prediction against the "
                                       "image. Progress is saved to --out every --save-every steps; --resume "
                                       "continues from there.")
    t.add_argument("--ckpt", required=True, help="source generator checkpoint (or run folder)")
    t.add_argument("--out", required=True, metavar="ENC.pt", help="encoder file to write")
    defaults = EncoderTrainingOptions()
    t.add_argument("--steps", type=int, default=defaults.steps, help=f"training steps (default {defaults.steps})")
    t.add_argument("--batch", type=int, default=defaults.batch, help=f"images per step (default {defaults.batch})")
    t.add_argument("--lr", type=float, default=defaults.lr, help=f"Adam learning rate (default {defaults.lr})")
    t.add_argument("--width", type=int, default=defaults.width, help=f"channels at full resolution (default {defaults.width})")
    t.add_argument("--noise", action="store_true", help="also predict the noise maps")
    t.add_argument("--images", metavar="DIR", help="real images of the source domain (e.g. its training set): part of "
                                                  "every batch, trained on the rendering term only")
    t.add_argument("--real-share", type=float, default=defaults.real_share,
                   help=f"share of each batch from --images (default {defaults.real_share})")
    t.add_argument("--image-loss", type=float, default=defaults.image_loss,
                   help=f"weight of the rendered-prediction loss beside the latent loss (default {defaults.image_loss}; 0: latents only)")
    t.add_argument("--save-every", type=int, default=defaults.save_every, help=f"save progress every N steps (default {defaults.save_every})")
    t.add_argument("--seed", type=int, default=0, help="seed of the sampled latents and the initial weights")
    which = t.add_mutually_exclusive_group()
    which.add_argument("--resume", action="store_true", help="continue the training saved in --out")
    which.add_argument("--overwrite", action="store_true", help="start over, replacing --out")
    add_precision_argument(t)
    add_common(t)
    t.set_defaults(func=run_encoder_train)

    b = sub.add_parser("bench-inversion", help="inversion quality harness: PSNR/SSIM against steps and seconds, "
                                               "translation realism and structure",
                       description="Project held-out images with each run (RECIPE[+enc][+pt][@w|@w+]:STEPS) and "
                                   "report reconstruction (PSNR, SSIM, LPIPS when its weights exist) against steps "
                                   "and seconds, and, with --target, the translations' realism (KID with the FID "
                                   "Inception network when available, SWD always) and structure against the inputs.")
    b.add_argument("--ckpt", required=True, help="source generator checkpoint")
    b.add_argument("--images", required=True, help="held-out images of the source domain (folder)")
    b.add_argument("--n", type=int, default=16, help="use the first N images (default 16)")
    b.add_argument("--runs", default=DEFAULT_RUNS, help=f"comma-separated runs (default {DEFAULT_RUNS})")
    b.add_argument("--encoder", metavar="ENC.pt", help="encoder for +enc runs")
    b.add_argument("--target", help="fine-tuned target generator (translations, pivotal tuning)")
    b.add_argument("--target-images", help="real target-domain images: the realism reference")
    b.add_argument("--n-target", type=int, default=1000, help="use at most N target images (default 1000)")
    b.add_argument("--truth", help="ground-truth translations of --images (same file names), if they exist")
    b.add_argument("--generated", type=int, default=0, help="also run on N of the source generator's own images")
    b.add_argument("--batch", type=int, default=16, help="images projected together (default 16)")
    b.add_argument("--pt-steps", type=int, default=TuningOptions.steps, help="pivotal tuning steps of +pt runs")
    b.add_argument("--pt-lr", type=float, default=TuningOptions.lr, help="pivotal tuning learning rate")
    b.add_argument("--pt-mse", type=float, default=TuningOptions.mse, help="pivotal tuning's pixel MSE weight")
    b.add_argument("--loss", choices=list(DISTANCES), default="default", help="projection distance (default: default)")
    b.add_argument("--lpips-vgg", metavar="PATH", help="LPIPS VGG16 weights (LPIPS column; else looked for, else left out)")
    b.add_argument("--lpips-lin", metavar="PATH", help="LPIPS linear-layer weights")
    b.add_argument("--inception", metavar="PATH", help="FID Inception network (KID; default: the [fid] extra's, else SWD only)")
    b.add_argument("--swd-only", action="store_true", help="skip KID even when the Inception network is available")
    b.add_argument("--threads", type=int, help="torch CPU threads")
    b.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    b.add_argument("--out", metavar="FILE.json", help="also write the result to this JSON file")
    b.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_precision_argument(b)
    add_common(b)
    b.set_defaults(func=run_bench_inversion)


def run_encoder_train(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    g = load_generator(args.ckpt, device=device).eval()
    options = EncoderTrainingOptions(steps=args.steps, batch=args.batch, lr=args.lr, width=args.width, noise=args.noise,
                                     image_loss=args.image_loss, save_every=args.save_every, seed=args.seed,
                                     real_share=args.real_share,
                                     precision=resolve_precision(args.precision or "auto", device))
    real = open_dataset(args.images, g.size) if args.images else None
    report = train_encoder(g, args.out, options, source_path=args.ckpt, real=real, resume=args.resume,
                           overwrite=args.overwrite, progress=not args.quiet)
    log.info("%s", report)
    return 0


def _read_folder(folder: str, size: int, limit: int) -> tuple[list[str], np.ndarray]:
    root = Path(folder)
    files = list_images(root) if root.is_dir() else []
    if not files:
        raise ValueError(f"{folder}: no images (PNG, JPEG, WebP or BMP)")
    files = sorted(files)[:limit]
    names = [p.relative_to(root).with_suffix("").as_posix() for p in files]
    return names, np.stack([fit_square(read_image(p), size) for p in files])


def _truth(folder: str, names: list[str], size: int) -> torch.Tensor:
    keyed = {p.relative_to(folder).with_suffix("").as_posix(): p for p in list_images(folder)}
    missing = [n for n in names if n not in keyed]
    if missing:
        raise ValueError(f"{folder}: no ground truth for {missing[0]} ({len(missing)} of {len(names)} missing)")
    return from_uint8(np.stack([fit_square(read_image(keyed[n]), size) for n in names]))


def run_bench_inversion(args: argparse.Namespace) -> int:
    if args.out:
        check_output(args.out, args.overwrite)
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = parse_runs(args.runs)
    device = resolve_device(args.device)
    source = load_generator(args.ckpt, device=device).eval()
    names, images = _read_folder(args.images, source.size, args.n)
    setup = HarnessSetup(source, make_distance(args.loss, device=device, lpips_vgg=args.lpips_vgg, lpips_lin=args.lpips_lin,
                                               inception=args.inception), batch=args.batch, loss=args.loss,
                         tuning=TuningOptions(steps=args.pt_steps, lr=args.pt_lr, mse=args.pt_mse),
                         precision=resolve_precision(args.precision or "auto", device))
    if any(r.encoder for r in runs):
        if not args.encoder:
            raise ValueError("--runs with +enc need --encoder ENC.pt (make one with `freezeg encoder train`)")
        setup.encoder = load_encoder(args.encoder, source, device=device)
    notes = []
    try:
        setup.lpips = make_distance("lpips", device=device, lpips_vgg=args.lpips_vgg, lpips_lin=args.lpips_lin)
    except ValueError as e:
        notes.append(f"LPIPS left out: {e}")
    target_images = truth = None
    if args.target:
        target_ckpt = load_checkpoint(args.target)
        setup.target = load_generator(target_ckpt, device=device).eval()
        if any(r.pivotal for r in runs):
            setup.shared = shared_blocks(source, setup.target, target_ckpt.meta.get("freeze"), (args.ckpt, args.target))
        if args.target_images:
            ds = open_dataset(args.target_images, source.size)
            target_images = ds.batch(np.arange(min(len(ds), args.n_target)))
        if not args.swd_only:
            setup.inception, missing = inception_if_available(args.inception, device)
            if missing:
                notes.append(f"KID left out (SWD instead): {missing}")
        if args.truth:
            truth = _truth(args.truth, names, source.size)
    elif any(r.pivotal for r in runs):
        raise ValueError("--runs with +pt need --target (a FreezeG fine-tune of --ckpt)")
    result = run_harness(setup, runs, images, names, target_images, truth, generated=args.generated,
                         progress=not args.quiet)
    result.update({"ckpt": args.ckpt, "images_from": args.images, "target": args.target, "target_images": args.target_images,
                   "truth": args.truth, "encoder": args.encoder, "threads": torch.get_num_threads(),
                   "pt": {"steps": args.pt_steps, "lr": args.pt_lr, "mse": args.pt_mse}, "precision": setup.precision,
                   "notes": notes})
    print(json.dumps(result, indent=1) if args.json else format_harness(result) + "".join(f"\nnote: {n}" for n in notes))
    if args.out:
        write_json(args.out, result)
    return 0
