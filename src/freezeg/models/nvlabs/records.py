"""Inert stand-ins for the objects an NVlabs network pickle describes.

NVlabs' `torch_utils.persistence` pickles every network module as a reconstruction record:
a call of `torch_utils.persistence._reconstruct_persistent_obj(meta)` where `meta` holds the
source code of the module's Python file (`module_src`), the class name and the instance's
`__dict__` (`state`: `_parameters`, `_buffers`, `_modules`, plain attributes such as
`conv_clamp`, and the constructor arguments `_init_kwargs`). Their loader executes
`module_src`; we keep the record as data and read tensors and attributes out of it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator

import torch

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version of both repositories


class EasyDict(dict):
    """Stand-in for `dnnlib.util.EasyDict`: a dict (attribute access is not needed)."""


@dataclass
class PersistentRecord:
    """One `torch_utils.persistence` record: a module of class `class_name` and its state."""

    class_name: str
    state: dict[str, Any]
    module_src: str = ""  # the source text of the class's file; kept as text, never run
    version: int = PERSISTENCE_VERSION
    kind: str = "class"  # meta["type"]; the only kind NVlabs writes

    def attr(self, name: str, default: Any = None) -> Any:
        """A plain attribute of the instance (e.g. `conv_clamp`), or `default`."""
        return self.state.get(name, default)

    def child(self, name: str) -> "PersistentRecord | None":
        """A registered submodule (`_modules[name]`), or None."""
        return (self.state.get("_modules") or {}).get(name)

    def children(self) -> Iterator[tuple[str, "PersistentRecord"]]:
        for name, module in (self.state.get("_modules") or {}).items():
            if module is not None:
                yield name, module

    def tensors(self, prefix: str = "") -> "OrderedDict[str, torch.Tensor]":
        """Parameters and persistent buffers by dotted name, as the module's state_dict() has them."""
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        skip = set(self.state.get("_non_persistent_buffers_set") or ())
        for group in ("_parameters", "_buffers"):
            for name, t in (self.state.get(group) or {}).items():
                if t is None or (group == "_buffers" and name in skip):
                    continue
                if not torch.is_tensor(t):
                    raise TypeError(f"{prefix}{name} is a {type(t).__name__}, not a tensor")
                out[prefix + name] = t
        for name, module in self.children():
            if not isinstance(module, PersistentRecord):
                raise TypeError(f"{prefix}{name} is a {type(module).__name__}, not a network module record")
            out.update(module.tensors(f"{prefix}{name}."))
        return out

    def walk(self, prefix: str = "") -> Iterator[tuple[str, "PersistentRecord"]]:
        """(dotted name, record) of this record and every submodule below it."""
        yield prefix.rstrip("."), self
        for name, module in self.children():
            if isinstance(module, PersistentRecord):
                yield from module.walk(f"{prefix}{name}.")


def module_state(
    parameters: dict[str, torch.Tensor | None] | None = None,
    buffers: dict[str, torch.Tensor | None] | None = None,
    modules: dict[str, PersistentRecord | None] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """The `__dict__` of a torch.nn.Module (torch 2.x fields) with the given contents."""
    state: dict[str, Any] = {
        "training": False,
        "_parameters": OrderedDict(parameters or {}),
        "_buffers": OrderedDict(buffers or {}),
        "_non_persistent_buffers_set": set(),
        "_backward_pre_hooks": OrderedDict(),
        "_backward_hooks": OrderedDict(),
        "_is_full_backward_hook": None,
        "_forward_hooks": OrderedDict(),
        "_forward_hooks_with_kwargs": OrderedDict(),
        "_forward_hooks_always_called": OrderedDict(),
        "_forward_pre_hooks": OrderedDict(),
        "_forward_pre_hooks_with_kwargs": OrderedDict(),
        "_state_dict_hooks": OrderedDict(),
        "_state_dict_pre_hooks": OrderedDict(),
        "_load_state_dict_pre_hooks": OrderedDict(),
        "_load_state_dict_post_hooks": OrderedDict(),
        "_modules": OrderedDict(modules or {}),
    }
    state.update(attributes)
    return state
