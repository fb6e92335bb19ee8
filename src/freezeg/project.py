"""GAN inversion: the latent (W or W+) and noise maps with which a generator reproduces an image.

The optimisation is that of the StyleGAN2 projector (Karras et al. 2020, appendix D, as in
NVlabs' projector.py and rosinality's projector.py): start from the average w, Adam with a
learning rate that warms up linearly and ramps down with a cosine, Gaussian noise added to the
latent early on (its strength ramps to zero), noise maps optimised too under a penalty on their
autocorrelation at several scales and re-standardised after every step. The distance between
the rendered and the target image is pluggable (freezeg.distances).

Several images are projected together as one batch for speed, each independently: every loss
term is computed per sample and the batch loss is their sum, so an image's gradient does not
depend on its neighbours (Adam then works element by element).

A projection is saved as a small latent file (`save_latent`, read back with `load_latent`):
{"format": "freezeg-latent", "ws": [num_ws, style_dim], "noise": list of [1, 1, r, r] or
None, "space": "w" | "w+", "fidelity": {...}, "source": {path, config}, ...}, loadable with
torch.load(weights_only=True).
"""

from __future__ import annotations

import math
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm import tqdm

from .checkpoint import atomic_torch_save
from .metrics.fidelity import psnr, ssim
from .networks import Generator

SPACES = ("w", "w+")
LATENT_FORMAT = "freezeg-latent"
LATENT_VERSION = 1
STATS_SAMPLES = 10000  # mapping samples for the average w and its spread (as both projectors)


@dataclass
class ProjectionOptions:
    """How to optimise; the defaults are those of the StyleGAN2 projector."""

    space: str = "w"  # "w": one w for all layers; "w+": one w per layer
    steps: int = 1000  # optimisation steps (0: the starting latent as it is)
    lr: float = 0.1  # peak Adam learning rate
    lr_rampup: float = 0.05  # share of the steps spent warming up linearly from 0
    lr_rampdown: float = 0.25  # share of the steps at the end spent on the cosine ramp to 0
    optimize_noise: bool = True  # optimise the per-layer noise maps too (else: the stored maps)
    noise_regularize: float = 1e5  # weight of the noise autocorrelation penalty
    latent_noise: float = 0.05  # initial latent perturbation, as a share of the spread of w
    latent_noise_ramp: float = 0.75  # share of the steps over which the perturbation fades out
    mse: float = 0.0  # weight of an extra pixel MSE term (anchors colours for perceptual distances)
    seed: int = 0  # seeds the initial noise maps and the latent perturbation

    def __post_init__(self):
        if self.space not in SPACES:
            raise ValueError(f"--space must be one of {', '.join(SPACES)}, got {self.space!r}")
        if self.steps < 0:
            raise ValueError(f"--steps must be 0 or more, got {self.steps}")
        if self.lr <= 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        for name in ("lr_rampup", "lr_rampdown", "latent_noise_ramp"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a share of the steps in [0, 1], got {getattr(self, name)}")
        if self.noise_regularize < 0 or self.latent_noise < 0 or self.mse < 0:
            raise ValueError("noise_regularize, latent_noise and mse must be >= 0")


def learning_rate(t: float, peak: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """The projector's schedule at progress t in [0, 1]: linear warm-up, flat, cosine ramp-down."""
    ramp = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    if rampup > 0:
        ramp *= min(1.0, t / rampup)
    return peak * ramp


def noise_regularization(noise: list[torch.Tensor]) -> torch.Tensor:
    """Per-sample noise penalty [B]: squared mean autocorrelation of each map with its 1-pixel
    shifts in x and y, over a pyramid of 2x2-averaged scales down to 8 px."""
    loss = noise[0].new_zeros(noise[0].shape[0])
    for n in noise:  # [B, 1, r, r]
        size = n.shape[2]
        while True:
            loss = loss + (n * torch.roll(n, 1, dims=3)).mean(dim=[1, 2, 3]).square()
            loss = loss + (n * torch.roll(n, 1, dims=2)).mean(dim=[1, 2, 3]).square()
            if size <= 8:
                break
            n = n.reshape(-1, 1, size // 2, 2, size // 2, 2).mean(dim=[3, 5])
            size //= 2
    return loss


@torch.no_grad()
def normalize_noise_(noise: list[torch.Tensor]) -> None:
    """Re-standardise each sample's noise map to zero mean and unit variance, in place."""
    for n in noise:
        n.sub_(n.mean(dim=[1, 2, 3], keepdim=True)).div_(n.std(dim=[1, 2, 3], keepdim=True).clamp_min(1e-8))


@dataclass
class LatentStats:
    """Where projections start (the average w) and how large the latent perturbation is."""

    mean: torch.Tensor  # [1, style_dim]
    std: float  # sqrt(E ||w - mean||^2): the spread of w, as in both reference projectors


@torch.no_grad()
def latent_stats(g: Generator, n: int = STATS_SAMPLES, seed: int = 0, chunk: int = 2000) -> LatentStats:
    """Average and spread of mapping(z) over n draws with a fixed seed."""
    device = next(g.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    ws = torch.cat([
        g.mapping(torch.randn(min(chunk, n - i), g.style_dim, generator=gen).to(device)).double()
        for i in range(0, n, chunk)
    ])
    mean = ws.mean(0, keepdim=True)
    std = (ws - mean).square().sum(1).mean().sqrt().item()
    return LatentStats(mean.float(), std)


@dataclass
class Latent:
    """One image's place in a generator's latent space (what a latent file holds)."""

    ws: torch.Tensor  # [num_ws, style_dim] per-layer latents (all rows equal for space "w")
    noise: list[torch.Tensor] | None  # one [1, 1, r, r] map per synthesis conv; None: the stored maps
    space: str = "w+"  # how it was found: "w" or "w+"
    fidelity: dict[str, Any] = field(default_factory=dict)  # psnr, ssim, distance, loss of the reconstruction
    meta: dict[str, Any] = field(default_factory=dict)  # source checkpoint, config, image, steps, ...


class Projector:
    """Projects a batch of target images; `step()` runs one optimisation step for all of them.

    Usable step by step (benchmarks, warm-started video frames) or with `run()`; `result()`
    gives the latents and reconstructions at any point. The generator is not modified and
    receives no gradients (only the latents and noise maps are differentiated).
    """

    def __init__(
        self,
        generator: Generator,  # the generator to invert (its device is used throughout)
        targets: torch.Tensor,  # [B, 3, size, size] images in [-1, 1]
        distance: nn.Module,  # forward(x, y) -> [B] (freezeg.distances)
        options: ProjectionOptions | None = None,
        stats: LatentStats | None = None,  # average w and spread; computed when not given
        init_ws: torch.Tensor | None = None,  # [B, num_ws, style_dim] warm start (else the average w)
        init_noise: list[torch.Tensor] | None = None,  # per-layer [B or 1, 1, r, r] warm start
    ):
        g = generator
        device, batch = self._bind(g, targets, distance, options or ProjectionOptions(), stats)
        options = self.options
        self.rng = torch.Generator(device=device).manual_seed(options.seed)

        if init_ws is None:
            start = self.stats.mean.to(device).expand(batch, -1)  # [B, D]
        else:
            init_ws = g._check_ws(init_ws.to(device))
            if init_ws.shape[0] != batch:
                raise ValueError(f"init_ws has {init_ws.shape[0]} latents for {batch} targets")
            start = init_ws.mean(1) if options.space == "w" else init_ws  # W keeps the layers' average
        rows = 1 if options.space == "w" else g.num_ws
        self.latent = start.reshape(batch, -1, g.style_dim).expand(batch, rows, -1).clone().requires_grad_(True)

        if init_noise is not None:
            if len(init_noise) != g.num_noise:
                raise ValueError(f"init_noise must hold {g.num_noise} maps, got {len(init_noise)}")
            self.noise = [n.to(device).expand(batch, 1, r, r).clone()
                          for n, r in zip(init_noise, g.noise_resolutions())]
        elif options.optimize_noise:
            self.noise = [torch.randn(batch, 1, r, r, device=device, generator=self.rng) for r in g.noise_resolutions()]
        else:
            self.noise = [n.detach().to(device).expand(batch, -1, -1, -1).clone() for n in g.stored_noise()]
        params = [self.latent]
        if options.optimize_noise:
            for n in self.noise:
                n.requires_grad_(True)
            params += self.noise
        self.params = params
        self.optimizer = torch.optim.Adam(params, lr=options.lr, betas=(0.9, 0.999))
        self.step_index = 0
        self.last_distance = torch.full((batch,), float("nan"))

    def _bind(self, g: Generator, targets: torch.Tensor, distance: nn.Module, options, stats: LatentStats | None
              ) -> tuple[torch.device, int]:
        """Keep what every recipe's projector holds (generator, distance, options, targets on g's
        device, latent statistics); returns (device, batch)."""
        self.generator, self.distance, self.options = g, distance, options
        device = next(g.parameters()).device
        if targets.ndim != 4 or targets.shape[1:] != (3, g.size, g.size):
            raise ValueError(f"targets must have shape [batch, 3, {g.size}, {g.size}], got {tuple(targets.shape)}")
        self.targets = targets.to(device=device, dtype=torch.float32)
        self.stats = stats or latent_stats(g)
        return device, targets.shape[0]

    @property
    def batch(self) -> int:
        return self.targets.shape[0]

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def ws(self) -> torch.Tensor:
        """Current per-layer latents [B, num_ws, style_dim] (detached)."""
        return self.latent.detach().expand(-1, self.generator.num_ws, -1)

    def step(self) -> torch.Tensor:
        """One optimisation step for every image; returns the per-image distance [B] before it."""
        o, g = self.options, self.generator
        t = self.step_index / o.steps
        lr = learning_rate(t, o.lr, o.lr_rampup, o.lr_rampdown)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        strength = self.stats.std * o.latent_noise * max(0.0, 1.0 - t / o.latent_noise_ramp) ** 2 if o.latent_noise_ramp else 0.0
        latent = self.latent
        if strength > 0:
            latent = latent + strength * torch.randn(latent.shape, device=latent.device, generator=self.rng)
        images = g.synthesis(latent.expand(-1, g.num_ws, -1), noise=self.noise)
        dist = self.distance(images, self.targets)  # [B]
        loss = dist
        if o.mse > 0:
            loss = loss + o.mse * (images - self.targets).square().mean(dim=[1, 2, 3])
        if o.optimize_noise and o.noise_regularize > 0:
            loss = loss + o.noise_regularize * noise_regularization(self.noise)
        self.optimizer.zero_grad(set_to_none=True)
        # Only the latents and noise maps: the generator's weights get no gradient at all.
        loss.sum().backward(inputs=self.params)
        self.optimizer.step()
        if o.optimize_noise:
            normalize_noise_(self.noise)
        self.step_index += 1
        self.last_distance = dist.detach()
        return self.last_distance

    def run(self, progress: bool = True, desc: str = "projecting",
            callback: Callable[["Projector"], bool | None] | None = None) -> "Projector":
        """All remaining steps, with a tqdm bar showing the mean distance.

        `callback(self)` is called after every step (a progress bar elsewhere, a web page);
        when it returns True the run stops there and `result()` gives the latents found so far.
        """
        remaining = self.options.steps - self.step_index
        with tqdm(total=remaining, desc=desc, disable=None if progress else True, leave=False) as bar:
            for _ in range(remaining):
                dist = self.step()
                bar.update(1)
                if self.step_index % 10 == 0 or self.step_index == self.options.steps:
                    bar.set_postfix(distance=f"{dist.mean().item():.4f}")
                if callback is not None and callback(self):
                    break
        return self

    @torch.no_grad()
    def result(self, loss_name: str = "default") -> tuple[list[Latent], torch.Tensor]:
        """The latents found so far and their reconstructions [B, 3, size, size] (CPU)."""
        ws = self.ws()
        images = self.generator.synthesis(ws, noise=self.noise)
        dist = self.distance(images, self.targets)
        clamped = images.clamp(-1, 1)
        p, s = psnr(clamped, self.targets), ssim(clamped, self.targets)
        latents = []
        for i in range(self.batch):
            latents.append(Latent(
                ws=ws[i].float().cpu().clone(),
                noise=[n[i : i + 1].detach().float().cpu().clone() for n in self.noise],
                space=self.options.space,
                fidelity={"psnr": float(p[i]), "ssim": float(s[i]), "distance": float(dist[i]), "loss": loss_name},
                meta={"steps": self.step_index},
            ))
        return latents, images.cpu()


def project_images(
    generator: Generator,
    images: torch.Tensor,  # [N, 3, size, size] in [-1, 1]
    distance: nn.Module,
    options: ProjectionOptions | None = None,  # or freezeg.inversion.staged.StagedOptions (the default recipe)
    batch: int = 8,  # images optimised together
    stats: LatentStats | None = None,
    loss_name: str = "default",
    progress: bool = True,
) -> tuple[list[Latent], torch.Tensor]:
    """Project N images in batches; returns their latents and reconstructions [N, 3, size, size].

    The options' type picks the recipe: ProjectionOptions (this module's 2020 projector, also
    when None) or the default recipe's StagedOptions."""
    from .inversion.recipes import make_projector  # the recipes build on this module

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    stats = stats or latent_stats(generator)
    options = options or ProjectionOptions()
    latents, recons = [], []
    for start in range(0, images.shape[0], batch):
        proj = make_projector(generator, images[start : start + batch], distance, options, stats).run(progress)
        found, rec = proj.result(loss_name)
        latents += found
        recons.append(rec)
    return latents, torch.cat(recons) if recons else images.new_zeros(0, *images.shape[1:])


# --------------------------------------------------------------------------- latent files
def config_summary(g: Generator) -> dict[str, Any]:
    """The part of a generator's config that decides whether a latent fits it."""
    return {"size": g.size, "style_dim": g.style_dim, "num_ws": g.num_ws, "n_mlp": g.n_mlp}


def save_latent(path: str | os.PathLike, latent: Latent, source: str | None = None, generator: Generator | None = None) -> Path:
    """Write a latent file atomically; `source`/`generator` record where the latent belongs."""
    path = Path(path)
    data: dict[str, Any] = {
        "format": LATENT_FORMAT,
        "version": LATENT_VERSION,
        "ws": latent.ws.detach().float().cpu().contiguous(),
        "noise": None if latent.noise is None else [n.detach().float().cpu().contiguous() for n in latent.noise],
        "space": latent.space,
        "fidelity": dict(latent.fidelity),
        "source": {"path": None if source is None else str(source),
                   "config": None if generator is None else config_summary(generator)},
    }
    data.update({k: v for k, v in latent.meta.items() if k not in data})
    atomic_torch_save(data, path)
    return path


def read_torch_file(path: str | os.PathLike, what: str = "latent file") -> Any:
    """torch.load(weights_only=True) of a small file users keep (latents, encoders, tunings);
    a missing or unreadable file is a one-line ValueError naming it as `what`."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such {what}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError,
            AttributeError, TypeError, struct.error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a readable {what} ({first[:120]})") from None


def load_latent(path: str | os.PathLike, generator: Generator | None = None) -> Latent:
    """Read a latent file (ours, or a bare ws/w tensor) and, given a generator, check it fits.

    ws may be stored as [num_ws, D], [1, num_ws, D], or one w as [D] / [1, D] (broadcast to all
    layers). Wrong shapes, other configs and non-finite values give one-line errors naming the file.
    """
    path = Path(path)
    data = read_torch_file(path)
    if torch.is_tensor(data):
        data = {"ws": data}
    if not isinstance(data, dict) or not torch.is_tensor(data.get("ws")):
        raise ValueError(f"{path}: not a latent file (expected a dict with a 'ws' tensor, or a tensor)")
    ws = data["ws"].float()
    space = data.get("space")
    if ws.ndim == 3 and ws.shape[0] == 1:
        ws = ws[0]
    if ws.ndim == 2 and ws.shape[0] == 1:
        ws = ws[0]
    if ws.ndim == 1:
        space = space or "w"
        rows = generator.num_ws if generator is not None else 1
        ws = ws[None].expand(rows, -1).clone()
    if ws.ndim != 2:
        raise ValueError(f"{path}: latent ws has shape {tuple(data['ws'].shape)}; expected [num_ws, style_dim]")
    if not torch.isfinite(ws).all():
        raise ValueError(f"{path}: latent holds NaN or infinite values")
    meta = {k: v for k, v in data.items() if k not in ("ws", "noise", "space", "fidelity", "format", "version")}
    noise = data.get("noise")
    if generator is not None:
        made = (meta.get("source") or {}).get("config") or {}
        if made and (made.get("size"), made.get("style_dim")) != (generator.size, generator.style_dim):
            raise ValueError(
                f"{path}: made with a {made.get('size')}px generator (style_dim {made.get('style_dim')}), "
                f"not this {generator.size}px one (style_dim {generator.style_dim})"
            )
        if ws.shape == (1, generator.style_dim):
            ws = ws.expand(generator.num_ws, -1).clone()
        if tuple(ws.shape) != (generator.num_ws, generator.style_dim):
            raise ValueError(
                f"{path}: latent ws has shape {tuple(ws.shape)}; this {generator.size}px generator needs "
                f"({generator.num_ws}, {generator.style_dim})"
            )
        noise = _check_noise(path, noise, generator)
    elif noise is not None and not (isinstance(noise, list) and all(torch.is_tensor(n) for n in noise)):
        raise ValueError(f"{path}: 'noise' must be a list of tensors")
    if space not in SPACES:
        space = "w" if bool((ws == ws[:1]).all()) else "w+"
    return Latent(ws=ws, noise=noise, space=space, fidelity=dict(data.get("fidelity") or {}), meta=meta)


def _check_noise(path: Path, noise: Any, g: Generator) -> list[torch.Tensor] | None:
    if noise is None:
        return None
    if not isinstance(noise, list) or len(noise) != g.num_noise or not all(torch.is_tensor(n) for n in noise):
        count = len(noise) if isinstance(noise, list) else type(noise).__name__
        raise ValueError(f"{path}: 'noise' must be a list of {g.num_noise} maps for this generator, got {count}")
    out = []
    for j, (n, r) in enumerate(zip(noise, g.noise_resolutions())):
        if n.numel() != r * r:
            raise ValueError(f"{path}: noise map {j} has shape {tuple(n.shape)}; expected {r}x{r}")
        out.append(n.float().reshape(1, 1, r, r))
    return out


def stack_latents(latents: list[Latent], generator: Generator) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Batch latents for rendering on the generator's device: ws [B, num_ws, D] and noise
    [B, 1, r, r] per layer (latents without noise use the generator's stored maps)."""
    device = next(generator.parameters()).device
    ws = torch.stack([lat.ws for lat in latents]).to(device)
    stored = generator.stored_noise()
    noise = []
    for j in range(generator.num_noise):
        maps = [(lat.noise[j] if lat.noise is not None else stored[j]).to(device) for lat in latents]
        noise.append(torch.cat(maps))
    return ws, noise


def latent_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Latent files from files and folders (a folder gives its *.pt files, sorted, not recursing)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.pt") if p.is_file() and not p.name.startswith("."))
            if not found:
                raise ValueError(f"{path}: folder holds no latent files (*.pt)")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise ValueError(f"{path}: no such latent file")
    return out
