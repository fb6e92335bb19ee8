"""The training loop: StyleGAN2 from scratch, or fine-tuning a pretrained one with frozen layers.

One iteration is rosinality's (train.py) and Karras et al. 2020's: a D step on reals and
fakes, a lazy R1 step every `d_reg_every` iterations, a G step with the non-saturating loss,
a lazy path-length step every `g_reg_every` iterations, then the g_ema update. Style mixing
draws a second latent with probability `mixing`; ADA augments everything D sees.

Reproducibility: the global RNGs are reseeded at the start of every iteration from
(seed, rank, step), and the images of an iteration are a pure function of (seed, step, rank).
So a run resumed from any checkpoint draws exactly what the uninterrupted run drew, on
every process, without saving generator states; everything else that carries over (weights,
Adam moments, g_ema, ADA's p and its statistics, the path-length mean, the lr after NaN
recoveries) is in the checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.dataset import ImageDataset, open_dataset
from ..generate.compare import pair_grid
from ..generate.sampling import seeded_images
from ..metrics.realism import image_set_statistics, swd
from ..metrics.sources import generator_batches
from ..models.checkpoint import Checkpoint, build_discriminator, build_generator, load_checkpoint, save_checkpoint
from ..models.freeze import apply_discriminator_freeze, apply_generator_freeze, trainable_parameters
from ..models.networks import Discriminator, Generator, ModelConfig
from ..utils.devices import resolve_device
from ..utils.media import make_grid, save_image, to_uint8
from . import distributed as ddp
from .augment import AdaptiveAugment, parse_augment
from .ema import GeneratorEMA, ema_beta
from .logs import CsvLog, TensorBoardWriter
from .losses import d_logistic_loss, g_nonsaturating_loss, path_length_penalty, r1_penalty
from .optim import build_adam, full_state, load_full_state, set_lr
from .options import TrainOptions
from .run import RunFolder

log = logging.getLogger("freezeg")

RNG_SCHEME = "reseeded every iteration from (seed, rank, step)"


def step_seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integer keys (numpy's SeedSequence)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0] >> 1)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class EpochSampler:
    """Which images an iteration uses: a pure function of the step, so resuming needs no state.

    Each epoch is one permutation of the dataset drawn from (seed, epoch); the global batch of
    step s is items [s * batch, (s + 1) * batch) of the concatenated permutations, and rank r
    takes its own slice of it, so processes never share an image within a step.
    """

    def __init__(self, n: int, batch: int, seed: int, info: ddp.ProcessInfo):
        self.n, self.batch, self.seed, self.info = n, batch, seed, info
        self.per_rank = batch // info.world_size
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) > 2:
                self._perms.pop(min(self._perms))
            gen = torch.Generator().manual_seed(step_seed(self.seed, 0x5A3, epoch))
            self._perms[epoch] = torch.randperm(self.n, generator=gen)
        return self._perms[epoch]

    def indices(self, step: int) -> list[int]:
        start = step * self.batch + self.info.rank * self.per_rank
        out = []
        for c in range(start, start + self.per_rank):
            epoch, pos = divmod(c, self.n)
            out.append(int(self._perm(epoch)[pos]))
        return out


@dataclass
class TrainState:
    """What the loop carries from one iteration to the next (besides weights and Adam)."""

    step: int = 0  # iterations completed
    mean_path_length: float = 0.0
    lr_scale: float = 1.0  # lowered after non-finite recoveries
    recoveries: int = 0  # reloads after repeated non-finite steps
    best_swd: float | None = None  # lowest evaluation score so far (checkpoints/best.pt)
    bad_streak: int = 0  # consecutive iterations with a skipped (non-finite) update


@dataclass
class _Interval:
    """Sums for the averages printed and logged every `log_every` iterations.

    Values stay tensors until `means()`, so logging adds no device synchronisation per step;
    non-finite values (from skipped updates) are left out of the averages.
    """

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    counts: dict[str, torch.Tensor] = field(default_factory=dict)
    skipped: int = 0
    start: float = field(default_factory=time.perf_counter)
    images: int = 0

    def add(self, name: str, value: torch.Tensor) -> None:
        v = value.detach().float().reshape(())
        finite = torch.isfinite(v)
        self.sums[name] = self.sums.get(name, 0) + torch.where(finite, v, torch.zeros_like(v))
        self.counts[name] = self.counts.get(name, 0) + finite.float()

    def means(self) -> dict[str, float]:
        out = {}
        for k, total in self.sums.items():
            n = float(self.counts[k])
            out[k] = float(total) / n if n else float("nan")
        return out


MAX_RECOVERIES = 5  # reloads after non-finite streaks before the run gives up


class StopRequested(Exception):
    """Raised out of the loop after a checkpoint was written on SIGINT/SIGTERM."""


class TrainingDiverged(RuntimeError):
    """Raised when training keeps producing non-finite values despite reloads at lower lr."""


class Trainer:
    """Builds everything a run needs from its options (or its run folder) and trains."""

    def __init__(self, options: TrainOptions, resume: bool = False, overwrite: bool = False,
                 info: ddp.ProcessInfo | None = None):
        options.validate()
        self.options = options
        self.run = RunFolder(options.out)
        device = resolve_device(options.device)
        self.info = info or ddp.ProcessInfo()
        if device.type == "cuda" and self.info.distributed:
            device = torch.device("cuda", self.info.local_rank)
        self.device = device
        if options.batch % self.info.world_size:
            raise ValueError(f"--batch {options.batch} must be divisible by the number of processes ({self.info.world_size})")
        if options.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
            torch.backends.cudnn.benchmark = False
        if self.info.is_main:
            self.run.claim(resume, overwrite)
        self._barrier()

        resume_ckpt = self.run.latest_checkpoint() if resume else None
        if resume and resume_ckpt is None:
            log.info("%s: no checkpoint yet; starting the run from the beginning", self.run.path)
        source = self._load_source(resume_ckpt is not None)
        config = resume_ckpt.config if resume_ckpt is not None else self._config(source)
        self.dataset = self._open_dataset(config.size)
        self.sampler = EpochSampler(len(self.dataset), options.batch, options.seed, self.info)
        self.state = TrainState()

        self._fresh_start = resume_ckpt is None  # known to every process (the folder may lag on shared disks)
        self._build(config, resume_ckpt or source, fresh_parts=self._fresh_start)
        if resume_ckpt is not None:
            self._restore_state(resume_ckpt)
        self.fixed_source = self._fixed_source(source)
        del source  # its tensors are in the networks now; don't hold a second copy for the whole run
        self._interval = _Interval()
        self._real_stats = None  # SWD statistics of the training images, measured once
        self._last_swd = float("nan")
        self._stop = threading.Event()
        if self.info.is_main:
            if not resume:
                self.run.write_options(options.to_dict())
            self.csv = CsvLog(self.run.log_file, resume_step=self.state.step)
            self.tb = TensorBoardWriter(self.run.tensorboard)

    # ------------------------------------------------------------------ building
    def _barrier(self) -> None:
        if self.info.distributed:
            torch.distributed.barrier()

    def _load_source(self, resuming: bool) -> Checkpoint | None:
        """The checkpoint being fine-tuned (when resuming, only needed for the sample grids)."""
        path = self.options.source
        if path is None:
            return None
        if resuming and not Path(path).exists():
            log.warning("%s: the fine-tuning source is gone; sample grids show only the current generator", path)
            return None
        return load_checkpoint(path)

    def _config(self, source: Checkpoint | None) -> ModelConfig:
        o = self.options
        if source is None:
            if o.size is None:
                raise ValueError("training from scratch needs --size")
            return ModelConfig(size=o.size, style_dim=o.style_dim, n_mlp=o.n_mlp,
                               channel_multiplier=o.channel_multiplier, channels=o.channels)
        config = source.config
        if config is None or not any(source.has(k) for k in ("g", "g_ema")):
            raise ValueError(f"{source.path}: holds no generator to fine-tune")
        if o.size is not None and o.size != config.size:
            raise ValueError(f"{source.path}: the checkpoint is a {config.size}px model, but --size is {o.size}")
        return config

    def _open_dataset(self, size: int) -> ImageDataset:
        o = self.options
        if self.info.is_main:  # one process decodes into the cache, the others then read it
            ds = open_dataset(o.data, size, xflip=o.xflip, cache_dir=o.cache_dir)
        self._barrier()
        if not self.info.is_main:
            ds = open_dataset(o.data, size, xflip=o.xflip, cache_dir=o.cache_dir)
        if len(ds) < o.batch:
            log.warning("dataset %s has %d images, fewer than one batch of %d; images repeat within a batch",
                        o.data, len(ds), o.batch)
        return ds

    def _build(self, config: ModelConfig, ckpt: Checkpoint | None, fresh_parts: bool) -> None:
        """Networks, freezing, optimizers and augmentation; weights from `ckpt` when given."""
        o = self.options
        where = ckpt.path if ckpt is not None else None
        torch.manual_seed(o.seed)  # identical fresh initialisation on every process
        if ckpt is None:
            self.g = Generator(config)
            self.d = Discriminator(config)
            self.g_ema = copy.deepcopy(self.g)
        else:
            g_key = "g" if ckpt.has("g") else "g_ema"
            ema_key = "g_ema" if ckpt.has("g_ema") else "g"
            if g_key != "g":
                log.info("%s: no 'g' part; training starts from its g_ema", where)
            if ema_key != "g_ema":
                log.info("%s: no 'g_ema' part; the average starts from its g", where)
            self.g = build_generator(ckpt, g_key)
            self.g_ema = build_generator(ckpt, ema_key)
            if ckpt.has("d"):
                self.d = build_discriminator(ckpt, "d")
            else:
                if o.freeze.d_last_blocks is not None:
                    raise ValueError(
                        f"{where}: has no discriminator, so --freeze-d has nothing pretrained to freeze "
                        "(drop --freeze-d to train a fresh discriminator)"
                    )
                log.info("%s: no discriminator in the checkpoint; training a fresh one", where)
                self.d = Discriminator(self.g.config)
        self.g.to(self.device).train()
        self.d.to(self.device).train()
        self.g_ema.to(self.device).eval()
        apply_generator_freeze(self.g, o.freeze)
        apply_discriminator_freeze(self.d, o.freeze)
        for p in self.g_ema.parameters():
            p.requires_grad_(False)
        if not o.freeze.mapping and o.freeze.g_top_blocks is None:
            self.g_ema.w_avg = None  # a training mapping makes the stored average w stale
        ddp.broadcast_module(self.g, self.info)
        ddp.broadcast_module(self.d, self.info)
        ddp.broadcast_module(self.g_ema, self.info)

        self.g_params = trainable_parameters(self.g)
        self.d_params = trainable_parameters(self.d)
        self.ema = GeneratorEMA(self.g, self.g_ema)
        self.g_optim = build_adam(self.g, o.lr, o.betas, o.g_reg_every)
        self.d_optim = build_adam(self.d, o.lr, o.betas, o.d_reg_every)
        if ckpt is not None:
            for part, optim, module in (("g_optim", self.g_optim, self.g), ("d_optim", self.d_optim, self.d)):
                if ckpt.has(part) and (part != "d_optim" or ckpt.has("d")):
                    if load_full_state(optim, module, ckpt.parts[part], f"{where}: {part}"):
                        log.info("%s: continuing its %s Adam moments", where, part)
                elif fresh_parts:
                    log.info("%s: no %s; starting with fresh Adam moments", where, part)
        self._set_lr()
        self.augment: AdaptiveAugment | None = parse_augment(o.augment)
        if self.augment is not None:
            self.augment.target = o.ada_target
            self.augment.adjust_kimg = o.ada_kimg
            self.augment.to(self.device)

    def _set_lr(self) -> None:
        o, lr = self.options, self.options.lr * self.state.lr_scale
        set_lr(self.g_optim, lr, o.betas, o.g_reg_every)
        set_lr(self.d_optim, lr, o.betas, o.d_reg_every)

    def _restore_state(self, ckpt: Checkpoint) -> None:
        meta = ckpt.meta
        s = meta.get("train_state") or {}
        self.state = TrainState(
            step=int(ckpt.step),
            mean_path_length=float(s.get("mean_path_length", 0.0)),
            lr_scale=float(s.get("lr_scale", 1.0)),
            recoveries=int(s.get("recoveries", 0)),
            best_swd=s.get("best_swd"),
        )
        self._set_lr()
        if self.augment is not None and s.get("augment") is not None:
            self.augment.set_extra_state(s["augment"])
        fingerprint = (meta.get("dataset") or {}).get("fingerprint")
        if fingerprint and fingerprint != self.dataset.fingerprint:
            log.warning("%s: the dataset changed since this checkpoint was written", self.options.data)
        log.info("resuming %s from step %d (%s)", self.run.path, self.state.step, ckpt.path)

    def _fixed_source(self, source: Checkpoint | None) -> Generator | None:
        """For fine-tuning: the source g_ema, rendered beside the current one in sample grids."""
        if source is None or not self.info.is_main:
            return None
        g = build_generator(source, "g_ema").to(self.device).eval()
        for p in g.parameters():
            p.requires_grad_(False)
        return g

    # ------------------------------------------------------------------ one iteration
    def _autocast(self):
        if self.options.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _latents(self, batch: int) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
        """z, an optional second z for style mixing and its injection index (rosinality's mixing_noise)."""
        d = self.g.style_dim
        z = torch.randn(batch, d, device=self.device)
        if self.options.mixing > 0 and float(torch.rand(())) < self.options.mixing:
            index = int(torch.randint(1, self.g.num_ws, ()))
            return z, torch.randn(batch, d, device=self.device), index
        return z, None, None

    def _fake(self, batch: int, keep_ws: bool = False):
        z, z2, index = self._latents(batch)
        w = self.g.mapping(z)
        w2 = None if z2 is None else self.g.mapping(z2)
        ws = self.g.broadcast(w, w2, index)
        if keep_ws and not ws.requires_grad:
            ws = ws.detach().requires_grad_(True)  # a frozen mapping: the path length still needs d img / d ws
        return self.g.synthesis(ws, noise_mode="random"), ws

    def _aug(self, images: torch.Tensor) -> torch.Tensor:
        return self.augment(images) if self.augment is not None else images

    def _update(self, optim: torch.optim.Optimizer, params: list, loss: torch.Tensor) -> bool:
        """Backward, average gradients over processes, step unless anything is non-finite."""
        optim.zero_grad(set_to_none=True)
        loss.backward()
        ok = ddp.reduce_gradients(params, self.info, loss)
        if ok:
            optim.step()
        optim.zero_grad(set_to_none=True)
        return ok

    def _d_step(self, real: torch.Tensor) -> bool:
        with torch.no_grad(), self._autocast():
            fake, _ = self._fake(real.shape[0])
        with self._autocast():
            fake_logits = self.d(self._aug(fake)).float()
            real_logits = self.d(self._aug(real)).float()
        loss = d_logistic_loss(real_logits, fake_logits)
        ok = self._update(self.d_optim, self.d_params, loss)
        if ok and self.augment is not None:
            self.augment.update(real_logits)
        self._interval.add("d_loss", loss.detach())
        self._interval.add("real_score", real_logits.detach().mean())
        self._interval.add("fake_score", fake_logits.detach().mean())
        return ok

    def _d_reg(self, real: torch.Tensor) -> bool:
        real = real.detach().requires_grad_(True)
        with self._autocast():
            logits = self.d(self._aug(real)).float()
        r1 = r1_penalty(logits, real)
        loss = self.options.r1_gamma / 2 * r1 * self.options.d_reg_every
        self._interval.add("r1", r1.detach())
        return self._update(self.d_optim, self.d_params, loss)

    @contextlib.contextmanager
    def _d_frozen(self):
        """D's trainable tensors stop asking for gradients during G's steps (they only pass them)."""
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in self.d_params:
                p.requires_grad_(True)

    def _g_step(self, batch: int) -> bool:
        with self._d_frozen(), self._autocast():
            fake, _ = self._fake(batch)
            logits = self.d(self._aug(fake)).float()
        loss = g_nonsaturating_loss(logits)
        self._interval.add("g_loss", loss.detach())
        return self._update(self.g_optim, self.g_params, loss)

    def _g_reg(self, batch: int) -> bool:
        o = self.options
        path_batch = max(1, batch // o.path_batch_shrink)
        with self._autocast():
            img, ws = self._fake(path_batch, keep_ws=True)
        penalty, new_mean, lengths = path_length_penalty(img.float(), ws, self.state.mean_path_length, o.path_decay)
        loss = o.path_weight * o.g_reg_every * penalty
        ok = self._update(self.g_optim, self.g_params, loss)
        if ok:
            self.state.mean_path_length = float(ddp.mean_scalar(new_mean, self.info))
        self._interval.add("path", penalty.detach())
        self._interval.add("path_length", lengths.detach().mean())
        return ok

    def iteration(self) -> bool:
        """One iteration at self.state.step; returns False when an update was skipped as non-finite."""
        o, step = self.options, self.state.step
        torch.manual_seed(step_seed(o.seed, self.info.rank, step))
        real = self.dataset.batch(self.sampler.indices(step), device=self.device)
        batch = real.shape[0]
        ok = self._d_step(real)
        if o.d_reg_every and step % o.d_reg_every == 0 and o.r1_gamma > 0:
            ok &= self._d_reg(real)
        ok &= self._g_step(batch)
        if o.g_reg_every and step % o.g_reg_every == 0 and o.path_weight > 0:
            ok &= self._g_reg(batch)
        beta = ema_beta(o.batch, step * o.batch, o.ema_kimg, o.ema_rampup)
        self.ema.update(beta)
        self.state.step += 1
        self._interval.images += o.batch
        if not ok:
            self._interval.skipped += 1
        return ok

    # ------------------------------------------------------------------ the loop
    def train(self) -> int:
        """Run until `options.steps` iterations; returns the last step. Raises StopRequested on a signal."""
        o = self.options
        if self._fresh_start:  # every process takes part in writing a checkpoint
            self.save_checkpoint()  # the starting point: what a non-finite recovery can fall back to
            self.save_samples()
            self._fresh_start = False
        handlers = self._install_signal_handlers()
        bar = tqdm(total=o.steps, initial=self.state.step, desc="training", unit="it",
                   disable=None if self.info.is_main else True, dynamic_ncols=True)
        try:
            while self.state.step < o.steps:
                ok = self.iteration()
                self.state.bad_streak = 0 if ok else self.state.bad_streak + 1
                if not ok:
                    log.warning("step %d: non-finite loss or gradient; update skipped (%d in a row)",
                                self.state.step, self.state.bad_streak)
                    if self.state.bad_streak >= o.nan_patience:
                        self._recover(bar)
                        continue
                bar.update(1)
                step = self.state.step
                if step % o.sample_every == 0 or step == o.steps:
                    self.save_samples()
                stop = ddp.any_true(self._stop.is_set(), self.info, self.device)
                if step % o.ckpt_every == 0 or step == o.steps or stop:
                    self.save_checkpoint(evaluate=not stop)  # stopping should be quick
                if step % o.log_every == 0 or step == o.steps:
                    self._log(bar)  # after the checkpoint, so the row carries this step's SWD
                if stop:
                    self._barrier()  # see below
                    raise StopRequested(f"stopped at step {step}; continue with --resume")
            # Rank 0 may still be writing the last checkpoint; a process that left the gloo group
            # meanwhile aborts at exit ("terminate called without an active exception").
            self._barrier()
        finally:
            bar.close()
            self._restore_signal_handlers(handlers)
            if self.info.is_main:
                self.tb.close()
        return self.state.step

    def _recover(self, bar) -> None:
        """Reload the newest checkpoint and halve the learning rate after repeated non-finite steps."""
        if self.state.recoveries >= MAX_RECOVERIES:
            raise TrainingDiverged(
                f"{self.run.path}: still non-finite after {MAX_RECOVERIES} reloads at lower learning rates "
                f"(now {self.options.lr * self.state.lr_scale:g}); check the data and settings"
            )
        ckpt = self.run.latest_checkpoint()
        if ckpt is None:
            raise TrainingDiverged(f"{self.run.path}: non-finite training and no checkpoint to fall back to")
        lr_scale = self.state.lr_scale * 0.5
        recoveries = self.state.recoveries + 1
        log.warning("%d non-finite steps in a row: reloading %s (step %s) and lowering the learning rate to %g",
                    self.state.bad_streak, ckpt.path, ckpt.step, self.options.lr * lr_scale)
        self._build(ckpt.config, ckpt, fresh_parts=False)
        self._restore_state(ckpt)
        self.state.lr_scale, self.state.recoveries = lr_scale, recoveries
        self._set_lr()
        bar.n = self.state.step
        bar.refresh()

    def _log(self, bar) -> None:
        iv = self._interval
        elapsed = max(time.perf_counter() - iv.start, 1e-9)
        row = {"step": self.state.step, "kimg": self.state.step * self.options.batch / 1000, "seconds": elapsed,
               "images_per_s": iv.images / elapsed, **iv.means(),
               "ada_p": self.augment.p if self.augment is not None else 0.0,
               "ada_rt": (self.augment.r_t if self.augment is not None and self.augment.r_t is not None else float("nan")),
               "lr": self.options.lr * self.state.lr_scale, "skipped": iv.skipped, "swd": self._last_swd}
        self._interval = _Interval()
        if not self.info.is_main:
            return
        shown = {k: f"{row[k]:.3g}" for k in ("d_loss", "g_loss", "images_per_s", "ada_p") if k in row}
        if bar.disable:  # no terminal (nohup, CI, a cluster job): one plain line per log interval instead
            remaining = (self.options.steps - self.state.step) / max(self.options.log_every / row["seconds"], 1e-9)
            log.info("step %d/%d  %s  eta %s", self.state.step, self.options.steps,
                     "  ".join(f"{k} {v}" for k, v in shown.items()), _duration(remaining))
        else:
            bar.set_postfix(shown)
        self.csv.write(row)
        self.tb.add_scalars(self.state.step, {k: v for k, v in row.items() if k not in ("step", "swd")})

    # ------------------------------------------------------------------ files
    def _all_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for m in (self.g, self.d, self.g_ema) for p in m.parameters())

    def checkpoint_meta(self) -> dict:
        o = self.options
        return {
            "step": self.state.step,
            "kimg": self.state.step * o.batch / 1000,
            "freeze": o.freeze.to_dict(),
            "source": o.source,
            "dataset": {"path": o.data, "fingerprint": self.dataset.fingerprint, "images": len(self.dataset)},
            "world_size": self.info.world_size,
            "rng": RNG_SCHEME,
            "optimizer_layout": "all parameters in named_parameters order (rosinality)",
            "train_state": {
                "mean_path_length": self.state.mean_path_length,
                "lr_scale": self.state.lr_scale,
                "recoveries": self.state.recoveries,
                "best_swd": self.state.best_swd,
                "augment": self.augment.get_extra_state() if self.augment is not None else None,
            },
        }

    def checkpoint_args(self) -> dict:
        """The run's options with the model's actual config (a fine-tune's comes from its source).

        rosinality spells the latent width `latent`; both names are given.
        """
        config = self.g.config.to_dict()
        return {**self.options.to_dict(), **config, "latent": config["style_dim"]}

    def save_checkpoint(self, evaluate: bool = True) -> None:
        """Write step-N.pt (rosinality train layout + metadata) on rank 0 and prune old ones.

        With `evaluate` (and --eval-images > 0), g_ema's SWD to the training images is measured
        first; a new lowest score also becomes checkpoints/best.pt.
        """
        digests = ddp.gather_digests(ddp.weights_digest([self.g, self.d, self.g_ema]), self.info, self.device)
        if not self.info.is_main:
            return
        if not self._all_finite():
            raise TrainingDiverged(f"non-finite weights at step {self.state.step}: refusing to write a checkpoint")
        if len(set(digests)) != 1:
            raise RuntimeError(f"processes hold different weights at step {self.state.step}: {digests}")
        score = self.evaluate() if evaluate and self.options.eval_images else None
        improved = score is not None and (self.state.best_swd is None or score < self.state.best_swd)
        if improved:
            self.state.best_swd = score
        meta = self.checkpoint_meta()
        meta["process_digests"] = digests
        meta["swd"] = score
        path = self.run.checkpoint_path(self.state.step)
        save_checkpoint(
            path, g=self.g, d=self.d, g_ema=self.g_ema,
            g_optim=full_state(self.g_optim, self.g), d_optim=full_state(self.d_optim, self.d),
            args=self.checkpoint_args(),
            ada_aug_p=self.augment.p if self.augment is not None else 0.0,
            meta=meta,
        )
        if improved:
            self.run.mark_best(path)
            log.info("step %d: SWD %.3f, the best so far: %s", self.state.step, score, self.run.best)
        elif score is not None:
            log.info("step %d: SWD %.3f (best %.3f)", self.state.step, score, self.state.best_swd)
        self.run.prune(self.options.keep)

    @torch.no_grad()
    def evaluate(self) -> float:
        """Average SWD (x1e3, Laplacian-pyramid patches) between g_ema samples and training images.

        Offline and cheap next to FID: `eval_images` fixed seeds against a fixed random subset
        of the data, so scores of one run compare across steps.
        """
        n = min(self.options.eval_images, len(self.dataset))
        if self._real_stats is None:
            order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.options.seed))[:n]
            real = (self.dataset.batch(order[i : i + 64].numpy()) for i in range(0, n, 64))
            self._real_stats = image_set_statistics(real, seed=0, total=n, desc="SWD: training images")
        fake = image_set_statistics(generator_batches(self.g_ema, list(range(n)), batch=32), seed=1,
                                    total=n, desc="SWD: samples")
        score = swd(self._real_stats, fake, seed=0)["avg"]
        self.tb.add_scalars(self.state.step, {"swd": score})
        self._last_swd = score
        return score

    @torch.no_grad()
    def save_samples(self) -> None:
        """The sample grid of the current g_ema (beside the source g_ema when fine-tuning)."""
        if not self.info.is_main or self.options.sample_seeds == 0:
            return
        seeds = list(range(self.options.sample_seeds))
        if self.fixed_source is not None:
            grid = pair_grid(self.fixed_source, self.g_ema, seeds, columns=8)
        else:
            grid = make_grid(to_uint8(seeded_images(self.g_ema, seeds)), ncols=8)
        save_image(grid, self.run.sample_path(self.state.step))

    # ------------------------------------------------------------------ signals
    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = {}

        def handler(signum, frame):
            log.warning("%s: finishing step %d, writing a checkpoint, then stopping (again to abort)",
                        signal.Signals(signum).name, self.state.step)
            self._stop.set()
            signal.signal(signum, previous[signum])  # a second signal acts at once

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, handler)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous) -> None:
        for sig, h in (previous or {}).items():
            signal.signal(sig, h)
