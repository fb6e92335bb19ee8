"""A restricted unpickler for NVlabs network pickles: reads data, runs none of their code.

A pickle can only run code by naming a callable (GLOBAL/STACK_GLOBAL, INST, OBJ, EXT all go
through `find_class`). Ours answers from an allow-list, and every name on it maps to a
function or class of our own that only builds data:

- `torch_utils.persistence._reconstruct_persistent_obj` -> a PersistentRecord (the pickled
  `module_src` is kept as text, never executed)
- `dnnlib.util.EasyDict` -> a plain dict subclass
- torch's tensor/parameter rebuild functions -> plain tensors; `torch.storage._load_from_bytes`
  -> `torch.load(weights_only=True)` of the storage blob
- numpy scalars, dtypes and arrays -> rebuilt from their raw bytes with numpy.frombuffer
- `collections.OrderedDict`, `builtins.set`/`frozenset`, `torch.Size`, `torch.device`, torch dtypes

Anything else is refused with `PickleRefused`, naming the class the pickle asked for.
"""

from __future__ import annotations

import collections
import io
import pickle
import warnings
from typing import Any, BinaryIO

import numpy as np
import torch

from .records import PERSISTENCE_VERSION, EasyDict, PersistentRecord


class PickleRefused(pickle.UnpicklingError):
    """The pickle names something outside the allow-list; `name` is what it asked for."""

    def __init__(self, name: str, why: str = ""):
        self.name = name
        super().__init__(f"refused: the pickle asks for {name}{why}")


class PickleUnreadable(pickle.UnpicklingError):
    """An allowed record with contents we cannot use (a storage blob that does not load, ...)."""


# ------------------------------------------------------------------ persistence records
def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or not isinstance(meta.get("class_name"), str) or not isinstance(meta.get("state"), dict):
        raise PickleUnreadable("a torch_utils.persistence record without a class name and state")
    if meta.get("type", "class") != "class":
        raise PickleUnreadable(f"a torch_utils.persistence record of type {meta.get('type')!r}")
    src = meta.get("module_src")
    return PersistentRecord(
        class_name=meta["class_name"],
        state=dict(meta["state"]),
        module_src=src if isinstance(src, str) else "",
        version=meta.get("version", PERSISTENCE_VERSION),
    )


# ------------------------------------------------------------------ torch tensors
_STORAGE_TYPES = (torch.storage.TypedStorage, torch.storage.UntypedStorage)


def _load_from_bytes(blob: Any):
    """A storage pickled with plain pickle: a legacy torch.save of the storage alone."""
    if not isinstance(blob, (bytes, bytearray)):
        raise PickleUnreadable("a tensor storage that is not a byte string")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage deprecation chatter
            storage = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means the same thing here
        raise PickleUnreadable(f"a tensor storage that does not load ({type(e).__name__}: {e})") from None
    if not isinstance(storage, _STORAGE_TYPES):
        raise PickleUnreadable(f"a tensor storage blob holding a {type(storage).__name__}")
    return storage


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, _STORAGE_TYPES):
        raise PickleUnreadable(f"a tensor built on a {type(storage).__name__}, not a storage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch._utils._rebuild_tensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not torch.is_tensor(data):
        raise PickleUnreadable(f"a parameter made of a {type(data).__name__}")
    return data  # our records hold plain tensors; parameters and buffers are told apart by their group


def _rebuild_from_type_v2(func, new_type, args, state=None):
    if func not in _TENSOR_BUILDERS or new_type not in (torch.Tensor, torch.nn.Parameter):
        raise PickleUnreadable(f"a tensor rebuilt as {getattr(new_type, '__name__', new_type)!r}")
    return func(*args)


_TENSOR_BUILDERS = (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter)


def _torch_dtype(name: str):
    value = getattr(torch, name, None)
    return value if isinstance(value, torch.dtype) else None


# ------------------------------------------------------------------ numpy values
class NumpyDType:
    """numpy.dtype(descr, align, copy) followed by BUILD(state): only plain numeric dtypes."""

    def __init__(self, descr: Any = None, align: Any = False, copy: Any = True):
        if not isinstance(descr, str):
            raise PickleUnreadable(f"a numpy dtype described by a {type(descr).__name__}")
        self.dtype = np.dtype(descr)
        if self.dtype.kind not in "biufc":
            raise PickleRefused(f"numpy.dtype({descr!r})", " (only numeric dtypes are read)")

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(state[1])


def _numpy_scalar(dtype: Any, data: Any = None):
    if not isinstance(dtype, NumpyDType) or not isinstance(data, (bytes, bytearray)):
        raise PickleUnreadable("a numpy scalar without a numeric dtype and raw bytes")
    return np.frombuffer(bytes(data), dtype=dtype.dtype)[0]


class NumpyArray:
    """numpy.core.multiarray._reconstruct(ndarray, ...) followed by BUILD(state): `.array`."""

    def __init__(self, cls: Any = None, shape: Any = None, typecode: Any = None):
        if cls is not np.ndarray:
            raise PickleRefused(f"an array of type {getattr(cls, '__name__', cls)!r}")
        self.array = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise PickleUnreadable("a numpy array with an unknown state layout")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, NumpyDType) or not isinstance(raw, (bytes, bytearray)):
            raise PickleUnreadable("a numpy array that is not a plain numeric array")
        order = "F" if fortran else "C"
        self.array = np.frombuffer(bytes(raw), dtype=dtype.dtype).reshape(tuple(shape), order=order).copy()


# ------------------------------------------------------------------ the allow-list
_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("torch", "Tensor"): torch.Tensor,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("numpy", "dtype"): NumpyDType,
    ("numpy", "ndarray"): np.ndarray,  # only as the first argument of _reconstruct
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "_reconstruct"): NumpyArray,
    ("numpy._core.multiarray", "_reconstruct"): NumpyArray,
}

# Things people commonly hold that are not a PyTorch network pickle: say what they are.
_HINTS = {
    "dnnlib.tflib": " (a TensorFlow StyleGAN/StyleGAN2 network; convert it to a PyTorch pickle with "
    "stylegan2-ada-pytorch's legacy.py first)",
}


class RestrictedUnpickler(pickle.Unpickler):
    """pickle.Unpickler whose find_class answers only from the allow-list above."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and _torch_dtype(name) is not None:
            return _torch_dtype(name)
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        hint = next((text for prefix, text in _HINTS.items() if module.startswith(prefix)), "")
        raise PickleRefused(f"{module}.{name}", hint or " (not part of a network record; loading it would run code)")

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefused("a persistent id", " (a torch.save file, not a plain pickle)")


def load_restricted(file: BinaryIO) -> Any:
    """Unpickle `file` with the allow-list; PickleRefused / PickleUnreadable / EOFError on failure."""
    return RestrictedUnpickler(file).load()
