"""Finding and loading the pretrained weights of a perceptual network, offline.

Nothing here downloads. A weights file is taken from, in order: the path the caller gives,
an environment variable, a place where another tool has already put the same file (the
torch hub cache that pytorch-fid and torchvision download into, or a file shipped inside an
installed pip package). When none has it, the error says which file to get, where it is
published and how to pass it.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import nn


class MissingWeightsError(ValueError):
    """No weights file was given or found; the message says how to get one."""


def torch_hub_file(name: str) -> Path:
    """Where torch.hub's downloader (used by pytorch-fid and torchvision) keeps `name`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def find_weights(
    path: str | os.PathLike | None,  # given by the caller: used when set, and must exist
    env: str,  # environment variable that may name the file
    found: Iterable[Path],  # places another tool may already have put the file, in order
    howto: str,  # one line: which file, where it is published, how to pass it
) -> Path:
    """The weights file to use; MissingWeightsError(howto) when none is given or found.

    A file that was named (argument or environment) but does not exist is a plain ValueError:
    the user asked for it, so callers must not fall back to working without it.
    """
    if path is None:
        path = os.environ.get(env) or None
        given = f"${env}"
    else:
        given = "given"
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ValueError(f"{path}: no such file ({given}); {howto}")
        return path
    for candidate in found:
        if candidate.is_file():
            return candidate
    raise MissingWeightsError(howto)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from `path`, read with weights_only=True onto the CPU (files saved from CUDA load too)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: cannot read weights ({first})") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return dict(state)


def check_and_load(
    module: nn.Module,  # the network to fill
    state: Mapping[str, torch.Tensor],  # its weights, keys exactly the module's own
    path: Path,  # where they came from, for messages
    optional: Iterable[str] = (),  # module keys a file may lack (kept at their current value)
) -> None:
    """Load `state` into `module` after checking keys and shapes strictly; ValueError naming the first problems."""
    own = module.state_dict()
    optional = set(optional)
    missing = [k for k in own if k not in state and k not in optional]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
             for k in own if k in state and state[k].shape != own[k].shape]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if keys:
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            problems.append(f"{label}: {', '.join(keys[:3])}{more}")
    if problems:
        raise ValueError(f"{path}: not the expected weights ({'; '.join(problems)})")
    full = {k: state[k] if k in state else v for k, v in own.items()}
    module.load_state_dict(full, strict=True)
