"""Data-parallel training over processes started by torchrun (NCCL on GPU, gloo on CPU).

We all-reduce gradients ourselves, as NVlabs' StyleGAN2-ADA does, instead of wrapping the
networks in DistributedDataParallel: the list of tensors to reduce is exactly the trainable
ones (frozen tensors are not in it, so there are no unused-parameter errors), the lazy
regularisers' double backward needs no special handling, and one flat buffer per step also
serves the non-finite check, so every process takes the same skip decision.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessInfo:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_from_env(device_kind: str) -> ProcessInfo:
    """Join the process group torchrun describes in the environment (no-op for one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return ProcessInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if device_kind == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return ProcessInfo(rank, world, local)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module, info: ProcessInfo) -> None:
    """Give every process rank 0's parameters and buffers."""
    if not info.distributed:
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=0)


def reduce_gradients(params: list[torch.nn.Parameter], info: ProcessInfo, loss: torch.Tensor | None = None) -> bool:
    """Average the gradients of `params` over processes; True when they and `loss` are finite.

    Missing gradients count as zeros. The loss rides in the same buffer and the check is made
    after averaging, so every process sees the same verdict.
    """
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    pieces = [g.reshape(-1) for g in grads]
    if loss is not None:
        pieces.append(loss.detach().reshape(1).to(pieces[0].dtype if pieces else torch.float32))
    if not pieces:
        return True
    flat = torch.cat(pieces)
    if info.distributed:
        dist.all_reduce(flat)
        flat /= info.world_size
    finite = bool(torch.isfinite(flat).all())
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(p)
        offset += n
    return finite


def all_true(flag: bool, info: ProcessInfo, device: torch.device) -> bool:
    """True when `flag` holds on every process."""
    if not info.distributed:
        return flag
    t = torch.tensor([0.0 if flag else 1.0], device=device)
    dist.all_reduce(t)
    return float(t.item()) == 0.0


def any_true(flag: bool, info: ProcessInfo, device: torch.device) -> bool:
    """True when `flag` holds on at least one process (e.g. a stop signal reached one of them)."""
    return not all_true(not flag, info, device)


def mean_scalar(value: torch.Tensor, info: ProcessInfo) -> torch.Tensor:
    """The mean of a scalar tensor over processes."""
    if not info.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / info.world_size


def weights_digest(modules: list[torch.nn.Module]) -> str:
    """SHA-256 of every state-dict entry (parameters and buffers) by name: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for module in modules:
        for name, p in module.state_dict().items():
            h.update(name.encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def gather_digests(digest: str, info: ProcessInfo, device: torch.device) -> list[str]:
    """Every process's digest, in rank order."""
    if not info.distributed:
        return [digest]
    mine = torch.tensor(list(bytes.fromhex(digest)), dtype=torch.int64, device=device)
    out = [torch.empty_like(mine) for _ in range(info.world_size)]
    dist.all_gather(out, mine)
    return [bytes(t.cpu().tolist()).hex() for t in out]
