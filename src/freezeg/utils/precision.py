"""Which floating-point precision the networks compute in: `--precision auto|bf16|fp32`.

`auto` picks bfloat16 where the device computes it natively and float32 elsewhere:
- CUDA: `torch.cuda.is_bf16_supported()` (Ampere and newer);
- CPU: the `amx_bf16` or `avx512_bf16` flag in /proc/cpuinfo (Intel Sapphire Rapids and newer,
  AMD Zen 4 and newer); without them oneDNN emulates bfloat16 and it is slower than float32
  (measured on an AMD EPYC Zen 3 with AVX2 only: a 3x3 convolution ran 10x slower in bf16);
- MPS and anything else: float32.

bfloat16 is mixed precision, as the StyleGAN2 authors ran fp16 (Karras et al. 2020, NVlabs'
StyleGAN2-ADA): the networks run under `torch.autocast`, while master weights, optimiser state,
EMA, losses and the R1/path-length penalties stay float32. bf16's exponent range is float32's,
so no loss scaling is needed. fp32 reproduces the reference numbers exactly.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path
from typing import Callable, ContextManager

import torch

log = logging.getLogger("freezeg")

PRECISIONS = ("auto", "bf16", "fp32")
NATIVE_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
_warned: set[str] = set()


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is no such file)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 in hardware (see the module docstring for the rule)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return any(flag in cpu_flags() for flag in NATIVE_CPU_FLAGS)
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """'bf16' or 'fp32' for `--precision` on `device`; says once when bf16 is asked of a device without it."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    native = native_bf16(device)
    if precision == "auto":
        return "bf16" if native else "fp32"
    if precision == "bf16" and not native and device.type not in _warned:
        _warned.add(device.type)
        log.warning("--precision bf16: this %s has no native bfloat16 units (%s), so bf16 runs slower "
                    "than fp32 here; --precision auto picks fp32", device.type,
                    "no amx_bf16/avx512_bf16 CPU flag" if device.type == "cpu" else "not supported")
    return precision


def autocast(precision: str, device: torch.device) -> ContextManager:
    """The context the networks run in: bfloat16 autocast for 'bf16', nothing for 'fp32'."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def autocast_factory(precision: str, device: torch.device) -> Callable[[], ContextManager]:
    """A function returning a fresh `autocast(precision, device)` context each call."""
    return functools.partial(autocast, precision, device)

