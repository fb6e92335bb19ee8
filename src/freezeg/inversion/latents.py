"""Latents: where an image sits in a generator's latent space, and the latent file format.

A projection is saved as a small latent file (`save_latent`, read back with `load_latent`):
{"format": "freezeg-latent", "ws": [num_ws, style_dim], "noise": list of [1, 1, r, r] or
None, "space": "w" | "w+", "fidelity": {...}, "source": {path, config}, ...}, loadable with
torch.load(weights_only=True). `LatentStats` (the average w and its spread) is where every
projector starts.
"""

from __future__ import annotations

import os
import pickle
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..models.checkpoint import atomic_torch_save
from ..models.networks import Generator

SPACES = ("w", "w+")

LATENT_FORMAT = "freezeg-latent"

LATENT_VERSION = 1

STATS_SAMPLES = 10000  # mapping samples for the average w and its spread (as both projectors)


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
        with warnings.catch_warnings():  # torch's remarks on a stranger's pickle protocol; we refuse or read
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError,
            AttributeError, TypeError, struct.error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if first.startswith("Weights only load failed"):  # torch's long advice about trusting the file
            first = "it holds pickled objects that are not plain tensors and data; refused unread"
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
