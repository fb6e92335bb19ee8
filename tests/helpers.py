"""Paths and helpers that several test modules share (fixtures live in conftest.py).

Test modules import this module by its absolute name, `from helpers import ...`: pytest puts tests/
on sys.path (pyproject.toml's `pythonpath`). Test modules never import one another.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from freezeg import Generator, ModelConfig
from freezeg.align import Face
from freezeg.align.geometry import EYE_LEFT, EYE_RIGHT, MOUTH_LEFT, MOUTH_RIGHT
from freezeg.generate.sampling import seed_latent, seed_noise
from freezeg.models.layers import NoiseInjection
from freezeg.utils.media import from_uint8, to_uint8

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent  # the repository
REFERENCE = TESTS / "reference"  # rosinality's vectors and checkpoints (reference/README.md)
NVLABS_FIXTURES = TESTS / "fixtures" / "nvlabs"  # tiny NVlabs pickles (fixtures/nvlabs/README.md)


def load_ref(name: str):
    return torch.load(REFERENCE / f"{name}.pt", weights_only=True)


# Generators for inversion tests.


def trained_like(config: ModelConfig) -> Generator:
    """A tiny generator that behaves like a trained one where projection cares: its images stay
    inside [-1, 1] (toRGB scaled down) and its noise inputs matter (non-zero strengths)."""
    torch.manual_seed(0)
    g = Generator(config).eval()
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, NoiseInjection):
                m.weight.fill_(0.05)
        for rgb in [g.to_rgb1, *g.to_rgbs]:
            rgb.conv.weight.mul_(0.4)
    return g


def generated(g: Generator, seeds: list[int], truncation: float = 0.7) -> torch.Tensor:
    """Images g made from seeds (with their own noise), quantised to 8 bits as if saved to PNG."""
    z = torch.cat([seed_latent(s, g.style_dim) for s in seeds])
    noise = [torch.cat(maps) for maps in zip(*(seed_noise(s, g) for s in seeds))]
    with torch.no_grad():
        return from_uint8(to_uint8(g(z, truncation=truncation, noise=noise)))


def finetuned(source: Generator, top_blocks: int = 1, seed: int = 3) -> Generator:
    """A stand-in FreezeG fine-tune: the top blocks changed, everything below bit-identical."""
    target = copy.deepcopy(source)
    torch.manual_seed(seed)
    with torch.no_grad():
        for block in target.blocks()[-top_blocks:]:
            for m in block.modules():
                for p in m.parameters():
                    p.add_(0.1 * torch.randn_like(p))
    return target


# Faces with given landmarks, and a detector that reports them (no dlib needed).


def landmarks(eye_left, eye_right, mouth_left, mouth_right) -> np.ndarray:
    """68 points whose eye centres and outer mouth corners are the given ones (the rest: the centroid).

    The six points of each eye lie on a small hexagon around its centre, so the mean is exact
    and the points differ, as a detector's would.
    """
    pts = np.tile(np.mean([eye_left, eye_right, mouth_left, mouth_right], axis=0), (68, 1)).astype(np.float64)
    ring = 2.0 * np.stack([np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)], 1)
    pts[EYE_LEFT] = np.asarray(eye_left) + ring
    pts[EYE_RIGHT] = np.asarray(eye_right) + ring
    pts[MOUTH_LEFT], pts[MOUTH_RIGHT] = mouth_left, mouth_right
    return pts


UPRIGHT = landmarks((40, 50), (60, 50), (42, 80), (58, 80))


def face_of(points) -> Face:
    p = np.asarray(points)
    return Face((p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()), p)


class FacesByShape:
    """Reports the faces listed for photos of a given (height, width)."""

    name = "by-shape"

    def __init__(self, table):
        self.table = table

    def detect(self, image):
        return list(self.table.get(image.shape[:2], []))


# LPIPS weight files with random values in the layouts torchvision and lpips use.

VGG16_CONVS = [(3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256), (256, 256), "M",
               (256, 512), (512, 512), (512, 512), "M", (512, 512), (512, 512), (512, 512)]  # VGG16 "D" to relu5_3


def lpips_vgg_state(seed=0):
    """A torchvision-layout VGG16 state dict (features.N for the conv at index N, plus a classifier)."""
    gen = torch.Generator().manual_seed(seed)
    state, index = {}, 0
    for item in VGG16_CONVS:
        if item == "M":
            index += 1
            continue
        cin, cout = item
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * (2 / (9 * cin)) ** 0.5
        state[f"features.{index}.bias"] = torch.randn(cout, generator=gen) * 0.1
        index += 2  # conv, ReLU
    state["classifier.6.weight"] = torch.zeros(1000, 4096)  # torchvision's file also holds the classifier
    state["classifier.6.bias"] = torch.zeros(1000)
    return state


def lpips_lin_state(seed=1):
    """lpips' linear layers (lin0..lin4) for the five VGG stages."""
    gen = torch.Generator().manual_seed(seed)
    return {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen)
            for k, c in enumerate([64, 128, 256, 512, 512])}
