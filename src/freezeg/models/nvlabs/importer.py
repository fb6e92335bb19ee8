"""NVlabs StyleGAN2 network pickles -> our model config and rosinality-layout state dicts.

Reads the pickles of stylegan2-ada-pytorch (`network-snapshot-*.pkl`, ffhq.pkl, metfaces.pkl,
...) and the stylegan3 repository's StyleGAN2 networks without their code (see unpickler.py),
checks that every network is one we can represent exactly, and carries the settings that
change outputs or training into ModelConfig: mapping depth and lr multiplier, conv_clamp,
the FIR filter, D's minibatch-stddev group and channels. Anything else is refused with one
line that says what the file is.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ..networks import Discriminator, Generator, ModelConfig
from ..ops import fir_taps
from .names import LATENT_AVG, Entry, discriminator_table, generator_table, to_ours
from .records import PersistentRecord
from .unpickler import PickleRefused, PickleUnreadable, load_restricted

NETWORK_KEYS = ("G_ema", "G", "D")  # snapshot entries we read; augment_pipe and the rest are ignored
OUR_PART = {"G_ema": "g_ema", "G": "g", "D": "d"}
NVLABS_STATE_DICTS = "nvlabs-state-dicts"  # the format of `freezeg convert --to nvlabs` files


class NVlabsPickleError(ValueError):
    """An NVlabs pickle we will not or cannot read; the message names the file and the reason."""


@dataclass
class ImportedNetworks:
    """What an NVlabs pickle becomes: our config, our parts, and where they came from."""

    config: ModelConfig
    parts: dict[str, Any]  # g_ema / g / d state dicts in rosinality's layout, latent_avg
    source: dict[str, Any] = field(default_factory=dict)  # plain values for the checkpoint's metadata


def read_network_pickle(path: str | Path) -> ImportedNetworks:
    """Read an NVlabs network pickle safely and map its networks onto ours."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = load_restricted(f)
    except PickleRefused as e:
        raise NVlabsPickleError(f"{path}: {e}") from None
    except PickleUnreadable as e:
        raise NVlabsPickleError(f"{path}: not a usable network pickle: it holds {e}") from None
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError, AttributeError, MemoryError) as e:
        detail = "it ends early" if isinstance(e, EOFError) or "truncated" in str(e) else f"{type(e).__name__}: {e}"
        raise NVlabsPickleError(f"{path}: truncated or corrupt pickle ({detail})") from None
    return import_networks(data, str(path))


def import_networks(data: Any, where: str) -> ImportedNetworks:
    """Map the records of an unpickled NVlabs snapshot dict onto our config and state dicts."""
    try:
        return _import_networks(data, where)
    except NVlabsPickleError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as e:  # records of an unexpected shape
        raise NVlabsPickleError(f"{where}: not a StyleGAN2 network pickle we can read ({type(e).__name__}: {e})") from None


def _import_networks(data: Any, where: str) -> ImportedNetworks:
    if not isinstance(data, dict):
        raise NVlabsPickleError(f"{where}: not an NVlabs network pickle (top level is a {type(data).__name__}, not a dict)")
    records = {k: data[k] for k in NETWORK_KEYS if isinstance(data.get(k), PersistentRecord)}
    if "G_ema" not in records and "G" not in records:
        keys = ", ".join(map(str, list(data)[:6])) or "none"
        raise NVlabsPickleError(f"{where}: not an NVlabs network pickle (no G_ema or G network; keys: {keys})")

    main_key = "G_ema" if "G_ema" in records else "G"
    config, state, w_avg = _read_generator(records[main_key], f"{where}: {main_key}")
    parts: dict[str, Any] = {OUR_PART[main_key]: state}
    if w_avg is not None:
        parts[LATENT_AVG] = w_avg
    if main_key == "G_ema" and "G" in records:
        g_config, parts["g"], _ = _read_generator(records["G"], f"{where}: G")
        _require_same(g_config, config, f"{where}: G and G_ema")
    if "D" in records:
        config, parts["d"] = _read_discriminator(records["D"], f"{where}: D", config)
    return ImportedNetworks(config=config, parts=parts, source=_describe(data, records))


def import_state_dicts(config: ModelConfig, nets: dict[str, Any], where: str) -> dict[str, Any]:
    """NVlabs-named state dicts (G_ema, G, D; as `freezeg convert --to nvlabs` writes them) ->
    our parts, through the same table and shape checks as a pickle."""
    parts: dict[str, Any] = {}
    for key in NETWORK_KEYS:
        if isinstance(nets.get(key), dict):
            cls, table = (Discriminator, discriminator_table) if key == "D" else (Generator, generator_table)
            parts[OUR_PART[key]], w_avg = _convert(nets[key], table(config), _shapes(cls, config), f"{where}: {key}")
            if w_avg is not None:
                parts.setdefault(LATENT_AVG, w_avg)
    return parts


# --------------------------------------------------------------------------- generator
def _read_generator(rec: PersistentRecord, where: str) -> tuple[ModelConfig, dict, torch.Tensor | None]:
    if rec.class_name != "Generator":
        raise NVlabsPickleError(f"{where} is a {rec.class_name} record, not a StyleGAN2 generator")
    synthesis, mapping = rec.child("synthesis"), rec.child("mapping")
    if synthesis is None or mapping is None:
        raise NVlabsPickleError(f"{where}: a generator record without mapping and synthesis networks")
    if synthesis.child("input") is not None or synthesis.attr("layer_names") is not None:
        raise NVlabsPickleError(f"{where}: {_stylegan3_kind(synthesis)}; freezeg reads StyleGAN2 (config F) networks only")
    _refuse_conditional(rec.attr("c_dim", mapping.attr("c_dim", 0)), where)
    if mapping.child("embed") is not None:
        _refuse_conditional(mapping.attr("c_dim", "> 0"), where)
    z_dim, w_dim = rec.attr("z_dim"), rec.attr("w_dim")
    if z_dim != w_dim:
        raise NVlabsPickleError(f"{where}: z_dim {z_dim} differs from w_dim {w_dim}; freezeg's mapping keeps one style size")
    _require_rgb(rec.attr("img_channels", 3), where)
    size = int(rec.attr("img_resolution"))
    resolutions = [2**k for k in range(2, int(math.log2(size)) + 1)]
    nv = rec.tensors()

    clamps, taps = set(), set()
    channels: dict[int, int] = {}
    for res in resolutions:
        block = _child(synthesis, f"b{res}", "SynthesisBlock", where)
        _require_architecture(block, "skip", "generator", where)
        layer_names = ["conv1"] if res == 4 else ["conv0", "conv1"]
        for name in layer_names:
            layer = _child(block, name, "SynthesisLayer", where)
            _require_lrelu(layer, f"{where}.synthesis.b{res}.{name}")
            clamps.add(layer.attr("conv_clamp"))
            if not layer.attr("use_noise", True):
                _zero_noise(nv, f"synthesis.b{res}.{name}", res)
        clamps.add(_child(block, "torgb", "ToRGBLayer", where).attr("conv_clamp"))
        weight = nv.get(f"synthesis.b{res}.{layer_names[0]}.weight")
        if weight is None or weight.ndim != 4 or weight.shape[-1] != 3:
            raise NVlabsPickleError(f"{where}: synthesis block b{res} has no 3x3 convolution weight")
        channels[res] = int(weight.shape[0])
        if res > 4:
            taps.add(fir_taps(nv.get(f"synthesis.b{res}.conv0.resample_filter")))
    if len(clamps) != 1:
        raise NVlabsPickleError(f"{where}: layers clamp at different values {sorted(map(str, clamps))}; freezeg keeps one conv_clamp")
    if len(taps) > 1:
        raise NVlabsPickleError(f"{where}: blocks use different resampling filters {sorted(taps)}")

    n_mlp = int(mapping.attr("num_layers", 0))
    gains = set()
    for i in range(n_mlp):
        fc = _child(mapping, f"fc{i}", "FullyConnectedLayer", where)
        _require_lrelu(fc, f"{where}.mapping.fc{i}")
        gains.add(float(fc.attr("bias_gain", 1.0)))
    if n_mlp < 1 or len(gains) != 1:
        raise NVlabsPickleError(f"{where}: a mapping network with {n_mlp} layers and lr multipliers {sorted(gains)}")

    config = ModelConfig(
        size=size,
        style_dim=int(w_dim),
        n_mlp=n_mlp,
        channels=channels,
        blur_kernel=next(iter(taps), (1, 3, 3, 1)),
        lr_mlp=gains.pop(),
        conv_clamp=clamps.pop(),
    )
    state, w_avg = _convert(nv, generator_table(config), _shapes(Generator, config), where)
    return config, state, w_avg


def _stylegan3_kind(synthesis: PersistentRecord) -> str:
    """'a StyleGAN3-T generator' / '-R': R configs use 1x1 convolutions and radial filters."""
    radial = any(
        rec.attr("conv_kernel") == 1 or rec.attr("use_radial_filters") for _, rec in synthesis.walk() if rec is not synthesis
    )
    return f"a StyleGAN3-{'R' if radial else 'T'} generator (alias-free, networks_stylegan3)"


def _zero_noise(nv: dict, layer: str, res: int) -> None:
    """A layer built with use_noise=False: no noise is the same as noise with strength 0."""
    nv.setdefault(f"{layer}.noise_strength", torch.zeros(()))
    nv.setdefault(f"{layer}.noise_const", torch.zeros(res, res))


# --------------------------------------------------------------------------- discriminator
def _read_discriminator(rec: PersistentRecord, where: str, config: ModelConfig) -> tuple[ModelConfig, dict]:
    if rec.class_name != "Discriminator":
        raise NVlabsPickleError(f"{where} is a {rec.class_name} record, not a StyleGAN2 discriminator")
    _refuse_conditional(rec.attr("c_dim", 0), where)
    if rec.child("mapping") is not None:
        _refuse_conditional("> 0", where)
    _require_rgb(rec.attr("img_channels", 3), where)
    if rec.attr("img_resolution") != config.size:
        raise NVlabsPickleError(f"{where}: a {rec.attr('img_resolution')}px discriminator beside a {config.size}px generator")
    nv = rec.tensors()

    clamps, channels = set(), {}
    for res in reversed(config.resolutions[1:]):
        block = _child(rec, f"b{res}", "DiscriminatorBlock", where)
        _require_architecture(block, "resnet", "discriminator", where)
        for name in (["fromrgb"] if res == config.size else []) + ["conv0", "conv1"]:
            layer = _child(block, name, "Conv2dLayer", where)
            _require_lrelu(layer, f"{where}.b{res}.{name}")
            clamps.add(layer.attr("conv_clamp"))
        _child(block, "skip", "Conv2dLayer", where)
        if res == config.size:
            channels[res] = int(nv[f"b{res}.fromrgb.weight"].shape[0])
        channels[res // 2] = int(nv[f"b{res}.conv1.weight"].shape[0])
        if fir_taps(nv.get(f"b{res}.conv1.resample_filter")) != config.blur_kernel:
            raise NVlabsPickleError(f"{where}: resamples with a different filter than the generator")
    epilogue = _child(rec, "b4", "DiscriminatorEpilogue", where)
    if epilogue.attr("cmap_dim", 0):
        _refuse_conditional("> 0", where)
    _require_architecture(epilogue, "resnet", "discriminator", where)
    conv = _child(epilogue, "conv", "Conv2dLayer", where)
    clamps.add(conv.attr("conv_clamp"))
    mbstd = epilogue.child("mbstd")
    group = mbstd.attr("group_size") if mbstd is not None else None
    mbstd_channels = int(mbstd.attr("num_channels", 1)) if mbstd is not None else 0

    if clamps != {config.conv_clamp}:
        raise NVlabsPickleError(
            f"{where}: clamps at {sorted(map(str, clamps))} but the generator at {config.conv_clamp}; "
            "freezeg keeps one conv_clamp for both"
        )
    if channels != config.channel_table():
        raise NVlabsPickleError(f"{where}: channels {channels} differ from the generator's {config.channel_table()}")
    config = replace(config, mbstd_group=None if group is None else int(group), mbstd_channels=mbstd_channels)
    state, _ = _convert(nv, discriminator_table(config), _shapes(Discriminator, config), where)
    return config, state


# --------------------------------------------------------------------------- the mapping itself
def _shapes(cls, config: ModelConfig) -> dict[str, torch.Size]:
    """State-dict shapes of our network for `config`, built without allocating weights."""
    with torch.device("meta"):
        return {k: v.shape for k, v in cls(config).state_dict().items()}


def _convert(nv: dict, table: list[Entry], shapes: dict, where: str) -> tuple[dict, torch.Tensor | None]:
    """NVlabs tensors -> our state dict through `table`, every shape checked; leftovers refused."""
    nv = dict(nv)
    ours: dict[str, torch.Tensor] = {}
    w_avg = None
    for entry in table:
        t = nv.pop(entry.nvlabs, None)
        if entry.layout == "unused":
            continue
        if t is None:
            if entry.layout == "w_avg":
                continue  # trained without a W average: truncation estimates one
            raise NVlabsPickleError(f"{where}: missing tensor {entry.nvlabs}")
        converted = to_ours(entry, t)
        if entry.layout == "w_avg":
            if converted.shape != (shapes["style.1.weight"][0],):
                raise NVlabsPickleError(f"{where}: {entry.nvlabs} has shape {tuple(t.shape)}")
            w_avg = converted
            continue
        expected = shapes[entry.ours]
        if converted.shape != expected:
            raise NVlabsPickleError(
                f"{where}: {entry.nvlabs} has shape {tuple(t.shape)}, which does not fit {entry.ours} {tuple(expected)}"
            )
        ours[entry.ours] = converted
    if nv:
        names = sorted(nv)
        raise NVlabsPickleError(f"{where}: tensors of an unknown architecture ({', '.join(names[:3])}{' ...' if len(names) > 3 else ''})")
    missing = sorted(set(shapes) - set(ours) - {k for k in shapes if k.endswith(".kernel")})
    if missing:
        raise NVlabsPickleError(f"{where}: nothing in the pickle for {', '.join(missing[:3])}")
    for key in shapes:  # FIR kernels that NVlabs does not store per layer: the standard ones
        if key.endswith(".kernel") and key not in ours:
            raise NVlabsPickleError(f"{where}: no resampling filter for {key}")
    return ours, w_avg


# --------------------------------------------------------------------------- checks and description
def _child(rec: PersistentRecord, name: str, class_name: str, where: str) -> PersistentRecord:
    child = rec.child(name)
    if not isinstance(child, PersistentRecord) or child.class_name != class_name:
        found = "nothing" if child is None else f"a {getattr(child, 'class_name', type(child).__name__)}"
        raise NVlabsPickleError(f"{where}: expected a {class_name} at {name}, found {found} (an unknown architecture)")
    return child


def _require_architecture(block: PersistentRecord, expected: str, network: str, where: str) -> None:
    """Config F: 'skip' generators, 'resnet' discriminators (all rosinality implements)."""
    arch = block.attr("architecture", expected)
    if arch != expected:
        raise NVlabsPickleError(
            f"{where}: a StyleGAN2 {network} with the {arch!r} architecture; freezeg (like rosinality) "
            f"implements {expected!r} (config F) only"
        )


def _require_lrelu(rec: PersistentRecord, where: str) -> None:
    act = rec.attr("activation", "lrelu")
    if act != "lrelu":
        raise NVlabsPickleError(f"{where}: uses the {act!r} activation; StyleGAN2 (and freezeg) use 'lrelu'")


def _require_rgb(img_channels: Any, where: str) -> None:
    if img_channels != 3:
        raise NVlabsPickleError(f"{where}: a network for {img_channels}-channel images; freezeg works with RGB (3 channels)")


def _refuse_conditional(c_dim: Any, where: str) -> None:
    if c_dim:
        raise NVlabsPickleError(
            f"{where}: a conditional network (c_dim {c_dim}: class labels as input); freezeg's networks are unconditional"
        )


def _require_same(a: ModelConfig, b: ModelConfig, where: str) -> None:
    if a.to_dict() != b.to_dict():
        raise NVlabsPickleError(f"{where} differ in architecture")


def _plain(value: Any) -> Any:
    """Metadata that weights_only loading accepts: str/int/float/bool/None in dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError, RuntimeError):
            pass
    return repr(value)


def _describe(data: dict, records: dict) -> dict:
    """Where the networks came from, for `freezeg inspect` and the checkpoint metadata."""
    stylegan3_repo = any(
        r.attr("in_features") is not None for rec in records.values() for _, r in rec.walk() if r.class_name == "FullyConnectedLayer"
    )
    augment = data.get("augment_pipe")
    p = augment.tensors().get("p") if isinstance(augment, PersistentRecord) else None
    return {
        "format": "nvlabs-pickle",
        "repository": "stylegan3 (networks_stylegan2)" if stylegan3_repo else "stylegan2-ada-pytorch",
        "networks": [k for k in NETWORK_KEYS if k in records],
        "training_set_kwargs": _plain(data.get("training_set_kwargs")),
        "augment_p": float(p) if p is not None and p.numel() == 1 else None,
    }
