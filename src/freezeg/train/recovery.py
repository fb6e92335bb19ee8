"""Non-finite training: skip the update, and after `nan_patience` in a row reload the newest
checkpoint at half the learning rate, at most `MAX_RECOVERIES` times."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

log = logging.getLogger("freezeg")

MAX_RECOVERIES = 5  # reloads after non-finite streaks before the run gives up


class TrainingDiverged(RuntimeError):
    """Raised when training keeps producing non-finite values despite reloads at lower lr."""


@dataclass
class NonFiniteGuard:
    """Counts skipped (non-finite) updates and decides when to fall back to a checkpoint."""

    patience: int  # consecutive skipped updates before a reload
    lr_scale: float = 1.0  # halved at every reload (checkpointed)
    recoveries: int = 0  # reloads so far (checkpointed)
    bad_streak: int = 0  # consecutive skipped updates
    skipped: int = 0  # skipped updates in this process (for the closing summary)

    def observe(self, ok: bool, step: int) -> bool:
        """Record an iteration's verdict; True when the run should reload a checkpoint now."""
        self.bad_streak = 0 if ok else self.bad_streak + 1
        self.skipped += 0 if ok else 1
        if not ok:
            log.warning("step %d: non-finite loss or gradient; update skipped (%d in a row)", step, self.bad_streak)
        return self.bad_streak >= self.patience

    def next_scale(self, where: str, lr: float, has_checkpoint: bool) -> float:
        """The learning-rate scale after a reload; TrainingDiverged when no reload can help."""
        if self.recoveries >= MAX_RECOVERIES:
            raise TrainingDiverged(
                f"{where}: still non-finite after {MAX_RECOVERIES} reloads at lower learning rates "
                f"(now {lr * self.lr_scale:g}); check the data and settings"
            )
        if not has_checkpoint:
            raise TrainingDiverged(f"{where}: non-finite training and no checkpoint to fall back to")
        return self.lr_scale * 0.5


def poison_gradients(params: list[torch.nn.Parameter]) -> None:
    """Make one gradient NaN, as a blown-up step would (fault injection: FREEZEG_FAULTS nan@step=K)."""
    for p in params:
        if p.grad is not None:
            p.grad.view(-1)[0] = float("nan")
            return
    if params:
        params[0].grad = torch.full_like(params[0], float("nan"))
