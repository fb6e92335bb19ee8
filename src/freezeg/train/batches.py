"""Which images and random numbers an iteration uses: pure functions of (seed, rank, step).

The global RNGs are reseeded at the start of every iteration from `step_seed(seed, rank, step)`
and the images of an iteration come from `EpochSampler.indices(step)`, so a run resumed from
any checkpoint draws exactly what the uninterrupted run drew, without saving generator states.
"""

from __future__ import annotations

import numpy as np
import torch

from . import distributed as ddp

RNG_SCHEME = "reseeded every iteration from (seed, rank, step)"


def step_seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integer keys (numpy's SeedSequence)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0] >> 1)


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
