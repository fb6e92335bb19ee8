"""NVlabs' StyleGAN2 parameter names and layouts against ours (rosinality's), in one table.

NVlabs' networks (stylegan2-ada-pytorch `training/networks.py`, and the identical layout of
the stylegan3 repository's `training/networks_stylegan2.py`) and rosinality's model hold
the same numbers under different names and, for a few tensors, different shapes. Each
`Entry` names one tensor on both sides and how it is laid out; `to_ours` / `to_nvlabs`
convert one tensor, and the importer checks every converted shape against a freshly built
model of ours (as nanoGPT's `from_pretrained` does).

Layouts (NVlabs <-> ours):
  same       identical tensors
  const      [C, 4, 4]           <-> [1, C, 4, 4]        the learned constant input
  modconv    [O, I, k, k]        <-> [1, O, I, k, k]     modulated conv weights (no flip: the
                                                          up-convs of both are transposed convs
                                                          of the unflipped weight; checked
                                                          numerically against NVlabs' code)
  strength   []                  <-> [1]                 noise strength
  noise      [r, r]              <-> [1, 1, r, r]        stored noise (noise_const / noises.noise_j)
  rgb_bias   [3]                 <-> [1, 3, 1, 1]        toRGB bias
  filter_up  [k, k] (sum 1)      <-> [k, k] (sum 4)      FIR filter of an upsampling (we store it
                                                          with the zero-insertion gain)
  filter     [k, k] (sum 1)      <-> [k, k] (sum 1)      FIR filter of a downsampling
  unused     [k, k]              <-> (none)              NVlabs' resample_filter buffers of layers
                                                          that do not resample
  w_avg      [D] mapping.w_avg   <-> [D] latent_avg      the truncation centre, kept beside
                                                          our state dict (rosinality's convert format)

Gains and learning-rate multipliers are the same on both sides (equalised lr: weights stored
unscaled, scaled at run time by lr_mul / sqrt(fan_in); the mapping's lr_mul comes from the
pickle). NVlabs' modulated-conv weights carry no run-time gain because demodulation cancels
any scale; ours multiply by 1/sqrt(fan_in) first, so the same stored weight gives the same
output (up to demodulation's 1e-8 epsilon) and the same Adam step size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..networks import ModelConfig
from ..ops import make_kernel

LAYOUTS = ("same", "const", "modconv", "strength", "noise", "rgb_bias", "filter_up", "filter", "unused", "w_avg")
LATENT_AVG = "latent_avg"  # our name for the truncation centre (not in the generator's state dict)


@dataclass(frozen=True)
class Entry:
    """One tensor: its NVlabs state-dict name, our name (None: we do not store it), its layout."""

    nvlabs: str
    ours: str | None
    layout: str


def generator_table(config: ModelConfig) -> list[Entry]:
    """Every tensor of NVlabs' Generator state dict, in its order, with our name for it."""
    table: list[Entry] = []
    add = lambda nv, ours, layout="same": table.append(Entry(nv, ours, layout))  # noqa: E731

    def synthesis_layer(nv: str, ours: str, noise_index: int, up: bool) -> None:
        add(f"{nv}.weight", f"{ours}.conv.weight", "modconv")
        add(f"{nv}.noise_strength", f"{ours}.noise.weight", "strength")
        add(f"{nv}.bias", f"{ours}.activate.bias")
        add(f"{nv}.resample_filter", f"{ours}.conv.blur.kernel" if up else None, "filter_up" if up else "unused")
        add(f"{nv}.noise_const", f"noises.noise_{noise_index}", "noise")
        add(f"{nv}.affine.weight", f"{ours}.conv.modulation.weight")
        add(f"{nv}.affine.bias", f"{ours}.conv.modulation.bias")

    def to_rgb(nv: str, ours: str) -> None:
        add(f"{nv}.weight", f"{ours}.conv.weight", "modconv")
        add(f"{nv}.bias", f"{ours}.bias", "rgb_bias")
        add(f"{nv}.affine.weight", f"{ours}.conv.modulation.weight")
        add(f"{nv}.affine.bias", f"{ours}.conv.modulation.bias")

    add("synthesis.b4.const", "input.input", "const")
    add("synthesis.b4.resample_filter", None, "unused")
    synthesis_layer("synthesis.b4.conv1", "conv1", 0, up=False)
    to_rgb("synthesis.b4.torgb", "to_rgb1")
    for k, res in enumerate(config.resolutions[1:]):
        block = f"synthesis.b{res}"
        add(f"{block}.resample_filter", f"to_rgbs.{k}.upsample.kernel", "filter_up")  # the RGB skip upsampling
        synthesis_layer(f"{block}.conv0", f"convs.{2 * k}", 2 * k + 1, up=True)
        synthesis_layer(f"{block}.conv1", f"convs.{2 * k + 1}", 2 * k + 2, up=False)
        to_rgb(f"{block}.torgb", f"to_rgbs.{k}")
    add("mapping.w_avg", LATENT_AVG, "w_avg")
    for i in range(config.n_mlp):
        add(f"mapping.fc{i}.weight", f"style.{i + 1}.weight")
        add(f"mapping.fc{i}.bias", f"style.{i + 1}.bias")
    return table


def discriminator_table(config: ModelConfig) -> list[Entry]:
    """Every tensor of NVlabs' (resnet, unconditional) Discriminator state dict, with our name."""
    table: list[Entry] = []
    add = lambda nv, ours, layout="same": table.append(Entry(nv, ours, layout))  # noqa: E731
    for j, res in enumerate(reversed(config.resolutions[1:]), start=1):
        block, ours = f"b{res}", f"convs.{j}"
        add(f"{block}.resample_filter", None, "unused")
        if j == 1:
            add(f"{block}.fromrgb.weight", "convs.0.0.weight")
            add(f"{block}.fromrgb.bias", "convs.0.1.bias")
            add(f"{block}.fromrgb.resample_filter", None, "unused")
        add(f"{block}.conv0.weight", f"{ours}.conv1.0.weight")
        add(f"{block}.conv0.bias", f"{ours}.conv1.1.bias")
        add(f"{block}.conv0.resample_filter", None, "unused")
        add(f"{block}.conv1.weight", f"{ours}.conv2.1.weight")
        add(f"{block}.conv1.bias", f"{ours}.conv2.2.bias")
        add(f"{block}.conv1.resample_filter", f"{ours}.conv2.0.kernel", "filter")
        add(f"{block}.skip.weight", f"{ours}.skip.1.weight")
        add(f"{block}.skip.resample_filter", f"{ours}.skip.0.kernel", "filter")
    add("b4.conv.weight", "final_conv.0.weight")
    add("b4.conv.bias", "final_conv.1.bias")
    add("b4.conv.resample_filter", None, "unused")
    add("b4.fc.weight", "final_linear.0.weight")
    add("b4.fc.bias", "final_linear.0.bias")
    add("b4.out.weight", "final_linear.1.weight")
    add("b4.out.bias", "final_linear.1.bias")
    return table


def to_ours(entry: Entry, t: torch.Tensor) -> torch.Tensor:
    """An NVlabs tensor in our layout (float32; a view of `t` where the layout allows: a
    freshly unpickled tensor is ours to keep, and copying 300 MB twice is what made a 256 px
    import slow)."""
    t = t.detach().to(torch.float32)
    layout = entry.layout
    if layout in ("same", "filter", "w_avg"):
        return t
    if layout in ("const", "modconv"):
        return t.unsqueeze(0)
    if layout == "strength":
        return t.reshape(1)
    if layout == "noise":
        return t.reshape(1, 1, *t.shape[-2:])
    if layout == "rgb_bias":
        return t.reshape(1, -1, 1, 1)
    if layout == "filter_up":
        return t * 4.0
    raise ValueError(f"{entry.nvlabs}: layout {layout!r} has no counterpart of ours")


def to_nvlabs(entry: Entry, t: torch.Tensor | None, taps: Sequence[float]) -> torch.Tensor:
    """Our tensor in NVlabs' layout; `unused` filters are made from the FIR `taps`."""
    layout = entry.layout
    if layout == "unused":
        return make_kernel(taps)  # NVlabs' setup_filter: the outer product, normalised to sum 1
    if t is None:
        raise ValueError(f"{entry.ours}: missing")
    t = t.detach().to(torch.float32)
    if layout in ("same", "filter", "w_avg"):
        return t.clone()
    if layout in ("const", "modconv"):
        return t.squeeze(0).clone()
    if layout == "strength":
        return t.reshape(()).clone()
    if layout == "noise":
        return t.reshape(*t.shape[-2:]).clone()
    if layout == "rgb_bias":
        return t.reshape(-1).clone()
    if layout == "filter_up":
        return t / 4.0
    raise ValueError(f"{entry.nvlabs}: unknown layout {layout!r}")

