"""The --loss registry: per-sample differentiable distances, and the wiring of the perceptual ones.

No perceptual weights exist here, so the LPIPS and Inception loaders are replaced by small
stand-in modules that follow their contract.
"""

import sys
import types

import pytest
import torch
from torch import nn

from freezeg.inversion.distances import DISTANCES, make_distance


def _images(seed=0, batch=3, size=16):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g) * 2 - 1


def test_default_distance_is_per_sample_zero_at_equality_and_differentiable():
    d = make_distance("default")
    x, y = _images(0), _images(1)
    x.requires_grad_(True)
    out = d(x, y)
    assert out.shape == (3,) and (out > 0).all()
    assert d(y, y).abs().max() < 1e-5
    assert d(x[1:2], y[1:2]).item() == pytest.approx(out[1].item(), rel=1e-5)  # no batch interaction
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_unknown_distance_and_foreign_options_are_clear_errors():
    with pytest.raises(ValueError, match="unknown distance.*default, lpips, inception"):
        make_distance("vgg")
    with pytest.raises(ValueError, match="lpips_vgg does not apply"):
        make_distance("default", lpips_vgg="x.pth")
    assert make_distance("default", lpips_vgg=None, inception=None) is not None  # unset CLI options pass through


@pytest.mark.parametrize("name,module", [("lpips", "freezeg.metrics.lpips"), ("inception", "freezeg.metrics.inception")])
def test_missing_perceptual_module_is_a_one_line_error(monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    with pytest.raises(ValueError, match=f"--loss {name}: this freezeg install has no {name} network") as e:
        make_distance(name)
    assert "\n" not in str(e.value) and "--loss default" in str(e.value)


class StandInLPIPS(nn.Module):
    """Mean squared difference of a fixed random conv's features: an LPIPS-shaped stand-in."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x, y):
        return (self.conv(x) - self.conv(y)).square().mean(dim=[1, 2, 3]).view(-1, 1, 1, 1)


class StandInInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3 * 8 * 8, 2048)

    def forward(self, x):
        return self.proj(nn.functional.adaptive_avg_pool2d(x, 8).flatten(1))


def _install(monkeypatch, module, function, factory, calls):
    mod = types.ModuleType(module)

    def load(**kwargs):
        calls.append(kwargs)
        return factory()

    setattr(mod, function, load)
    monkeypatch.setitem(sys.modules, module, mod)


def test_lpips_distance_passes_the_weight_paths_and_freezes_the_network(monkeypatch):
    calls = []
    _install(monkeypatch, "freezeg.metrics.lpips", "load_lpips", StandInLPIPS, calls)
    d = make_distance("lpips", lpips_vgg="vgg.pth", lpips_lin="lin.pth", device="cpu")
    assert calls == [{"vgg_path": "vgg.pth", "lin_path": "lin.pth", "device": "cpu"}]
    x, y = _images(0).requires_grad_(True), _images(1)
    out = d(x, y)
    assert out.shape == (3,) and d(y, y).abs().max() < 1e-7
    out.sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in d.parameters())
    # Images over 256 px are shrunk first (as rosinality's projector does for LPIPS), tiny ones grown.
    sizes = []
    d.network.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[-1]))
    for side in (512, 8):
        assert d(torch.zeros(1, 3, side, side), torch.zeros(1, 3, side, side)).shape == (1,)
    assert sizes == [256, 32]


def test_inception_distance_compares_normalised_features(monkeypatch):
    calls = []
    _install(monkeypatch, "freezeg.metrics.inception", "load_inception", StandInInception, calls)
    d = make_distance("inception", inception="pt_inception.pth")
    assert calls == [{"path": "pt_inception.pth", "device": "cpu"}]
    x, y = _images(0), _images(1)
    out = d(x, y)
    assert out.shape == (3,) and (out >= 0).all() and (out <= 4 + 1e-5).all()  # unit vectors: |a - b|^2 <= 4
    assert d(x, x).abs().max() < 1e-6


def test_loader_errors_reach_the_user_with_the_loss_named(monkeypatch):
    mod = types.ModuleType("freezeg.metrics.lpips")

    def load_lpips(**kwargs):
        raise ValueError("LPIPS weights not found: pass --lpips-vgg and --lpips-lin")

    mod.load_lpips = load_lpips
    monkeypatch.setitem(sys.modules, "freezeg.metrics.lpips", mod)
    with pytest.raises(ValueError, match="^--loss lpips: LPIPS weights not found: pass --lpips-vgg"):
        make_distance("lpips")


def test_registry_names():
    assert list(DISTANCES) == ["default", "lpips", "inception"]
