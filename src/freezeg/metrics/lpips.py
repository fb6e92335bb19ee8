"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual
Metric"), VGG16 variant v0.1, in plain PyTorch.

distance(x, y) = sum over five VGG16 layers l of mean over pixels of
                 sum_c w_lc (f_l(x)_c / |f_l(x)| - f_l(y)_c / |f_l(y)|)^2
where f_l are the relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 activations of an ImageNet
VGG16 (after LPIPS's fixed input scaling), |.| the norm over channels at each pixel, and w_l
the learned non-negative "linear layers" (1x1 convolutions without bias).

Two weight files, neither downloaded here:
- the VGG16 trunk: torchvision's `vgg16-397923af.pth` (keys `features.N.weight/bias`; the
  classifier it also holds is ignored);
- the linear layers: `weights/v0.1/vgg.pth` of the `lpips` pip package (keys
  `lin0..lin4.model.1.weight`), found inside an installed `lpips` without importing it (its
  import pulls in torchvision).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

from .weights import check_and_load, find_weights, load_state_dict, torch_hub_file

VGG_NAME = "vgg16-397923af.pth"
VGG_URL = "https://download.pytorch.org/models/" + VGG_NAME
VGG_ENV = "FREEZEG_LPIPS_VGG"
LIN_FILE = ("weights", "v0.1", "vgg.pth")  # inside the lpips package
LIN_URL = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth"
LIN_ENV = "FREEZEG_LPIPS_LIN"
VGG_HOWTO = (f"LPIPS needs torchvision's ImageNet VGG16 weights: download {VGG_NAME} from {VGG_URL} "
             f"and pass --lpips-vgg PATH or set ${VGG_ENV}")
LIN_HOWTO = ("LPIPS needs its linear-layer weights: `pip install --no-deps lpips` (ships weights/v0.1/vgg.pth; "
             f"--no-deps keeps torchvision out), or download {LIN_URL} and pass --lpips-lin PATH or set ${LIN_ENV}")

# VGG16 (configuration "D") convolutions by their index in torchvision's `features`, and the
# ReLU indices whose outputs LPIPS compares: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
VGG_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256),
             14: (256, 256), 17: (256, 512), 19: (512, 512), 21: (512, 512), 24: (512, 512),
             26: (512, 512), 28: (512, 512)}
VGG_POOLS = (4, 9, 16, 23)
TAPS = (3, 8, 15, 22, 29)
TAP_CHANNELS = (64, 128, 256, 512, 512)
MIN_SIZE = 16  # four 2x poolings before relu5_3

# LPIPS's ScalingLayer: inputs in [-1, 1] are shifted and scaled to ImageNet statistics
# ((mean*2-1) and std*2 of ImageNet's RGB, rounded as in the lpips package).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


class LinearLayer(nn.Module):
    """LPIPS's NetLinLayer: a 1x1 convolution to one channel, no bias.

    `model.0` is where lpips keeps a dropout used only in training; an identity here keeps
    the key of the weight at `model.1.weight`, as in the lpips files.
    """

    def __init__(
        self,
        channels: int,  # channels of the VGG layer it weighs
    ):
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPS(nn.Module):
    """Images x, y in [-1, 1], [B, 3, H, W] (H, W >= 16) -> LPIPS distances [B].

    Frozen (no parameter trains) but differentiable with respect to both inputs, so
    projection can optimise a latent through it.
    """

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(TAPS[-1] + 1):
            if i in VGG_CONVS:
                layers.append(nn.Conv2d(*VGG_CONVS[i], kernel_size=3, padding=1))
            elif i in VGG_POOLS:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(nn.ReLU())
        self.features = nn.Sequential(*layers)
        for k, channels in enumerate(TAP_CHANNELS):
            self.add_module(f"lin{k}", LinearLayer(channels))
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def lins(self) -> list[LinearLayer]:
        return [getattr(self, f"lin{k}") for k in range(len(TAPS))]

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five compared VGG activations of scaled inputs x [B, 3, H, W]."""
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAPS:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"LPIPS compares two batches of images [B, 3, H, W] of one shape, got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        if min(x.shape[2:]) < MIN_SIZE:
            raise ValueError(f"LPIPS needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels, got {x.shape[2]}x{x.shape[3]}")
        w = self.shift
        both = (torch.cat([x, y]).to(w) - self.shift) / self.scale  # one trunk pass for both inputs
        distance = torch.zeros(len(x), device=w.device, dtype=w.dtype)
        for features, lin in zip(self.activations(both), self.lins()):
            # Unit length over channels (lpips adds 1e-10 to the norm); vector_norm's gradient
            # is defined (zero) where a pixel's features are all zero, sqrt(sum of squares)'s is not.
            unit = features / (torch.linalg.vector_norm(features, dim=1, keepdim=True) + 1e-10)
            a, b = unit.chunk(2)
            distance = distance + lin((a - b) ** 2).mean(dim=(1, 2, 3))
        return distance


def _package_lin_weights() -> list[Path]:
    # find_spec locates the installed package without running its __init__ (which imports torchvision).
    try:
        spec = importlib.util.find_spec("lpips")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p).joinpath(*LIN_FILE) for p in spec.submodule_search_locations]


def _vgg_features(state: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """The `features.*` part of a torchvision VGG16 file; its classifier is not used by LPIPS."""
    extra = [k for k in state if not k.startswith(("features.", "classifier."))]
    if extra:
        raise ValueError(f"{path}: not torchvision VGG16 weights (unexpected: {', '.join(extra[:3])})")
    return {k: v for k, v in state.items() if k.startswith("features.")}


def load_lpips(
    vgg_path: str | os.PathLike | None = None,
    lin_path: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """LPIPS-VGG v0.1, frozen, in eval mode, on `device`: module(x, y) -> [B] distances.

    VGG16 weights: `vgg_path`, else $FREEZEG_LPIPS_VGG, else torchvision's copy in the torch
    hub cache. Linear layers: `lin_path`, else $FREEZEG_LPIPS_LIN, else the file inside an
    installed `lpips` package. ValueError with a one-line how-to when either is unavailable.
    """
    vgg = find_weights(vgg_path, VGG_ENV, [torch_hub_file(VGG_NAME)], VGG_HOWTO)
    lin = find_weights(lin_path, LIN_ENV, _package_lin_weights(), LIN_HOWTO)
    model = LPIPS()
    # Each file fills its part of the model, checked against that part's own key names.
    check_and_load(nn.ModuleDict({"features": model.features}), _vgg_features(load_state_dict(vgg), vgg), vgg)
    check_and_load(nn.ModuleDict({f"lin{k}": m for k, m in enumerate(model.lins())}), load_state_dict(lin), lin)
    return model.to(device).eval()
