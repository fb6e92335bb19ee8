"""`freezeg sweep`: one fine-tune per freeze setting, measured side by side, and a recommendation."""

from __future__ import annotations

import argparse
import logging

from ..models.checkpoint import load_generator
from ..sweep import SweepPlan, format_table, parse_levels, run_sweep, settings_grid
from ..sweep.plan import parse_coarse_rgb
from ..train.options import TrainOptions
from ..train.signals import StopRequested
from ..utils.devices import resolve_device
from .common import add_common, add_inversion, make_inversion
from .train import EXIT_STOPPED, add_training_groups, given_options

log = logging.getLogger("freezeg")

# A sweep measures every setting itself at the end, and keeps one checkpoint per setting.
SWEEP_DEFAULTS = {"eval_images": 0, "keep": 1}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="fine-tune once per freeze level, measure each, recommend one",
        description="Fine-tune the checkpoint on DATA once per freeze setting (every combination of the "
                    "--freeze-g and --freeze-d levels) with the same steps, batch and seed; measure each for "
                    "realism against DATA (SWD; KID and FID with the FID Inception weights), structure "
                    "preservation between source and fine-tuned renderings of the same latents (LPIPS too "
                    "with its weights) and, with --pairs, translation error against the ground truth. "
                    "Writes sweep.json, sweep.csv, sweep.svg, pairs.png (and translations.png), prints a "
                    "table and a recommendation. Rerunning continues where it stopped.")
    p.add_argument("data", help="target-domain images: folder, zip or prepared dataset")
    p.add_argument("--from", dest="source", required=True, help="pretrained checkpoint every setting starts from")
    p.add_argument("--freeze-g", required=True, metavar="LEVELS",
                   help="FreezeG levels, e.g. 0,1,2,3: N trains only the top N resolution blocks of G; "
                        "0 freezes nothing (the full fine-tune)")
    p.add_argument("--freeze-d", metavar="LEVELS",
                   help="FreezeD levels, e.g. 0,2: K trains only the last K D blocks and the head; "
                        "0 freezes nothing (default: nothing frozen, and no d in the setting names)")
    p.add_argument("--coarse-rgb", default="freeze", metavar="MODES",
                   help="the toRGB layers of G's frozen blocks: freeze (default), train, or freeze,train to sweep "
                        "both (settings named g2 and g2-rgb)")
    p.add_argument("--out", required=True, help="sweep folder, e.g. runs/sweep (one run folder per setting inside)")
    p.add_argument("--overwrite", action="store_true", help="start over: retrain and remeasure every setting")
    m = p.add_argument_group("measuring")
    m.add_argument("--pairs", nargs=2, metavar=("SRC_DIR", "TGT_DIR"),
                   help="paired test images: source-domain images and their true target renderings, same names; "
                        "the source images are projected once with the source generator")
    m.add_argument("--n", type=int, help="images per set for realism (default: DATA's, at most 1000)")
    m.add_argument("--kid-subset-size", type=int, help="images per KID subset (default: half of --n, at most 1000)")
    m.add_argument("--structure-seeds", type=int, default=64,
                   help="latents rendered by source and fine-tuned generators for structure/LPIPS (default 64)")
    m.add_argument("--grid-seeds", type=int, default=8, help="latents in pairs.png (default 8)")
    m.add_argument("--tolerance", type=float, default=0.10,
                   help="recommend the most frozen setting whose realism is within this share of the best (default 0.1)")
    m.add_argument("--inception", metavar="PATH", help="FID Inception weights for KID/FID "
                                                      "(default: $FREEZEG_INCEPTION, then the torch hub cache; else not computed)")
    m.add_argument("--swd-only", action="store_true", help="skip KID/FID even when the Inception network is available")
    m.add_argument("--lpips-vgg", metavar="PATH", help="LPIPS VGG16 weights (default: $FREEZEG_LPIPS_VGG, the hub cache)")
    m.add_argument("--lpips-lin", metavar="PATH", help="LPIPS linear layers (default: $FREEZEG_LPIPS_LIN, the lpips package)")
    add_inversion(p, prefix="project-")
    add_training_groups(p)
    add_common(p)
    p.set_defaults(func=run_sweep_command)


def plan_from_args(args: argparse.Namespace) -> SweepPlan:
    """The sweep the command line asks for (nothing is read or checked here but the flags)."""
    if args.steps is None:
        raise ValueError("give --steps N: every setting fine-tunes for N iterations")
    settings = settings_grid(parse_levels(args.freeze_g, "--freeze-g"),
                             parse_levels(args.freeze_d, "--freeze-d") if args.freeze_d is not None else None,
                             parse_coarse_rgb(args.coarse_rgb))
    train = TrainOptions(out=args.out, **{**SWEEP_DEFAULTS, **given_options(args)})
    inversion = None
    if args.pairs:
        device = resolve_device(args.device)
        # An --project-init encoder is checked against the source it will start projections in.
        source = load_generator(args.source, device=device).eval() if args.project_init else None
        inversion = make_inversion(args, device, source, prefix="project-")
    return SweepPlan(data=args.data, source=args.source, out=args.out, settings=settings, train=train, n=args.n,
                     kid_subset_size=args.kid_subset_size, structure_seeds=args.structure_seeds,
                     grid_seeds=args.grid_seeds, pairs=tuple(args.pairs) if args.pairs else None, inversion=inversion,
                     tolerance=args.tolerance, inception=args.inception, swd_only=args.swd_only, lpips_vgg=args.lpips_vgg,
                     lpips_lin=args.lpips_lin)


def run_sweep_command(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    try:
        result = run_sweep(plan, overwrite=args.overwrite, progress=not args.quiet)
    except StopRequested as e:
        log.warning("%s; rerun the same command to continue the sweep", e)
        return EXIT_STOPPED
    print(format_table(result.rows, result.not_computed))
    rec = result.recommendation
    print(f"recommended: {rec['setting']} ({rec['rule']})")
    print("wrote " + ", ".join(str(p) for p in result.paths.values()))
    return 0
