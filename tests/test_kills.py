"""Long commands killed (SIGKILL, through FREEZEG_FAULTS) at a chosen point, then run again:
nothing half-written under a real name, and the rerun ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from freezeg import load_checkpoint
from freezeg.cli import main
from freezeg.data.synthetic import write_domain

TINY = ["--size", "16", "--style-dim", "16", "--n-mlp", "2", "--channels", "4:16,8:16,16:8"]
QUICK = ["--batch", "4", "--augment", "none", "--eval-images", "0", "--sample-seeds", "0", "--device", "cpu", "-q"]


def freezeg(args: list[str], faults: str | None = None) -> subprocess.CompletedProcess:
    """`python -m freezeg ARGS` in a child process, with FREEZEG_FAULTS when given."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("FREEZEG_FAULTS", None)
    if faults:
        env["FREEZEG_FAULTS"] = faults
    return subprocess.run([sys.executable, "-m", "freezeg", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def killed(done: subprocess.CompletedProcess) -> bool:
    return done.returncode == -signal.SIGKILL


def visible(folder: Path) -> list[str]:
    """Every file under `folder` by relative path, temporary (dot) files left by the kill excluded."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Training images and a tiny source checkpoint with g, d and g_ema."""
    root = tmp_path_factory.mktemp("kills")
    write_domain("cartoon", 12, 16, root / "cartoon", seed=1)
    write_domain("blobs", 3, 16, root / "photos", seed=2)
    assert main(["train", str(root / "cartoon"), "--out", str(root / "src"), *TINY, *QUICK, "--steps", "2",
                 "--cache-dir", str(root / "cache")]) == 0
    return root


def weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(path)
    return {f"{part}.{k}": v for part in ("g", "d", "g_ema") for k, v in ckpt.parts[part].items()}


def test_a_kill_in_the_middle_of_a_checkpoint_write_leaves_the_older_ones_and_resume_is_exact(work, tmp_path):
    """Writes of a run: run.json (1), step 0 (2), step 2 (3): killed with step 2's bytes on disk."""
    args = ["finetune", work / "cartoon", "--from", work / "src", "--freeze-g", "1", "--steps", "4",
            "--ckpt-every", "2", "--deterministic", "--cache-dir", work / "cache", *QUICK]
    assert freezeg([*args, "--out", tmp_path / "whole"]).returncode == 0
    cut = tmp_path / "cut"
    assert killed(freezeg([*args, "--out", cut], faults="kill@write=3"))
    assert visible(cut / "checkpoints") == ["step-0000000.pt"]
    assert any(p.name.startswith(".step-0000002.") for p in (cut / "checkpoints").iterdir())  # the unfinished bytes
    assert freezeg([*args, "--out", cut, "--resume"]).returncode == 0
    a, b = weights(tmp_path / "whole" / "checkpoints" / "step-0000004.pt"), weights(cut / "checkpoints" / "step-0000004.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_folder_translation_killed_after_an_image_finishes_the_rest_on_rerun(work, tmp_path):
    args = ["translate", work / "photos", "--source", work / "src", "--target", work / "src", "--steps", "3",
            "--batch", "1", "--device", "cpu", "-q"]
    assert freezeg([*args, "--out", tmp_path / "whole"]).returncode == 0
    cut = tmp_path / "cut"
    assert killed(freezeg([*args, "--out", cut], faults="kill@item=2"))
    assert len(json.loads((cut / "fidelity.json").read_text())["inputs"]) == 2
    assert freezeg([*args, "--out", cut]).returncode == 0
    assert visible(cut) == visible(tmp_path / "whole")
    for name in visible(cut):
        if name.endswith(".png"):
            assert (cut / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


@pytest.mark.slow
def test_encoder_training_killed_mid_run_resumes_to_the_uninterrupted_encoder(work, tmp_path):
    args = ["encoder", "train", "--ckpt", work / "src", "--steps", "6", "--batch", "4", "--width", "8",
            "--save-every", "2", "--device", "cpu", "-q"]
    assert freezeg([*args, "--out", tmp_path / "whole.pt"]).returncode == 0
    assert killed(freezeg([*args, "--out", tmp_path / "cut.pt"], faults="kill@step=5"))
    assert freezeg([*args, "--out", tmp_path / "cut.pt", "--resume"]).returncode == 0
    a = torch.load(tmp_path / "whole.pt", weights_only=True)["state"]
    b = torch.load(tmp_path / "cut.pt", weights_only=True)["state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_sweep_killed_between_settings_reuses_the_finished_ones(work, tmp_path):
    args = ["sweep", work / "cartoon", "--from", work / "src", "--freeze-g", "0,1", "--steps", "2", "--batch", "4",
            "--augment", "none", "--structure-seeds", "4", "--grid-seeds", "2", "--deterministic",
            "--cache-dir", work / "cache", "--device", "cpu", "-q"]
    assert freezeg([*args, "--out", tmp_path / "whole"]).returncode == 0
    cut = tmp_path / "cut"
    assert killed(freezeg([*args, "--out", cut], faults="kill@setting=2"))  # the baseline and g0 are done
    assert not (cut / "sweep.json").exists()
    again = freezeg([*args, "--out", cut])
    assert again.returncode == 0
    a, b = (json.loads((folder / "sweep.json").read_text()) for folder in (tmp_path / "whole", cut))
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in a["rows"]]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in b["rows"]]


@pytest.mark.slow
def test_dataset_preparation_killed_midway_leaves_no_output_and_reruns(work, tmp_path):
    out = tmp_path / "prepared.zip"
    assert killed(freezeg(["prepare", work / "cartoon", "--size", "16", "--out", out], faults="kill@item=5"))
    assert not out.exists()
    assert freezeg(["prepare", work / "cartoon", "--size", "16", "--out", out]).returncode == 0
    assert out.is_file()


def test_the_fault_switch_is_refused_when_misspelt(work, tmp_path):
    done = freezeg(["inspect", work / "src"], faults="kill@lunch=1")
    assert done.returncode == 1 and "FREEZEG_FAULTS: cannot read the rule 'kill@lunch=1'" in done.stderr

