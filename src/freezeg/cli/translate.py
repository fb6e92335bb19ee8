"""`freezeg translate` and `freezeg mix`: translation (project with the source, render with the target) and
style mixing."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..generate.blend import check_compatible
from ..inversion.latents import load_latent
from ..inversion.pipeline import Inversion
from ..inversion.pivotal import PivotalTuner, TuningOptions, shared_blocks
from ..models.checkpoint import load_checkpoint, load_generator
from ..translate import (
    FolderTranslation,
    StyleMix,
    collect_inputs,
    layer_index,
    mix_grid,
    project_style_image,
    seed_style,
)
from ..utils.devices import resolve_device
from ..utils.media import save_image
from .common import (
    add_align,
    add_common,
    add_inversion,
    add_outputs,
    aligned_inputs,
    check_align,
    check_any,
    check_output,
    finish_report,
    make_inversion,
    parse_seeds,
)

log = logging.getLogger("freezeg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="translate images, folders or videos: project with source, render with target",
                       description="Project each input with the source generator (or reuse its saved latent), render "
                                   "it with the target generator. Writes translations, source | reconstruction | "
                                   "translation panels, fidelity.json and summary.html; a rerun skips finished inputs. "
                                   "Videos are translated frame by frame, each frame warm-started from the last.")
    p.add_argument("inputs", nargs="+", metavar="INPUTS", help="images, latent files (.pt), videos (.gif/.mp4) or folders")
    p.add_argument("--source", required=True, help="source generator checkpoint (inverts the inputs)")
    p.add_argument("--target", required=True, help="fine-tuned target generator checkpoint (renders them)")
    p.add_argument("--warm-steps", type=int, help="steps per video frame after the first (default: --steps / 3)")
    add_outputs(p, "inputs")
    add_align(p, paste=True)
    _add_style(p)
    add_inversion(p)
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
    add_inversion(p)
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


def run_translate(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    inputs = collect_inputs(args.inputs)
    check_any(inputs)
    if args.paste_back and args.align != "faces":
        raise ValueError("--paste-back needs --align faces")
    check_align(args)
    source = load_generator(args.source, device=device).eval()
    target_ckpt = load_checkpoint(args.target)
    target = load_generator(target_ckpt, device=device).eval()
    inputs = aligned_inputs(args, inputs, source.size)
    inversion = make_inversion(args, device, source)
    tuner = _tuner(args, source, target, target_ckpt.meta, inversion)
    style = _style(args, source, inversion, not args.quiet)
    run = FolderTranslation(source, args.out, inversion, target=target, style=style, tuner=tuner, overwrite=args.overwrite,
                            poor_psnr=args.poor_psnr, source_path=args.source, target_path=args.target,
                            progress=not args.quiet, paste=args.paste_back)
    finish_report(args, run.run(inputs), "translated")
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
    inversion = make_inversion(args, device, source)
    mix_from = layer_index(args.mix_from, source) if args.mix_from is not None else source.num_ws // 2
    progress = not args.quiet
    contents = _latents_of(args.content, args.content_seeds, source, inversion, args.truncation, "content", progress)
    styles = _latents_of(args.styles, args.style_seeds, source, inversion, args.truncation, "style", progress)
    grid = mix_grid(render_g, contents, styles, mix_from, args.mix_strength)
    save_image(grid, out)
    log.info("wrote %s (%d contents x %d styles, ws[:, %d:] from the styles at strength %g)",
             out, len(contents), len(styles), mix_from, args.mix_strength)
    return 0
