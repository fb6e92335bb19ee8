"""The training loop: StyleGAN2 from scratch, or fine-tuning a pretrained one with frozen layers.

One iteration is rosinality's (train.py) and Karras et al. 2020's: the phases of the loss
object (freezeg.train.losses: D step, lazy R1, G step, lazy path length), each followed by its
optimiser step, then the g_ema update. The loop only schedules them; the pieces around it each
have their own module: batches (what an iteration draws), evaluation (SWD, sample grids),
checkpointing (what a checkpoint holds), recovery (non-finite steps), signals (clean stops).

Reproducibility: the global RNGs are reseeded at the start of every iteration from
(seed, rank, step), and the images of an iteration are a pure function of (seed, step, rank).
So a run resumed from any checkpoint draws exactly what the uninterrupted run drew, on
every process, without saving generator states; everything else that carries over (weights,
Adam moments, g_ema, ADA's p and its statistics, the path-length mean, the lr after NaN
recoveries) is in the checkpoint.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..data.dataset import ImageDataset, open_dataset
from ..models.checkpoint import Checkpoint, build_discriminator, build_generator, load_checkpoint, save_checkpoint
from ..models.freeze import apply_discriminator_freeze, apply_generator_freeze, trainable_parameters
from ..models.networks import Discriminator, Generator, ModelConfig
from ..utils import faults
from ..utils.devices import resolve_device
from ..utils.files import WriteFailed
from ..utils.precision import autocast_factory, resolve_precision
from . import distributed as ddp
from .augment import AdaptiveAugment, parse_augment
from .batches import EpochSampler, step_seed
from .checkpointing import checkpoint_args, checkpoint_meta, train_state
from .ema import GeneratorEMA, ema_beta
from .evaluation import SWDEvaluator, save_sample_grid
from .logs import CsvLog, IntervalStats, TensorBoardWriter, duration
from .losses import D_PHASES, StyleGAN2Loss
from .optim import build_adam, full_state, load_full_state, set_lr
from .options import TrainOptions
from .recovery import NonFiniteGuard, TrainingDiverged, poison_gradients
from .run import RunFolder
from .signals import StopOnSignal, StopRequested

log = logging.getLogger("freezeg")

__all__ = ["Trainer", "TrainState", "StopRequested", "TrainingDiverged"]


@dataclass
class TrainState:
    """Where the run is (besides weights, Adam, the loss's statistics and the non-finite guard)."""

    step: int = 0  # iterations completed
    best_swd: float | None = None  # lowest evaluation score so far (checkpoints/best.pt)


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
        self.precision = resolve_precision(options.precision, device)  # what `auto` means here: bf16 or fp32
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
        self.guard = NonFiniteGuard(options.nan_patience)

        self._fresh_start = resume_ckpt is None  # known to every process (the folder may lag on shared disks)
        self._build(config, resume_ckpt or source, fresh_parts=self._fresh_start)
        if resume_ckpt is not None:
            self._restore_state(resume_ckpt)
        self.fixed_source = self._fixed_source(source)
        del source  # its tensors are in the networks now; don't hold a second copy for the whole run
        self._interval = IntervalStats()
        self.evaluator = SWDEvaluator(self.dataset, options.eval_images, options.seed)
        self._last_swd = float("nan")
        self.stop = StopOnSignal(lambda: f"finishing step {self.state.step}")
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
            return o.model
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
            # A training mapping makes the stored average w stale; save_checkpoint would write g's.
            self.g.w_avg = self.g_ema.w_avg = None
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
        mean_path_length = self.loss.mean_path_length if getattr(self, "loss", None) is not None else 0.0
        self.loss = StyleGAN2Loss(self.g, self.d, o, self.augment, self.d_params, self.info,
                                  autocast_factory(self.precision, self.device))
        self.loss.mean_path_length = mean_path_length

    def _set_lr(self) -> None:
        o, lr = self.options, self.options.lr * self.guard.lr_scale
        set_lr(self.g_optim, lr, o.betas, o.g_reg_every)
        set_lr(self.d_optim, lr, o.betas, o.d_reg_every)

    def _restore_state(self, ckpt: Checkpoint) -> None:
        meta = ckpt.meta
        s = meta.get("train_state") or {}
        self.state = TrainState(step=int(ckpt.step), best_swd=s.get("best_swd"))
        self.loss.mean_path_length = float(s.get("mean_path_length", 0.0))
        self.guard.lr_scale = float(s.get("lr_scale", 1.0))
        self.guard.recoveries = int(s.get("recoveries", 0))
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
    def _update(self, phase: str, real: torch.Tensor) -> bool:
        """One phase: its gradients, averaged over processes, then a step unless anything is non-finite."""
        optim, params = (self.d_optim, self.d_params) if phase in D_PHASES else (self.g_optim, self.g_params)
        optim.zero_grad(set_to_none=True)
        result = self.loss.accumulate_gradients(phase, real)
        if faults.nan_at(self.state.step + 1):
            poison_gradients(params)
        ok = ddp.reduce_gradients(params, self.info, result.loss)
        if ok:
            optim.step()
            if result.commit is not None:
                result.commit()
        optim.zero_grad(set_to_none=True)
        for name, value in result.logs.items():
            self._interval.add(name, value)
        return ok

    def iteration(self) -> bool:
        """One iteration at self.state.step; returns False when an update was skipped as non-finite."""
        o, step = self.options, self.state.step
        torch.manual_seed(step_seed(o.seed, self.info.rank, step))
        real = self.dataset.batch(self.sampler.indices(step), device=self.device)
        ok = True
        for phase in self.loss.due(step):
            ok &= self._update(phase, real)
        beta = ema_beta(o.batch, step * o.batch, o.ema_kimg, o.ema_rampup)
        self.ema.update(beta)
        self.state.step += 1
        self._interval.images += o.batch
        if not ok:
            self._interval.skipped += 1
        return ok

    # ------------------------------------------------------------------ the loop
    def train(self) -> int:
        """Run until `options.steps` iterations; returns the last step. Raises StopRequested on a
        signal, and WriteFailed (saying which checkpoint a --resume continues from) on a full disk."""
        try:
            step = self._train()
        except WriteFailed as e:
            raise e.with_note(e.note or self.run.resume_note()) from None
        if self.guard.skipped and self.info.is_main:
            log.warning("%d iteration%s skipped as non-finite and %d checkpoint reload%s (log.csv: skipped); "
                        "a run that skips often is not learning: check the data and lower --lr",
                        self.guard.skipped, " was" if self.guard.skipped == 1 else "s were", self.guard.recoveries,
                        "" if self.guard.recoveries == 1 else "s")
        return step

    def _train(self) -> int:
        o = self.options
        if self._fresh_start:  # every process takes part in writing a checkpoint
            self.save_checkpoint()  # the starting point: what a non-finite recovery can fall back to
            self.save_samples()
            self._fresh_start = False
        bar = tqdm(total=o.steps, initial=self.state.step, desc="training", unit="it",
                   disable=None if self.info.is_main else True, dynamic_ncols=True)
        try:
            with self.stop:
                while self.state.step < o.steps:
                    ok = self.iteration()
                    if self.guard.observe(ok, self.state.step):
                        self._recover(bar)
                        continue
                    bar.update(1)
                    faults.reached("step")
                    step = self.state.step
                    if step % o.sample_every == 0 or step == o.steps:
                        self.save_samples()
                    stop = ddp.any_true(self.stop.requested.is_set(), self.info, self.device)
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
            if self.info.is_main:
                self.tb.close()
        return self.state.step

    def _recover(self, bar) -> None:
        """Reload the newest checkpoint and halve the learning rate after repeated non-finite steps."""
        ckpt = self.run.latest_checkpoint()
        lr_scale = self.guard.next_scale(str(self.run.path), self.options.lr, ckpt is not None)
        recoveries = self.guard.recoveries + 1
        log.warning("%d non-finite steps in a row: reloading %s (step %s) and lowering the learning rate to %g",
                    self.guard.bad_streak, ckpt.path, ckpt.step, self.options.lr * lr_scale)
        self._build(ckpt.config, ckpt, fresh_parts=False)
        self._restore_state(ckpt)
        self.guard.lr_scale, self.guard.recoveries, self.guard.bad_streak = lr_scale, recoveries, 0
        self._set_lr()
        bar.n = self.state.step
        bar.refresh()

    def _log(self, bar) -> None:
        iv = self._interval
        row = iv.row(self.state.step, self.options.batch)
        row.update({
            "ada_p": self.augment.p if self.augment is not None else 0.0,
            "ada_rt": (self.augment.r_t if self.augment is not None and self.augment.r_t is not None else float("nan")),
            "lr": self.options.lr * self.guard.lr_scale, "skipped": iv.skipped, "swd": self._last_swd})
        self._interval = IntervalStats()
        if not self.info.is_main:
            return
        shown = {k: f"{row[k]:.3g}" for k in ("d_loss", "g_loss", "images_per_s", "ada_p") if k in row}
        if bar.disable:  # no terminal (nohup, CI, a cluster job): one plain line per log interval instead
            remaining = (self.options.steps - self.state.step) / max(self.options.log_every / row["seconds"], 1e-9)
            log.info("step %d/%d  %s  eta %s", self.state.step, self.options.steps,
                     "  ".join(f"{k} {v}" for k, v in shown.items()), duration(remaining))
        else:
            bar.set_postfix(shown)
        self.csv.write(row)
        self.tb.add_scalars(self.state.step, {k: v for k, v in row.items() if k not in ("step", "swd")})

    # ------------------------------------------------------------------ files
    def _all_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for m in (self.g, self.d, self.g_ema) for p in m.parameters())

    def checkpoint_meta(self) -> dict:
        state = train_state(self.loss.mean_path_length, self.guard, self.state.best_swd, self.augment)
        return checkpoint_meta(self.options, self.state.step, self.dataset.fingerprint, len(self.dataset),
                               self.info.world_size, state, self.precision)

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
            args=checkpoint_args(self.options, self.g.config),
            ada_aug_p=self.augment.p if self.augment is not None else 0.0,
            meta=meta,
        )
        if improved:
            self.run.mark_best(path)
            log.info("step %d: SWD %.3f, the best so far: %s", self.state.step, score, self.run.best)
        elif score is not None:
            log.info("step %d: SWD %.3f (best %.3f)", self.state.step, score, self.state.best_swd)
        self.run.prune(self.options.keep)

    def evaluate(self) -> float:
        """g_ema's SWD to the training images (freezeg.train.evaluation), logged to TensorBoard."""
        score = self.evaluator(self.g_ema)
        self.tb.add_scalars(self.state.step, {"swd": score})
        self._last_swd = score
        return score

    def save_samples(self) -> None:
        """The sample grid of the current g_ema (beside the source g_ema when fine-tuning)."""
        if not self.info.is_main or self.options.sample_seeds == 0:
            return
        save_sample_grid(self.run.sample_path(self.state.step), self.g_ema,
                         list(range(self.options.sample_seeds)), self.fixed_source)
