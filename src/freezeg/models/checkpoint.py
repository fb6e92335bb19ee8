"""Reading and writing StyleGAN2 checkpoints safely.

Reads rosinality's train format {g, d, g_ema, g_optim, d_optim, args, ada_aug_p}, its
convert_weight.py format {g_ema, latent_avg, [g, d]}, bare generator/discriminator state
dicts, freezeg's own files and NVlabs network pickles (stylegan2-ada-pytorch, the stylegan3
repository's StyleGAN2; see freezeg.models.nvlabs). Writes rosinality's top-level keys (so its
generate.py and train.py load our files) plus a `freezeg` metadata dict of plain Python values.

Every torch file is loaded with `torch.load(weights_only=True)` with only `argparse.Namespace`
allowed beyond tensors and containers; NVlabs pickles go through a restricted unpickler that
runs none of their code. A file that needs anything else is refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import pickle
import re
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..utils.files import atomic_path
from .networks import Discriminator, Generator, ModelConfig, default_channels
from .nvlabs.importer import NVLABS_STATE_DICTS, NVlabsPickleError, import_state_dicts, read_network_pickle
from .ops import fir_taps
from .run_layout import periodic_checkpoints
from .shipped import resolve_model

log = logging.getLogger("freezeg")

FORMAT_VERSION = 1
GENERATOR_PARTS = ("g_ema", "g")
MODEL_PARTS = ("g", "d", "g_ema")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and the problem."""


@dataclass
class Checkpoint:
    """The parts of a loaded checkpoint file and what they tell about the model."""

    path: str  # where it came from ("<state dict>" for in-memory input)
    format: str  # rosinality-train | rosinality-convert | freezeg | generator-state-dict | discriminator-state-dict | nvlabs-pickle | nvlabs-state-dicts
    parts: dict[str, Any]  # top-level entries as loaded (state dicts, optimizer states, ...)
    config: ModelConfig | None  # inferred from tensor shapes
    meta: dict[str, Any] = field(default_factory=dict)  # the `freezeg` dict of our own files

    def has(self, part: str) -> bool:
        return self.parts.get(part) is not None

    @property
    def step(self) -> int | None:
        return self.meta.get("step")

    def generator_key(self, preferred: str = "g_ema") -> str:
        """The part to build a generator from: `preferred`, else g_ema, else g."""
        for key in (preferred, *GENERATOR_PARTS):
            if self.has(key):
                return key
        raise CheckpointError(f"{self.path}: holds no generator (parts: {', '.join(self.parts) or 'none'})")


# --------------------------------------------------------------------------- loading
# torch.save's pre-1.6 (non-zip) format starts with this pickled magic number.
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
_SNIFF_BYTES = 1 << 16  # NVlabs' first persistence record starts within the first few hundred bytes


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file")


def is_network_pickle(path: str | os.PathLike) -> bool:
    """Whether `path` goes to the NVlabs pickle reader rather than torch.load.

    A plain pickle (not torch.save's zip archive, nor its pre-1.6 format) that is named .pkl
    or whose first records are NVlabs persistence records, so a renamed network pickle still
    reads; other plain pickles go to torch.load, which refuses them as before.
    """
    path = Path(path)
    if not path.is_file() or zipfile.is_zipfile(path):
        return False
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if head[:1] != b"\x80" or head.startswith(_LEGACY_TORCH_MAGIC):
        return False
    return path.suffix.lower() == ".pkl" or b"torch_utils.persistence" in head


def _torch_load(path: Path) -> Any:
    """torch.load with weights_only and one clear error per failure mode."""
    _check_file(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pickle-protocol chatter from non-checkpoints
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        blocked = re.search(r"unsupported GLOBAL ([\w.]+)", str(e))
        if blocked:
            raise CheckpointError(
                f"{path}: refused: loading it would run code ({blocked.group(1)}); "
                "only tensors, containers and argparse.Namespace are allowed"
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (unreadable pickle)") from None
    except (RuntimeError, zipfile.BadZipFile, EOFError) as e:
        if "central directory" in str(e) or "zip archive" in str(e) or isinstance(e, (zipfile.BadZipFile, EOFError)):
            raise CheckpointError(f"{path}: truncated or corrupt checkpoint (not a complete zip archive)") from None
        raise CheckpointError(f"{path}: cannot be read: {str(e).splitlines()[0]}") from None
    except (KeyError, ValueError, OSError, AttributeError, TypeError) as e:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {e})") from None


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(torch.is_tensor(v) for v in obj.values())


def _looks_like_generator(sd: Mapping) -> bool:
    return "style.1.weight" in sd and "input.input" in sd


def _looks_like_discriminator(sd: Mapping) -> bool:
    return "final_linear.0.weight" in sd and "convs.0.0.weight" in sd


def infer_generator_config(sd: Mapping[str, torch.Tensor]) -> ModelConfig:
    """Size, style dim, n_mlp, channel table and blur kernel of a generator state dict."""
    n_mlp = sum(1 for k in sd if re.fullmatch(r"style\.\d+\.weight", k))
    style_dim = sd["style.1.weight"].shape[1]
    n_rgb = sum(1 for k in sd if re.fullmatch(r"to_rgbs\.\d+\.bias", k))
    size = 2 ** (n_rgb + 2)
    channels = {4: sd["input.input"].shape[1]}
    for k in range(n_rgb):
        channels[2 ** (k + 3)] = sd[f"convs.{2 * k}.conv.weight"].shape[1]
    blur = fir_taps(sd.get("convs.0.conv.blur.kernel"))
    return _config_from_table(size, channels, style_dim=style_dim, n_mlp=n_mlp, blur_kernel=blur)


def infer_discriminator_config(sd: Mapping[str, torch.Tensor]) -> ModelConfig:
    """Size, channel table and minibatch-stddev channels of a discriminator state dict."""
    n_blocks = sum(1 for k in sd if re.fullmatch(r"convs\.\d+\.conv1\.0\.weight", k))
    size = 2 ** (n_blocks + 2)
    channels = {size: sd["convs.0.0.weight"].shape[0]}
    for j in range(1, n_blocks + 1):
        channels[size >> j] = sd[f"convs.{j}.conv2.1.weight"].shape[0]
    blur = fir_taps(sd.get("convs.1.conv2.0.kernel"))
    final = sd["final_conv.0.weight"]  # [C, C + stddev channels, 3, 3]
    return _config_from_table(size, channels, blur_kernel=blur, mbstd_channels=final.shape[1] - final.shape[0])


def _config_from_table(size: int, channels: dict[int, int], **kw) -> ModelConfig:
    for cm in (2, 1, 4):  # prefer the plain channel-multiplier spelling when it fits
        default = default_channels(cm)
        if all(default[r] == c for r, c in channels.items()):
            return ModelConfig(size=size, channel_multiplier=cm, **kw)
    return ModelConfig(size=size, channels=channels, **kw)


def _identify(obj: Any, path: str) -> tuple[str, dict]:
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: not a StyleGAN2 checkpoint (top level is {type(obj).__name__}, not a dict)")
    if _is_state_dict(obj):
        if _looks_like_generator(obj):
            return "generator-state-dict", {"g_ema": dict(obj)}
        if _looks_like_discriminator(obj):
            return "discriminator-state-dict", {"d": dict(obj)}
        raise CheckpointError(f"{path}: a state dict, but not of a StyleGAN2 generator or discriminator")
    parts = dict(obj)
    if "freezeg" in parts:
        fmt = "freezeg"
    elif any(k in parts for k in ("g", "d", "g_optim", "d_optim")):
        fmt = "rosinality-train"
    elif "g_ema" in parts:
        fmt = "rosinality-convert"
    else:
        keys = ", ".join(list(map(str, parts))[:6])
        raise CheckpointError(f"{path}: not a StyleGAN2 checkpoint (top-level keys: {keys})")
    for key in MODEL_PARTS:
        if key in parts and not _is_state_dict(parts[key]):
            raise CheckpointError(f"{path}: part {key!r} is not a state dict")
    return fmt, parts


def newest_in_run(folder: Path) -> Path:
    """The newest periodic checkpoint of a training run folder (runs/NAME)."""
    found = periodic_checkpoints(folder)
    if not found:
        raise CheckpointError(f"{folder}: is a folder without checkpoints (give a .pt file or a training run folder)")
    return found[-1][1]


def load_checkpoint(path_or_state: str | os.PathLike | Mapping) -> Checkpoint:
    """Load any supported checkpoint and infer its config.

    `path_or_state`: a checkpoint file, a training run folder (its newest checkpoint), the name
    of a shipped model (`blobs32`), or an already loaded dict.
    """
    if isinstance(path_or_state, Mapping):
        where, obj = "<state dict>", path_or_state
    else:
        path = resolve_model(path_or_state)
        if path.is_dir():
            path = newest_in_run(path)
        _check_file(path)
        if is_network_pickle(path):
            return _load_network_pickle(path)
        where = str(path)
        obj = _torch_load(path)
    fmt, parts = _identify(obj, where)
    meta = dict(parts.pop("freezeg", None) or {})
    config = None
    try:
        if meta.get("config"):
            config = ModelConfig.from_dict(meta["config"])
        elif any(k in parts for k in GENERATOR_PARTS):
            key = "g_ema" if "g_ema" in parts else "g"
            config = infer_generator_config(parts[key])
        elif "d" in parts:
            config = infer_discriminator_config(parts["d"])
    except (KeyError, IndexError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{where}: tensor shapes do not describe a StyleGAN2 model ({type(e).__name__}: {e})") from None
    if meta.get("format") == NVLABS_STATE_DICTS and config is not None:  # our `convert --to nvlabs` output
        try:
            parts = import_state_dicts(config, parts, where)
        except NVlabsPickleError as e:
            raise CheckpointError(str(e)) from None
        fmt = NVLABS_STATE_DICTS
    return Checkpoint(path=where, format=fmt, parts=parts, config=config, meta=meta)


def _load_network_pickle(path: Path) -> Checkpoint:
    """An NVlabs pickle as a Checkpoint: rosinality-layout parts, the config it carries."""
    try:
        imported = read_network_pickle(path)
    except NVlabsPickleError as e:
        raise CheckpointError(str(e)) from None
    meta = {"config": imported.config.to_dict(), "source": imported.source}
    return Checkpoint(path=str(path), format="nvlabs-pickle", parts=imported.parts, config=imported.config, meta=meta)


# Settings that tensor shapes do not show; a checkpoint's config carries them to its networks.
CARRIED_SETTINGS = ("lr_mlp", "conv_clamp", "mbstd_group", "mbstd_channels")


def _with_settings(shape_config: ModelConfig, ckpt: Checkpoint, inferred: tuple[str, ...] = ()) -> ModelConfig:
    """`shape_config` (inferred from tensors) with the checkpoint's settings, except `inferred`."""
    if ckpt.config is None:
        return shape_config
    carried = {k: getattr(ckpt.config, k) for k in CARRIED_SETTINGS if k not in inferred}
    return dataclasses.replace(shape_config, **carried)


def _load_into(module: nn.Module, sd: Mapping, where: str, part: str) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    # Old rosinality files may lack the fixed noise buffers: keep fresh ones, say so.
    absent_noise = [k for k in missing if k.startswith("noises.")]
    missing = [k for k in missing if not k.startswith("noises.")]
    wrong = [f"{k} {tuple(sd[k].shape)} != {tuple(v.shape)}" for k, v in own.items() if k in sd and sd[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
    if wrong:
        problems.append(f"shape {'; '.join(wrong[:3])}{' ...' if len(wrong) > 3 else ''}")
    if problems:
        raise CheckpointError(f"{where}: part {part!r} does not fit the model: {'; '.join(problems)}")
    if absent_noise:
        log.info("%s: part %r has no stored noise maps; using fresh random ones", where, part)
        with torch.no_grad():
            for key in absent_noise:
                module.get_buffer(key).normal_()
    module.load_state_dict(dict(sd), strict=not absent_noise)


def _build(cls, config: ModelConfig, sd: Mapping, where: str, part: str):
    """`cls(config)` holding the tensors of `sd` (copied). The module is laid out on the meta
    device and allocated uninitialised: drawing random weights only to overwrite them took
    longer than loading a 256 px model."""
    with torch.device("meta"):
        module = cls(config)
    module = module.to_empty(device="cpu")
    _load_into(module, sd, where, part)
    return module


def build_generator(ckpt: Checkpoint, key: str = "g_ema") -> Generator:
    """A Generator with the weights of part `key` (falls back to g_ema, then g)."""
    key = ckpt.generator_key(key)
    try:
        config = _with_settings(infer_generator_config(ckpt.parts[key]), ckpt)
    except (KeyError, IndexError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: part {key!r} is not a StyleGAN2 generator ({type(e).__name__}: {e})") from None
    g = _build(Generator, config, ckpt.parts[key], ckpt.path, key)
    latent_avg = ckpt.parts.get("latent_avg")
    if torch.is_tensor(latent_avg) and latent_avg.numel() == config.style_dim:
        g.w_avg = latent_avg.reshape(1, -1).float().clone()
    return g


def build_discriminator(ckpt: Checkpoint, key: str = "d") -> Discriminator:
    """A Discriminator with the weights of part `key`."""
    if not ckpt.has(key):
        raise CheckpointError(f"{ckpt.path}: holds no discriminator {key!r} (parts: {', '.join(ckpt.parts) or 'none'})")
    try:
        config = _with_settings(infer_discriminator_config(ckpt.parts[key]), ckpt, inferred=("mbstd_channels",))
    except (KeyError, IndexError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: part {key!r} is not a StyleGAN2 discriminator ({type(e).__name__}: {e})") from None
    d = _build(Discriminator, config, ckpt.parts[key], ckpt.path, key)
    return d


def load_generator(path_or_state, key: str = "g_ema", device: str | torch.device = "cpu") -> Generator:
    """Build a Generator from any supported checkpoint (config inferred from the tensors)."""
    ckpt = path_or_state if isinstance(path_or_state, Checkpoint) else load_checkpoint(path_or_state)
    return build_generator(ckpt, key).to(device)


def load_discriminator(path_or_state, key: str = "d", device: str | torch.device = "cpu") -> Discriminator:
    """Build a Discriminator from any supported checkpoint."""
    ckpt = path_or_state if isinstance(path_or_state, Checkpoint) else load_checkpoint(path_or_state)
    return build_discriminator(ckpt, key).to(device)


# --------------------------------------------------------------------------- saving
@functools.cache
def _git_commit() -> str | None:
    """The commit of the code this process runs: read once, at the first save (a long run's
    later checkpoints must not name a commit made in the checkout while it trained)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _plain(value: Any) -> Any:
    """Turn metadata into types that weights_only loading accepts."""
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)) or torch.is_tensor(value):
        return value
    return repr(value)


def save_checkpoint(path: str | os.PathLike, *, meta: Mapping[str, Any] | None = None, **parts: Any) -> Path:
    """Write a checkpoint atomically (temp file, fsync, rename) in rosinality's layout.

    `parts`: g, d, g_ema (modules or state dicts), g_optim, d_optim (optimizers or their
    states), ada_aug_p, latent_avg, or anything else weights_only can load. `meta` goes into
    the `freezeg` dict next to the format version, model config, command line and git commit.
    """
    path = Path(path)
    out: dict[str, Any] = {}
    config = None
    for key, value in parts.items():
        if value is None:
            continue
        if isinstance(value, (Generator, Discriminator)):
            config = config or (value.config if isinstance(value, Generator) else None)
            if isinstance(value, Generator) and value.w_avg is not None and "latent_avg" not in parts:
                out["latent_avg"] = value.w_avg.detach().reshape(-1).cpu().clone()
            value = value.state_dict()
        elif isinstance(value, (nn.Module, torch.optim.Optimizer)):
            value = value.state_dict()
        elif isinstance(value, argparse.Namespace):
            value = _plain(value)
        out[key] = value
    info = {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict() if config is not None else None,
        "command": " ".join(sys.argv),
        "git_commit": _git_commit(),
    }
    info.update(_plain(dict(meta or {})))
    if info["config"] is None:
        for key in GENERATOR_PARTS:
            if _is_state_dict(out.get(key)):
                info["config"] = infer_generator_config(out[key]).to_dict()
                break
    out["freezeg"] = info
    atomic_torch_save(out, path)
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename over `path`.

    The file object (not a path) lets a full disk surface as the OSError of the write that
    failed, which atomic_path turns into one line with the bytes written of about the total.
    """
    with atomic_path(path, durable=True, expected_bytes=tensor_bytes(obj)) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def tensor_bytes(obj: Any) -> int:
    """The bytes of the tensors in a nested dict/list/tuple (about a torch.save file's size)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0
