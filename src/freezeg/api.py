"""freezeg for people: load, generate, project, translate, mix and fine-tune, with plain results.

Each function takes paths, PIL images or generators and returns PIL images, latents and
dataclasses, built from the same pieces the command line uses (`Inversion`, `render`,
`FolderTranslation`, `Trainer`), so a result here equals the CLI's for the same settings:

    import freezeg.api as fz
    source = fz.load("blobs32")                        # a shipped name, a file, a run folder or a .pkl
    result = fz.translate("photo.png", source, target)  # -> Translation(image, reconstruction, psnr, ...)
    result.image.save("cartoon.png")
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .generate.sampling import seeded_images
from .inversion.distances import make_distance
from .inversion.latents import Latent
from .inversion.pipeline import Inversion
from .inversion.recipes import recipe_options
from .models.checkpoint import load_generator
from .models.freeze import FreezeSpec
from .models.networks import Generator
from .models.shipped import resolve_model
from .train.loop import Trainer
from .train.options import TrainOptions
from .translate.inputs import collect_inputs, fit_to_model, read_target
from .translate.render import render
from .translate.run import FolderTranslation
from .translate.style import StyleMix, layer_index, seed_style
from .utils.devices import resolve_device
from .utils.media import from_uint8, to_uint8

ImageLike = Image.Image | np.ndarray | str | os.PathLike


def load(model: str | os.PathLike | Generator, device: str | torch.device = "cpu") -> Generator:
    """A generator (g_ema) in eval mode from a shipped name (`blobs32`), a checkpoint of any
    supported format (rosinality, freezeg, NVlabs `.pkl`), or a run folder (its newest checkpoint)."""
    device = resolve_device(device) if isinstance(device, str) else device
    if isinstance(model, Generator):
        return model.to(device).eval()
    return load_generator(model, device=device).eval()


def generate(g: Generator, seeds: list[int], truncation: float = 1.0) -> list[Image.Image]:
    """One image per seed (the same images as `freezeg generate --seeds ...`)."""
    return [Image.fromarray(a) for a in to_uint8(seeded_images(g, list(seeds), truncation))]


@dataclass
class Projection:
    """Where an image lies in a generator's latent space, and how well it is reconstructed there."""

    latent: Latent  # save with freezeg.inversion.latents.save_latent (a `freezeg project` latent file)
    reconstruction: Image.Image  # the generator's rendering of the latent
    psnr: float  # of the reconstruction against the input as the model saw it (dB)
    ssim: float
    note: str | None = None  # e.g. how the input was cropped or resized


@dataclass
class Translation(Projection):
    """A projection rendered by the fine-tuned generator."""

    image: Image.Image = field(default=None)  # the translation


def inversion(steps: int | None = None, space: str | None = None, recipe: str = "default",
              precision: str = "fp32") -> Inversion:
    """How images are projected: the default recipe (W+, 300 steps) unless told otherwise."""
    options = recipe_options(recipe, space=space, steps=steps)
    return Inversion(make_distance("default"), options=options, precision=precision)


def _as_input(image: ImageLike, size: int) -> tuple[np.ndarray, str | None]:
    if isinstance(image, (str, os.PathLike)):
        return read_target(image, size)
    pixels = np.array(image.convert("RGB") if isinstance(image, Image.Image) else image)  # a writable copy
    return fit_to_model(pixels, size, "image")


def project(image: ImageLike, g: Generator, steps: int | None = None, space: str | None = None,
            how: Inversion | None = None, progress: bool = False) -> Projection:
    """Project one image (a path, a PIL image or uint8 [H, W, 3]) into `g` (centre-cropped and
    resized to the model first, as `freezeg project` does)."""
    pixels, note = _as_input(image, g.size)
    how = how or inversion(steps, space)
    device = next(g.parameters()).device
    latents, images = how.project(g, from_uint8(pixels[None]).to(device), progress=progress)
    latent = latents[0]
    return Projection(latent, Image.fromarray(to_uint8(images)[0]), float(latent.fidelity["psnr"]),
                      float(latent.fidelity["ssim"]), note)


def _style(g: Generator, style: int | Latent | None, mix_from: str | int, strength: float) -> StyleMix | None:
    if style is None:
        return None
    latent = seed_style(g, style) if isinstance(style, int) else style
    label = f"seed {style}" if isinstance(style, int) else "latent"
    return StyleMix(latent.ws[None], layer_index(mix_from, g), float(strength), label)


def translate(image: ImageLike | Latent, source: Generator, target: Generator, steps: int | None = None,
              space: str | None = None, style: int | Latent | None = None, mix_from: str | int = "16px",
              strength: float = 1.0, how: Inversion | None = None, progress: bool = False) -> Translation:
    """Project `image` with the source generator and render the latent with the target (a Latent
    skips the projection). `style`: a seed or latent whose layers from `mix_from` on are mixed in."""
    if isinstance(image, Latent):
        p = Projection(image, Image.fromarray(render(source, [image])[0]), float(image.fidelity.get("psnr", "nan")),
                       float(image.fidelity.get("ssim", "nan")))
    else:
        p = project(image, source, steps, space, how, progress)
    drawn = render(target, [p.latent], _style(source, style, mix_from, strength))[0]
    return Translation(p.latent, p.reconstruction, p.psnr, p.ssim, p.note, image=Image.fromarray(drawn))


def translate_folder(inputs: list[str | os.PathLike], source: str | os.PathLike, target: str | os.PathLike,
                     out: str | os.PathLike, steps: int | None = None, space: str | None = None,
                     overwrite: bool = False, progress: bool = False):
    """`freezeg translate INPUTS --source S --target T --out OUT`: images, folders, latent files
    and videos; the output folder (translated/, panels/, latents/, fidelity.json, summary.html)
    resumes like the command's. Returns the run's report (done, skipped, poor inversions)."""
    src, tgt = load(source), load(target)
    run = FolderTranslation(src, out, inversion(steps, space), target=tgt, source_path=str(source),
                            target_path=str(target), overwrite=overwrite, progress=progress)
    return run.run(collect_inputs([str(p) for p in inputs]))


def mix(target: Generator, content: int | Latent, style: int | Latent, mix_from: str | int = "16px",
        strength: float = 1.0, source: Generator | None = None) -> Image.Image:
    """The target's rendering of `content` with its layers from `mix_from` on taken from `style`
    (seeds are mapped through `source`, default the target itself)."""
    mapper = source or target
    latent = seed_style(mapper, content) if isinstance(content, int) else content
    return Image.fromarray(render(target, [latent], _style(mapper, style, mix_from, strength))[0])


def finetune(data: str | os.PathLike, source: str | os.PathLike, out: str | os.PathLike, freeze_g: int | None = None,
             freeze_d: int | None = None, steps: int = 1000, batch: int = 8, resume: bool = False,
             **options) -> Path:
    """`freezeg finetune DATA --from SOURCE --out OUT --freeze-g N --freeze-d K`: returns the newest
    checkpoint. Other TrainOptions fields (lr, augment, ckpt_every, device, ...) pass through."""
    spec = FreezeSpec(g_top_blocks=freeze_g, d_last_blocks=freeze_d)
    path = resolve_model(source)
    trainer = Trainer(TrainOptions(data=str(data), out=str(out), source=str(path), freeze=spec, steps=steps,
                                   batch=batch, **options), resume=resume)
    trainer.train()
    return trainer.run.checkpoint_path(trainer.state.step)
