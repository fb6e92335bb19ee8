"""`freezeg metrics`: realism, structure and LPIPS from the command line, on real files."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg.cli import main
from freezeg.data.synthetic import render_pairs, write_domain
from helpers import REFERENCE

CKPT = str(REFERENCE / "checkpoint_convert_format.pt")  # a 32px generator


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # dataset caches go under ./runs/cache
    for env in ("FREEZEG_INCEPTION", "FREEZEG_LPIPS_VGG", "FREEZEG_LPIPS_LIN"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache
    monkeypatch.setattr("freezeg.metrics.inception.packaged_network_file", lambda: None)  # as without the [fid] extra
    return tmp_path


@pytest.fixture()
def paired(workdir):
    """src/ (blobs) and out/ (the same scenes as cartoons, saved as JPEG names) of 6 pairs at 32px."""
    blobs, cartoon = render_pairs(6, 32, seed=0)
    for folder, images, suffix in (("src", blobs, ".png"), ("out", cartoon, ".jpg")):
        (workdir / folder).mkdir()
        for i, img in enumerate(images):
            Image.fromarray(img).save(workdir / folder / f"{i:03d}{suffix}", quality=95)
    return workdir / "src", workdir / "out"


class _Features(torch.nn.Module):
    """Stand-in for the Inception network: per-channel means and standard deviations."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1)


def test_realism_of_two_folders_gives_swd_and_says_why_no_fid(workdir, capsys):
    write_domain("blobs", 8, 32, workdir / "real", seed=0)
    write_domain("blobs", 8, 32, workdir / "same", seed=1)
    write_domain("sketch", 8, 32, workdir / "other", seed=1)
    assert main(["metrics", "realism", "--real", "real", "--fake", "same", "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["images"] == {"real": 8, "fake": 8} and same["size"] == 32 and same["fid"] is None
    assert list(same["swd"]) == ["16", "32", "avg"]
    assert "pt_inception-2015-12-05-6726825d.pth" in same["notes"][0]
    assert main(["metrics", "realism", "--real", "real", "--fake", "other", "--out", "r.json"]) == 0
    table = capsys.readouterr().out
    assert "SWD x1e3" in table and "not computed (no Inception network)" in table and "--inception PATH" in table
    assert "pip install 'freezeg[fid]'" in table
    other = json.loads((workdir / "r.json").read_text())
    assert other["swd"]["avg"] > same["swd"]["avg"]
    assert main(["metrics", "realism", "--real", "real", "--fake", "other", "--out", "r.json"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_realism_of_a_checkpoint_with_features_gives_fid_and_kid(workdir, capsys, monkeypatch):
    import freezeg.cli.metrics as cli

    monkeypatch.setattr(cli, "inception_if_available", lambda path, device: (_Features(), None))
    write_domain("blobs", 10, 32, workdir / "real", seed=0)
    argv = ["metrics", "realism", "--real", "real", "--ckpt", CKPT, "--n", "6", "--truncation", "0.7",
            "--kid-subsets", "5", "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["images"] == {"real": 10, "fake": 6} and first["fid"] > 0
    assert first["kid"]["subset_size"] == 6 and first["kid"]["subsets"] == 5
    assert "seeds 0-5, truncation 0.7" in first["fake"]
    assert main(argv + ["--swd-only"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["swd"] == first["swd"]  # seeded samples, patches and directions
    assert again["fid"] is None and again["notes"][0] == "FID/KID skipped (--swd-only)"


def test_structure_of_paired_folders(paired, capsys):
    src, out = paired
    assert main(["metrics", "structure", str(src), str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 6 and list(result["per_pair"]) == [f"{i:03d}" for i in range(6)]
    assert result["mean"] > 0.6 > 0.3 > result["shuffled_baseline"]
    assert main(["metrics", "structure", str(src), str(out)]) == 0
    table = capsys.readouterr().out
    assert "structure of 6 pairs" in table and "shuffled pairs score" in table and "per level  32px" in table


def test_lpips_of_paired_folders_with_weight_files(paired, workdir, capsys):
    from helpers import lpips_lin_state, lpips_vgg_state

    torch.save(lpips_vgg_state(), workdir / "vgg.pth")
    torch.save(lpips_lin_state(), workdir / "lin.pth")
    src, out = paired
    weights = ["--lpips-vgg", "vgg.pth", "--lpips-lin", "lin.pth"]
    assert main(["metrics", "lpips", str(src), str(src), *weights, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean"] == 0.0
    assert main(["metrics", "lpips", str(src), str(out), *weights, "--out", "l.json", "--batch", "4"]) == 0
    assert "LPIPS (VGG, v0.1) of 6 pairs" in capsys.readouterr().out
    result = json.loads((workdir / "l.json").read_text())
    assert result["pairs"] == 6 and result["mean"] > 0 and min(result["per_pair"].values()) > 0


@pytest.mark.parametrize(
    "argv,match",
    [
        (["metrics", "lpips", "src", "out"], "vgg16-397923af.pth"),
        (["metrics", "structure", "src", "nowhere"], "nowhere: no such folder"),
        (["metrics", "realism", "--real", "src", "--ckpt", CKPT, "--n", "0"], "--n must be at least 1"),
        (["metrics", "realism", "--real", "src", "--fake", "out", "--inception", "missing.pth"], "missing.pth: no such file"),
        (["metrics", "realism", "--real", "nowhere", "--ckpt", CKPT], "nowhere: no such folder or zip file"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(paired, argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("freezeg: error:") and match in err


@pytest.mark.slow
def test_realism_with_the_inception_network_end_to_end(workdir, capsys):
    from freezeg.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    net = FIDInceptionV3()
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    torch.save(net.state_dict(), workdir / "inception.pth")
    write_domain("blobs", 6, 32, workdir / "real", seed=0)
    assert main(["metrics", "realism", "--real", "real", "--ckpt", CKPT, "--n", "6", "--inception", "inception.pth",
                 "--kid-subsets", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fid"] > 0 and np.isfinite(result["kid"]["mean"]) and result["kid"]["std"] > 0
