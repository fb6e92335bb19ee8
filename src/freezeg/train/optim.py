"""Adam over the trainable tensors only, and its state in rosinality's all-parameters layout.

The optimizer sees only parameters with requires_grad (frozen ones are set before it is
built), so frozen tensors can never move. Its saved state, however, is written as if it
had been built over *every* parameter in `named_parameters()` order, the layout of
rosinality's train.py, whose `g_optim.load_state_dict(ckpt["g_optim"])` then reads our files
unchanged; frozen tensors simply have no Adam moments. Loading maps that layout back onto
whichever subset trains now, so a rosinality checkpoint's optimizer state carries over into
a frozen fine-tune and ours back into rosinality's code.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Mapping

import torch
from torch import nn

from ..models.freeze import trainable_parameters

log = logging.getLogger("freezeg")


def lazy_ratio(reg_every: int) -> float:
    """Karras et al. 2020, appendix B: with a regulariser every k steps, lr and betas are
    rescaled by k / (k + 1) so the combined update matches doing both every step."""
    return reg_every / (reg_every + 1) if reg_every > 0 else 1.0


def build_adam(module: nn.Module, lr: float, betas: tuple[float, float], reg_every: int) -> torch.optim.Adam:
    """Adam over `module`'s trainable parameters with the lazy-regularisation correction."""
    ratio = lazy_ratio(reg_every)
    params = trainable_parameters(module)
    if not params:
        # Adam refuses an empty list; a fully frozen network keeps a harmless dummy group.
        params = [nn.Parameter(torch.zeros(0))]
    return torch.optim.Adam(params, lr=lr * ratio, betas=(float(betas[0]) ** ratio, float(betas[1]) ** ratio))


def set_lr(optimizer: torch.optim.Optimizer, lr: float, betas: tuple[float, float], reg_every: int) -> None:
    """Apply (corrected) lr and betas to every group, e.g. after loading a state or lowering lr."""
    ratio = lazy_ratio(reg_every)
    for group in optimizer.param_groups:
        group["lr"] = lr * ratio
        group["betas"] = (float(betas[0]) ** ratio, float(betas[1]) ** ratio)


def full_state(optimizer: torch.optim.Optimizer, module: nn.Module) -> dict:
    """The optimizer's state_dict re-indexed over all of `module`'s parameters (rosinality layout)."""
    sd = optimizer.state_dict()
    index_of = {id(p): i for i, p in enumerate(module.parameters())}
    ours = [p for group in optimizer.param_groups for p in group["params"]]
    local_ids = [i for group in sd["param_groups"] for i in group["params"]]
    state = {}
    for local, p in zip(local_ids, ours):
        if id(p) in index_of and local in sd["state"]:
            state[index_of[id(p)]] = sd["state"][local]
    group = {k: v for k, v in sd["param_groups"][0].items() if k != "params"}
    group["params"] = list(range(len(index_of)))
    return {"state": state, "param_groups": [group]}


def load_full_state(optimizer: torch.optim.Optimizer, module: nn.Module, saved: Mapping[str, Any], where: str) -> bool:
    """Load a state saved in the all-parameters layout onto the parameters that train now.

    Returns False (and logs why) when the saved state does not fit this module, so the caller
    starts with fresh moments instead.
    """
    params = list(module.parameters())
    try:
        groups = saved["param_groups"]
        indices = [i for g in groups for i in g["params"]]
        state = saved["state"]
    except (KeyError, TypeError):
        log.warning("%s: optimizer state is not an Adam state dict; starting with fresh Adam moments", where)
        return False
    if len(indices) != len(params):
        log.warning("%s: optimizer state covers %d tensors, the model has %d; starting with fresh Adam moments",
                    where, len(indices), len(params))
        return False
    position = {idx: k for k, idx in enumerate(indices)}  # saved param id -> position in named order
    for idx, s in state.items():
        p = params[position[idx]] if idx in position else None
        if p is None or not isinstance(s, Mapping):
            continue
        for key in ("exp_avg", "exp_avg_sq"):
            if key in s and tuple(s[key].shape) != tuple(p.shape):
                log.warning("%s: optimizer state shape %s != parameter %s; starting with fresh Adam moments",
                            where, tuple(s[key].shape), tuple(p.shape))
                return False
    ours = [p for group in optimizer.param_groups for p in group["params"]]
    full_index = {id(p): i for i, p in enumerate(params)}
    new_state = {}
    for local, p in enumerate(ours):
        i = full_index.get(id(p))
        if i is not None and indices[i] in state:
            new_state[local] = copy.deepcopy(state[indices[i]])
    group = dict(optimizer.state_dict()["param_groups"][0])
    optimizer.load_state_dict({"state": new_state, "param_groups": [group]})
    return True
