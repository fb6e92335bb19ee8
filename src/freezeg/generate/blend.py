"""Layer swapping: a generator whose coarse blocks come from one model and fine blocks from another.

Pinkney & Adler 2020, "Resolution Dependent GAN Interpolation for Controllable Image
Synthesis Between Domains": blocks below a resolution keep one model's structure, blocks
from it on take the other's rendering. A smooth blend mixes the weights of neighbouring
resolutions with a sigmoid in log2(resolution) instead of a hard cut.
"""

from __future__ import annotations

import copy
import math

import torch

from ..models.networks import Generator


def check_compatible(a: Generator, b: Generator, name_a: str = "source", name_b: str = "target") -> None:
    """Raise ValueError unless both generators have the same architecture (config and shapes)."""
    ca, cb = a.config, b.config
    fields = ("size", "style_dim", "n_mlp")
    diffs = [f"{f} {getattr(ca, f)} vs {getattr(cb, f)}" for f in fields if getattr(ca, f) != getattr(cb, f)]
    if not diffs and ca.channel_table() != cb.channel_table():
        diffs.append(f"channels {ca.channel_table()} vs {cb.channel_table()}")
    if diffs:
        raise ValueError(f"{name_a} and {name_b} generators differ: {'; '.join(diffs)}")


def blend_weights(resolutions: list[int], swap_at: int | None = None, width: float = 0.0,
                  share: float = 1.0) -> dict[int, float]:
    """Share of the target per block resolution.

    With `swap_at`: 0 below it, 1 from it on when width is 0; otherwise
    sigmoid((log2 r - log2 swap_at + 0.5) / width), centred between the two blocks. Every
    share is then scaled by `share`; without `swap_at` every block takes `share` (plain
    network interpolation, Wang et al. 2019, "Deep Network Interpolation for Continuous
    Imagery Effect Transition": a weaker fine-tune of the same shapes).
    """
    if width < 0:
        raise ValueError(f"blend width must be >= 0, got {width}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--share must be in [0, 1], got {share}")
    if swap_at is None:
        return {r: share for r in resolutions}
    if swap_at not in resolutions:
        raise ValueError(f"--swap-at {swap_at}: must be one of the block resolutions {resolutions}")
    out = {}
    for r in resolutions:
        if width == 0:
            out[r] = share if r >= swap_at else 0.0
        else:
            out[r] = share / (1.0 + math.exp(-(math.log2(r) - math.log2(swap_at) + 0.5) / width))
    return out


@torch.no_grad()
def blend_generators(source: Generator, target: Generator, swap_at: int | None = None, width: float = 0.0,
                     share: float = 1.0) -> Generator:
    """A new generator: blocks below `swap_at` from `source`, from `swap_at` on from `target`
    (or a sigmoid mix of the two, `width` octaves wide), each target share scaled by `share`;
    see blend_weights."""
    return blend_blocks(source, target, blend_weights(source.config.resolutions, swap_at, width, share))


@torch.no_grad()
def blend_blocks(source: Generator, target: Generator, shares: dict[int, float]) -> Generator:
    """A new generator whose block at each resolution r is lerp(source, target, shares[r]).

    The mapping network and the average w come from the source, so latents projected with the
    source generator stay valid. Stored noise maps are taken whole from the model with the larger
    share (averaging two noise maps would shrink their variance).
    """
    check_compatible(source, target)
    resolutions = source.config.resolutions
    if sorted(shares) != resolutions:
        raise ValueError(f"need a target share for each block resolution {resolutions}, got {sorted(shares)}")
    bad = [f"{r}px {a}" for r, a in shares.items() if not 0.0 <= a <= 1.0]
    if bad:
        raise ValueError(f"target shares must be in [0, 1], got {', '.join(bad)}")
    out = copy.deepcopy(source)
    for b_out, b_tgt in zip(out.blocks(), target.blocks()):
        a = shares[b_out.resolution]
        for m_out, m_tgt in zip(b_out.modules(), b_tgt.modules()):
            for p_out, p_tgt in zip(m_out.parameters(), m_tgt.parameters()):
                p_out.lerp_(p_tgt, a)
        for layer_out in b_out.layers:
            j = layer_out.noise_index
            if a >= 0.5:
                getattr(out.noises, f"noise_{j}").copy_(getattr(target.noises, f"noise_{j}"))
    return out
