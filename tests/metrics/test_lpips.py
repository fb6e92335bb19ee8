"""LPIPS-VGG: torchvision/lpips weight layouts, the distance formula, gradients, offline lookup."""

import sys

import pytest
import torch
import torch.nn.functional as F

from freezeg.metrics.lpips import LPIPS, load_lpips
from helpers import VGG16_CONVS, lpips_lin_state, lpips_vgg_state


@pytest.fixture()
def weights(tmp_path):
    vgg, lin = tmp_path / "vgg16.pth", tmp_path / "lin.pth"
    torch.save(lpips_vgg_state(), vgg)
    torch.save(lpips_lin_state(), lin)
    return vgg, lin


@pytest.fixture()
def no_weights(monkeypatch, tmp_path):
    for env in ("FREEZEG_LPIPS_VGG", "FREEZEG_LPIPS_LIN"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))


def _reference_distance(x, y, vgg, lin):
    """The LPIPS v0.1 formula written out with functional ops on the raw state dicts."""
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    total = 0
    for k, (a, b) in enumerate(zip(*[_taps((v - shift) / scale, vgg) for v in (x, y)])):
        na = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + F.conv2d((na - nb) ** 2, lin[f"lin{k}.model.1.weight"]).mean(dim=(1, 2, 3))
    return total


def _taps(h, vgg):
    out, index = [], 0
    for item in VGG16_CONVS:
        if item == "M":
            out.append(h)  # the ReLU output just before each pooling
            h = F.max_pool2d(h, 2)
            index += 1
            continue
        h = F.relu(F.conv2d(h, vgg[f"features.{index}.weight"], vgg[f"features.{index}.bias"], padding=1))
        index += 2
    return out + [h]  # and relu5_3


def test_distances_follow_the_lpips_formula(weights):
    model = load_lpips(*map(str, weights))
    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 24) * 2 - 1
    y = (x + 0.5 * torch.randn_like(x)).clamp(-1, 1)
    with torch.no_grad():
        d = model(x, y)
        expected = _reference_distance(x, y, lpips_vgg_state(), lpips_lin_state())
        assert d.shape == (3,)
        assert torch.allclose(d, expected, rtol=1e-4, atol=1e-7)
        assert torch.all(d > 0)
        assert torch.allclose(model(y, x), d, rtol=1e-5)  # symmetric
        assert torch.equal(model(x, x), torch.zeros(3))


def test_gradient_flows_to_the_inputs_not_the_weights(weights):
    model = load_lpips(*weights)
    torch.manual_seed(1)
    target = torch.rand(2, 3, 16, 16) * 2 - 1
    x = (torch.rand(2, 3, 16, 16) * 2 - 1).requires_grad_(True)
    model(x, target).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().max() > 0
    assert not any(p.requires_grad for p in model.parameters())
    # a few gradient steps move x towards the target in LPIPS
    opt = torch.optim.Adam([x], lr=0.05)
    start = model(x, target).sum().item()
    for _ in range(3):
        opt.zero_grad()
        model(x, target).sum().backward()
        opt.step()
    assert model(x, target).sum().item() < start


def test_lin_weights_are_found_inside_an_installed_lpips_without_importing_it(weights, no_weights, tmp_path, monkeypatch):
    package = tmp_path / "site" / "lpips"
    (package / "weights" / "v0.1").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('lpips imports torchvision')\n")
    torch.save(lpips_lin_state(seed=5), package / "weights" / "v0.1" / "vgg.pth")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = load_lpips(weights[0])
    assert torch.equal(model.lin3.model[1].weight, lpips_lin_state(seed=5)["lin3.model.1.weight"])
    assert "lpips" not in sys.modules


def test_env_vars_name_the_weights(weights, no_weights, monkeypatch):
    monkeypatch.setenv("FREEZEG_LPIPS_VGG", str(weights[0]))
    monkeypatch.setenv("FREEZEG_LPIPS_LIN", str(weights[1]))
    model = load_lpips()
    assert torch.equal(model.features[28].bias, lpips_vgg_state()["features.28.bias"])


def test_missing_weights_say_how_to_get_them(weights, no_weights, monkeypatch):
    import freezeg.metrics.lpips as module

    monkeypatch.setattr(module, "_package_lin_weights", lambda: [])  # as if no lpips package were installed
    with pytest.raises(ValueError) as e:
        load_lpips(lin_path=weights[1])
    assert "\n" not in str(e.value)
    assert "vgg16-397923af.pth" in str(e.value) and "https://download.pytorch.org/models/" in str(e.value)
    assert "--lpips-vgg PATH" in str(e.value) and "$FREEZEG_LPIPS_VGG" in str(e.value)
    with pytest.raises(ValueError) as e:
        load_lpips(vgg_path=weights[0])
    assert "pip install --no-deps lpips" in str(e.value) and "--lpips-lin PATH" in str(e.value)
    assert "$FREEZEG_LPIPS_LIN" in str(e.value)


def test_wrong_files_and_inputs_are_refused(weights, tmp_path):
    with pytest.raises(ValueError, match=r"lin\.pth: not the expected weights \(missing: lin0\.model\.1\.weight.*unexpected: features\.0\.weight"):
        load_lpips(weights[0], _as(tmp_path, "lin.pth", lpips_vgg_state()))
    model = load_lpips(*weights)
    with pytest.raises(ValueError, match="at least 16x16"):
        model(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="one shape"):
        model(torch.zeros(2, 3, 16, 16), torch.zeros(1, 3, 16, 16))


def _as(folder, name, state):
    path = folder / "bad" / name
    path.parent.mkdir(exist_ok=True)
    torch.save(state, path)
    return path


def test_state_dict_uses_torchvision_and_lpips_key_names():
    keys = set(LPIPS().state_dict())
    assert keys == set(lpips_vgg_state()) - {"classifier.6.weight", "classifier.6.bias"} | set(lpips_lin_state())
