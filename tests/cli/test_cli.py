"""The `freezeg` command: real files in, real files out, one-line errors with exit code 2."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg.cli import main
from helpers import REFERENCE

CONVERT = str(REFERENCE / "checkpoint_convert_format.pt")
TRAIN = str(REFERENCE / "checkpoint_train_format.pt")


def test_generate_grid_is_reproducible(tmp_path):
    out = tmp_path / "grid.png"
    assert main(["generate", "--ckpt", CONVERT, "--seeds", "0-3", "--truncation", "0.7", "--out", str(out), "--device", "cpu"]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (2 + 2 * 34, 2 + 2 * 34, 3)  # 2x2 grid of 32px tiles with 2px gaps
    again = tmp_path / "again.png"
    main(["generate", "--ckpt", CONVERT, "--seeds", "0-3", "--truncation", "0.7", "--out", str(again)])
    assert np.array_equal(np.asarray(Image.open(again)), img)


def test_generate_out_dir_writes_one_file_per_seed(tmp_path):
    assert main(["generate", "--ckpt", TRAIN, "--seeds", "1,5,9", "--out-dir", str(tmp_path / "imgs")]) == 0
    files = sorted(p.name for p in (tmp_path / "imgs").iterdir())
    assert files == ["seed0001.png", "seed0005.png", "seed0009.png"]
    assert Image.open(tmp_path / "imgs" / "seed0005.png").size == (32, 32)


def test_generate_keeps_existing_output(tmp_path, capsys):
    out = tmp_path / "grid.png"
    out.write_bytes(b"mine")
    assert main(["generate", "--ckpt", CONVERT, "--seeds", "0", "--out", str(out)]) == 2
    assert out.read_bytes() == b"mine"
    err = capsys.readouterr().err.strip()
    assert err.startswith("freezeg: error:") and "--overwrite" in err and len(err.splitlines()) == 1
    assert main(["generate", "--ckpt", CONVERT, "--seeds", "0", "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes() != b"mine"


def test_inspect_reports_format_parts_and_config(capsys):
    assert main(["inspect", TRAIN, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "rosinality-train"
    assert info["config"]["channels"] == {"4": 64, "8": 64, "16": 32, "32": 32}
    assert info["params"]["g_ema"] == info["params"]["g"] > 0
    assert info["g_optim"]["adam_step"] == 1
    assert info["args"]["batch"] == 16


def test_inspect_reads_step_from_freezeg_metadata(tmp_path, capsys):
    from freezeg import load_generator, save_checkpoint

    path = save_checkpoint(tmp_path / "x.pt", g_ema=load_generator(CONVERT), meta={"step": 77})
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format:    freezeg" in out and "step:      77 (from metadata)" in out


def test_freeze_plan_lists_blocks(capsys):
    assert main(["freeze-plan", "--ckpt", TRAIN, "--finetune-loc", "2", "--freeze-d", "1"]) == 0
    out = capsys.readouterr().out
    assert "G   b8           8px" in out and "frozen" in out
    assert "G   b32         32px" in out
    rows = out.splitlines()
    assert next(r for r in rows if r.startswith("G   b32")).endswith("trained")
    assert next(r for r in rows if r.startswith("D   b32")).endswith("frozen")


def test_freeze_plan_without_checkpoint(capsys):
    assert main(["freeze-plan", "--size", "256", "--freeze-g", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows if r["network"] == "G"][-1] == "b256"
    assert sum(r["params"] for r in rows if r["network"] == "G") == 30034338


@pytest.mark.parametrize(
    "argv,match",
    [
        (["inspect", "missing.pt"], "missing.pt: no such file"),
        (["freeze-plan", "--size", "256", "--freeze-g", "9"], "--freeze-g 9"),
        (["generate", "--ckpt", CONVERT, "--seeds", "5-1", "--out", "x.png"], "--seeds"),
        (["generate", "--ckpt", CONVERT, "--out", "x.png", "--device", "tpu"], "--device"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err


def test_malicious_checkpoint_is_refused_by_the_cli(tmp_path, capsys):
    import os

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    torch.save({"g_ema": Exploit()}, tmp_path / "evil.pt")
    assert main(["inspect", str(tmp_path / "evil.pt")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists()
