"""A new target generator from 1 to 10 reference pictures of a style, with the coarse blocks frozen.

The recipe follows JoJoGAN (Chong & Forsyth 2021) where freezeg has the pieces, and adds
FreezeG's freezing: each reference is projected into the source generator (the default
recipe); training latents keep a reference's latents at the frozen (coarse) layers and take
random ones at the trainable layers, and the trainable blocks learn to render the reference
from all of them. The frozen blocks compute the source's features bit for bit, so they keep
the geometry of whatever latent a picture projects to, and the result translates like a
FreezeG fine-tune. Their toRGB layers train by default (`coarse_rgb`): they only add colour to
the output, and without them the style cannot repaint the low frequencies (measured on the
demo's cartoons, 10 references: pixel error against the truth 29.3 with them, 30.5 without,
mean of 3 seeds; docs/stylize.md).

The loss compares the rendering with the reference through the source's own discriminator
(L1 between its block features, as JoJoGAN does; no download), or pixels (L1 + MSE), or LPIPS
(weights given by path). `preserve_color` shows the loss only luminance, so the colours stay
those of the source generator's rendering.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models.freeze import FreezeSpec, apply_generator_freeze, trainable_parameters
from ..models.networks import Discriminator, Generator
from ..train.batches import step_seed
from ..utils.precision import autocast

log = logging.getLogger("freezeg")

LOSSES = ("d-features", "pixel", "lpips")


@dataclass
class StylizeOptions:
    """How a style is learnt from its references."""

    freeze_g: int | None = None  # train only the top N resolution blocks (None: the top half)
    steps: int = 300
    batch: int = 4  # mixed latents per step
    lr: float | None = None  # None: 4e-3 for the pixel loss, 2e-3 for the others (measured, docs/stylize.md)
    loss: str = "d-features"  # d-features | pixel | lpips
    preserve_color: bool = False  # the loss sees luminance only
    coarse_rgb: bool = True  # the frozen blocks' toRGB layers train too
    seed: int = 0
    precision: str = "fp32"  # resolved ('bf16' or 'fp32')

    def validate(self, g: Generator) -> None:
        blocks = len(g.blocks())
        if self.loss not in LOSSES:
            raise ValueError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.freeze_g is not None and not 1 <= self.freeze_g < blocks:
            raise ValueError(f"--freeze-g {self.freeze_g}: a {g.size}px generator has {blocks} resolution blocks; "
                             f"stylizing trains 1 to {blocks - 1} of them (all or none leave nothing frozen or nothing "
                             "to train)")
        for name in ("steps", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1")
        if self.lr is not None and not self.lr > 0:
            raise ValueError("--lr must be positive")

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 4e-3 if self.loss == "pixel" else 2e-3

    def freeze_spec(self, g: Generator) -> FreezeSpec:
        return FreezeSpec(g_top_blocks=self.trained_blocks(g), coarse_rgb=self.coarse_rgb)

    def trained_blocks(self, g: Generator) -> int:
        return self.freeze_g if self.freeze_g is not None else max(1, len(g.blocks()) // 2)


def boundary_layer(g: Generator, trained_blocks: int) -> int:
    """The first w layer that a trained block reads (layers below it feed only frozen blocks)."""
    block = g.blocks()[len(g.blocks()) - trained_blocks]
    return min([lay.w_index for lay in block.layers] + [block.to_rgb_w_index])


def discriminator_features(d: Discriminator, images: torch.Tensor) -> list[torch.Tensor]:
    """The activations after D's fromRGB and each of its resolution blocks."""
    feats, x = [], images
    for layer in d.convs:
        x = layer(x)
        feats.append(x)
    return feats


def _luma(images: torch.Tensor) -> torch.Tensor:
    y = 0.299 * images[:, 0:1] + 0.587 * images[:, 1:2] + 0.114 * images[:, 2:3]
    return y.expand(-1, 3, -1, -1)


class StyleLoss(nn.Module):
    """Distance between renderings and their reference pictures (both [B, 3, H, W] in [-1, 1])."""

    def __init__(self, kind: str, d: Discriminator | None = None, lpips: nn.Module | None = None,
                 preserve_color: bool = False):
        super().__init__()
        if kind == "d-features" and d is None:
            raise ValueError("the d-features loss needs the source's discriminator (the checkpoint has none): "
                             "use --loss pixel, or --loss lpips with --project-lpips-vgg/--project-lpips-lin")
        self.kind, self.d, self.lpips, self.preserve_color = kind, d, lpips, preserve_color
        if d is not None:
            d.requires_grad_(False)

    def forward(self, images: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        if self.preserve_color:
            images, references = _luma(images), _luma(references)
        if self.kind == "d-features":
            with torch.no_grad():
                wanted = discriminator_features(self.d, references)
            got = discriminator_features(self.d, images)
            return sum(F.l1_loss(a.float(), b.float()) for a, b in zip(got, wanted))
        if self.kind == "lpips":
            return self.lpips(images, references).mean()
        return F.l1_loss(images, references) + F.mse_loss(images, references)


def mixed_latents(source: Generator, references: torch.Tensor, boundary: int, batch: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` training latents: a reference's ws below `boundary`, a random sample's from there
    on; and which reference each one is (indices)."""
    device = references.device
    picked = torch.randint(len(references), (batch,), generator=generator)
    z = torch.randn(batch, source.style_dim, generator=generator).to(device)
    with torch.no_grad():
        random_ws = source.broadcast(source.mapping(z))
    ws = references[picked.to(device)].clone()
    ws[:, boundary:] = random_ws[:, boundary:]
    return ws, picked


def stylize_generator(source: Generator, reference_ws: torch.Tensor, reference_images: torch.Tensor,
                      loss: StyleLoss, options: StylizeOptions, start: Generator | None = None,
                      start_step: int = 0, optimizer_state: dict | None = None, progress=None,
                      on_step=None) -> tuple[Generator, torch.optim.Optimizer]:
    """Train a copy of `source` (or continue `start`) so that mixed latents render the references.

    Each step's latents come from a seed of (options.seed, step), so a resumed run repeats an
    uninterrupted one. `on_step(step, g, optimizer, loss)` is called after every step."""
    g = copy.deepcopy(start if start is not None else source)
    g.w_avg = source.w_avg
    apply_generator_freeze(g, options.freeze_spec(source))
    g.train()
    params = trainable_parameters(g)
    optimizer = torch.optim.Adam(params, lr=options.learning_rate, betas=(0.0, 0.99))
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    boundary = boundary_layer(source, options.trained_blocks(source))
    device = reference_ws.device
    noise = [n.to(device) for n in source.stored_noise()]
    for step in range(start_step, options.steps):
        gen = torch.Generator().manual_seed(step_seed(options.seed, step))
        ws, picked = mixed_latents(source, reference_ws, boundary, options.batch, gen)
        with autocast(options.precision, device):
            images = g.synthesis(ws, noise=[n.expand(len(ws), -1, -1, -1) for n in noise]).float()
            value = loss(images, reference_images[picked.to(device)])
        optimizer.zero_grad(set_to_none=True)
        value.float().backward()
        optimizer.step()
        if on_step is not None:
            on_step(step + 1, g, optimizer, float(value.detach()))
        if progress is not None:
            progress(step + 1, float(value.detach()))
    g.eval()
    return g, optimizer

