"""Pivotal tuning of the blocks a FreezeG fine-tune shares with its source.

Pivotal tuning (Roich et al. 2021, "PTI") fine-tunes a generator around one image's latent
(the pivot) until it reproduces the image. In a FreezeG fine-tune the frozen synthesis blocks
of the target generator are bit-identical to the source's, so tuning *only those shared
blocks* gives weights that fit both generators: placed into the target unchanged, they carry
the input's geometry into the translation while the target's own trained blocks still render
its style. A frozen block whose toRGB the target recoloured (`--coarse-rgb train`) is still
shared, without its toRGB. By option the source's trained blocks are tuned too, for a closer
reconstruction; they are never written and never reach the target.

Nothing is written into checkpoints: a tuning is the fp16 difference of the shared blocks'
parameters (`Tuning.deltas`), saved beside the latent as NAME.pti:
    {"format": "freezeg-tuning", "version": 1, "blocks": [4, 8], "deltas": {param name: fp16},
     "source": {"path", "config", "shared_digest"}, "fidelity": {"before": {...}, "after": {...}},
     "meta": {"options": {...}, "seconds": float, ...}}
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from ..metrics.fidelity import psnr, ssim
from ..models.checkpoint import atomic_torch_save
from ..models.freeze import FreezeSpec
from ..models.networks import Generator
from ..train.distributed import weights_digest
from ..utils import faults
from .encoder import describe_generator
from .latents import Latent, config_summary, read_torch_file, stack_latents

TUNING_FORMAT = "freezeg-tuning"
TUNING_VERSION = 1
TUNING_SUFFIX = ".pti"


@dataclass
class SharedBlocks:
    """The synthesis blocks a target generator shares, bit for bit, with its source."""

    resolutions: list[int]  # of the shared blocks, from 4 px up
    names: list[str]  # their parameters' names (generator state-dict keys)
    digest: str  # SHA-256 of the source's shared blocks: what tuning files are checked against

    def describe(self) -> str:
        return ", ".join(f"{r}px" for r in self.resolutions)


def _module_parameters(g: Generator, modules: list[nn.Module]) -> list[str]:
    wanted = {id(p) for m in modules for p in m.parameters()}
    return [name for name, p in g.named_parameters() if id(p) in wanted]


def _identical(a: list[nn.Module], b: list[nn.Module]) -> bool:
    x = [t for m in a for t in m.state_dict().values()]
    y = [t for m in b for t in m.state_dict().values()]
    return len(x) == len(y) and all(s.shape == t.shape and torch.equal(s.cpu(), t.cpu()) for s, t in zip(x, y))


def shared_blocks(source: Generator, target: Generator, target_freeze: dict | None = None,
                  names: tuple[str, str] = ("source", "target")) -> SharedBlocks:
    """Which synthesis blocks of `target` compute the same features as `source`'s.

    A block is shared when everything but its toRGB is bit-identical; its toRGB is shared (and
    tuned) only when it is identical too (`--coarse-rgb train` fine-tunes recolour it).
    `target_freeze` is the freeze spec recorded in the target's checkpoint (None for files
    without one): every block it froze must be among the shared ones, else the target was not
    fine-tuned from this source. Raises ValueError when no block is shared.
    """
    src_name, tgt_name = names
    shared, modules = [], []
    for bs, bt in zip(source.blocks(), target.blocks()):
        if _identical(bs.feature_modules(), bt.feature_modules()):
            shared.append(bs.resolution)
            modules += bs.feature_modules() + ([bs.to_rgb] if _identical([bs.to_rgb], [bt.to_rgb]) else [])
    spec = FreezeSpec.from_dict(target_freeze) if target_freeze else None
    if spec is not None and spec.g_top_blocks is not None:
        resolutions = source.config.resolutions
        frozen = resolutions[: len(resolutions) - spec.g_top_blocks]
        differ = [r for r in frozen if r not in shared]
        if differ:
            px = lambda rs: ", ".join(f"{r}px" for r in rs)  # noqa: E731
            raise ValueError(
                f"{tgt_name}: its freeze spec froze the {px(frozen)} blocks, but {px(differ)} differ from {src_name}'s: "
                "the target was not fine-tuned from this source")
    if not shared:
        raise ValueError(
            f"{tgt_name}: shares no frozen blocks with {src_name} (no synthesis block is bit-identical); pivotal "
            "tuning needs a FreezeG fine-tune of this source (freezeg finetune --freeze-g N)")
    return SharedBlocks(shared, _module_parameters(source, modules), weights_digest(modules))


@dataclass
class TuningOptions:
    """How a generator is tuned around a pivot (`--pt-steps`, `--pt-lr`, `--pt-mse`, `--pt-trained-blocks`)."""

    # Measured on 4 held-out 64 px emoji (shared blocks, PSNR after 100 / 300 steps): lr 3e-3
    # and MSE weight 1 gave 24.6 / 26.6 dB, MSE weight 100 gave 25.1 / 27.8 dB; lr 1e-2 threw
    # the first 50 steps off (19 dB) and ended no better; 3e-4 and 1e-3 were slower.
    steps: int = 300  # Adam steps per image
    lr: float = 3e-3  # Adam learning rate of the tuned weights
    mse: float = 100.0  # weight of pixel MSE beside the inversion's distance: pixels count most here
    trained_blocks: bool = False  # also tune the source's trained blocks (reconstruction only)

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"--pt-steps must be at least 1, got {self.steps}")
        if self.lr <= 0:
            raise ValueError(f"--pt-lr must be positive, got {self.lr}")
        if self.mse < 0:
            raise ValueError(f"pivotal tuning mse weight must be >= 0, got {self.mse}")


@dataclass
class Tuning:
    """One image's tuned shared blocks: fp16 deltas and the reconstruction before and after."""

    deltas: dict[str, torch.Tensor]  # parameter name -> fp16 difference to the source's weights
    resolutions: list[int]  # the tuned shared blocks
    shared_digest: str  # of the source blocks the deltas apply to
    before: dict[str, Any] = field(default_factory=dict)  # fidelity of the projection alone
    after: dict[str, Any] = field(default_factory=dict)  # fidelity with the tuned blocks (what translations start from)
    meta: dict[str, Any] = field(default_factory=dict)  # options, seconds, source

    @contextlib.contextmanager
    def applied(self, g: Generator) -> Iterator[Generator]:
        """`g` with the deltas added to its shared blocks; its own weights come back afterwards."""
        params = dict(g.named_parameters())
        missing = [n for n in self.deltas if n not in params or params[n].shape != self.deltas[n].shape]
        if missing:
            raise ValueError(f"tuned blocks do not fit this generator (e.g. {missing[0]})")
        saved = {}
        with torch.no_grad():
            for name, delta in self.deltas.items():
                saved[name] = params[name].detach().clone()
                params[name].add_(delta.to(params[name]))
        try:
            yield g
        finally:
            with torch.no_grad():
                for name, value in saved.items():
                    params[name].copy_(value)


def _fidelity(images: torch.Tensor, target: torch.Tensor, distance: nn.Module, loss: str) -> dict[str, Any]:
    clamped = images.clamp(-1, 1)
    return {"psnr": float(psnr(clamped, target)[0]), "ssim": float(ssim(clamped, target)[0]),
            "distance": float(distance(images, target)[0]), "loss": loss}


class PivotalTuner:
    """Tunes a source generator's shared blocks around one latent per image."""

    def __init__(self, source: Generator, shared: SharedBlocks, distance: nn.Module, options: TuningOptions | None = None,
                 loss: str = "default"):
        self.source, self.shared, self.distance, self.loss = source, shared, distance, loss
        self.options = options or TuningOptions()

    def tune(self, latent: Latent, target: torch.Tensor) -> tuple[Tuning, torch.Tensor]:
        """Tune around `latent` until the source reproduces `target` [1, 3, size, size];
        returns the tuning and the reconstruction with it [1, 3, size, size] (CPU)."""
        o, g = self.options, self.source
        device = next(g.parameters()).device
        target = target.to(device=device, dtype=torch.float32)
        ws, noise = stack_latents([latent], g)
        start = time.perf_counter()
        with torch.no_grad():
            before = _fidelity(g.synthesis(ws, noise=noise), target, self.distance, self.loss)
        tuned = copy.deepcopy(g).train(False)
        params = dict(tuned.named_parameters())
        names = list(self.shared.names)
        if o.trained_blocks:
            names += [n for n in _module_parameters(tuned, [m for b in tuned.blocks() for m in b.modules()])
                      if n not in names]
        tuned.requires_grad_(False)
        chosen = [params[n].requires_grad_(True) for n in names]
        optimizer = torch.optim.Adam(chosen, lr=o.lr, betas=(0.9, 0.999))
        # Keep the best weights seen, not the last: Adam's first steps move every weight by about
        # lr, which can throw an already close reconstruction far off (measured: generator-made
        # images at 39.3 dB came back at 35.6 dB after 100 steps). Step 0 is the source itself,
        # so tuning never ends worse than it started.
        best_loss, best = float("inf"), None
        for step in range(o.steps + 1):
            images = tuned.synthesis(ws, noise=noise)
            loss = self.distance(images, target) + o.mse * (images - target).square().mean(dim=[1, 2, 3])
            value = float(loss.detach().sum())
            if value < best_loss:
                best_loss, best = value, [p.detach().clone() for p in chosen]
            if step == o.steps:
                break
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward(inputs=chosen)
            optimizer.step()
            faults.reached("step")
        with torch.no_grad():
            for p, kept in zip(chosen, best):
                p.copy_(kept)
        source_params = dict(g.named_parameters())
        with torch.no_grad():
            deltas = {n: (params[n] - source_params[n]).half().cpu() for n in self.shared.names}
            # What the files reproduce: the shared blocks at fp16-delta precision.
            for n, d in deltas.items():
                params[n].copy_(source_params[n] + d.to(params[n]))
            images = tuned.synthesis(ws, noise=noise)
        tuning = Tuning(deltas, list(self.shared.resolutions), self.shared.digest, before,
                        _fidelity(images, target, self.distance, self.loss),
                        {"options": asdict(o), "seconds": time.perf_counter() - start})
        if o.trained_blocks:
            with torch.no_grad(), tuning.applied(g):
                tuning.meta["shared_only"] = _fidelity(g.synthesis(ws, noise=noise), target, self.distance, self.loss)
        return tuning, images.detach().cpu()


# --------------------------------------------------------------------------- files
def tuning_path(latent_path: str | os.PathLike) -> Path:
    """Where the tuning of the latent file `latent_path` lives: beside it, NAME.pti."""
    return Path(latent_path).with_suffix(TUNING_SUFFIX)


def save_tuning(path: str | os.PathLike, tuning: Tuning, source: Generator, source_path: str | None = None) -> Path:
    data = {
        "format": TUNING_FORMAT,
        "version": TUNING_VERSION,
        "blocks": list(tuning.resolutions),
        "deltas": {k: v.half().contiguous() for k, v in tuning.deltas.items()},
        "source": {"path": source_path, "config": config_summary(source), "shared_digest": tuning.shared_digest},
        "fidelity": {"before": dict(tuning.before), "after": dict(tuning.after)},
        "meta": dict(tuning.meta),
    }
    atomic_torch_save(data, path)
    return Path(path)


def load_tuning(path: str | os.PathLike, source: Generator, shared: SharedBlocks) -> Tuning:
    """Read a tuning file and check that it belongs to this source's shared blocks."""
    path = Path(path)
    data = read_torch_file(path, "tuning file")
    if not isinstance(data, dict) or data.get("format") != TUNING_FORMAT:
        raise ValueError(f"{path}: not a freezeg tuning file")
    made = (data.get("source") or {}).get("config") or {}
    mine = config_summary(source)
    if any(made.get(k) != mine[k] for k in ("size", "style_dim", "num_ws")):
        raise ValueError(f"{path}: tuning made for {describe_generator(made)}, not for {describe_generator(mine)}")
    if (data.get("source") or {}).get("shared_digest") != shared.digest or data.get("blocks") != shared.resolutions:
        raise ValueError(
            f"{path}: tuned blocks ({', '.join(f'{r}px' for r in data.get('blocks') or [])}) of another source checkpoint, "
            f"not of this source's shared {shared.describe()} blocks")
    fidelity = data.get("fidelity") or {}
    return Tuning({k: v for k, v in data["deltas"].items()}, list(data["blocks"]), shared.digest,
                  dict(fidelity.get("before") or {}), dict(fidelity.get("after") or {}), dict(data.get("meta") or {}))
