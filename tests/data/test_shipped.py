"""The shipped demo source generator: it loads, it is what its provenance says, and RETRAIN=1 remakes it."""

from __future__ import annotations

import os
import subprocess

import pytest
import torch

from freezeg import load_checkpoint, load_discriminator, load_generator
from freezeg.data.synthetic import DEMO_SOURCE, make_images
from freezeg.generate.sampling import seeded_images
from freezeg.models.networks import ModelConfig
from helpers import ROOT


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEMO_SOURCE)


def retrain_commands() -> list[list[str]]:
    """What `make demo RETRAIN=1` runs to make the source (scripts/demo.sh prints it without running)."""
    env = {**os.environ, "PRINT_RETRAIN": "1", "RETRAIN": "1"}
    env.pop("DEMO_DIR", None)
    done = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30, check=True)
    return [line.split() for line in done.stdout.splitlines()]


def test_shipped_source_is_small_and_loads_with_its_recorded_config(shipped):
    assert DEMO_SOURCE == ROOT / "src" / "freezeg" / "data" / "pretrained" / "blobs32.pt"
    assert DEMO_SOURCE.stat().st_size < 2_000_000
    assert set(shipped.parts) - {"latent_avg"} == {"g_ema", "d"} and shipped.format == "freezeg"
    recorded = ModelConfig.from_dict(shipped.meta["config"])
    assert shipped.config == recorded
    assert recorded == ModelConfig(size=32, style_dim=64, n_mlp=4, channels={4: 64, 8: 64, 16: 64, 32: 32})
    g = load_generator(DEMO_SOURCE).eval()
    assert g.config == recorded
    assert shipped.meta["provenance"]["dtype"] in ("float16", "float32")
    assert {v.dtype for v in shipped.parts["g_ema"].values() if v.is_floating_point()} == {
        getattr(torch, shipped.meta["provenance"]["dtype"])}


def test_shipped_source_renders_its_float32_reference_within_1e_2(shipped):
    g = load_generator(DEMO_SOURCE).eval()
    ref = shipped.meta["reference"]
    with torch.no_grad():
        images = seeded_images(g, ref["seeds"])
    diff = float((images - ref["images"]).abs().max())
    assert diff <= 1e-2
    assert diff == pytest.approx(shipped.meta["provenance"]["fp16_max_abs_diff"], abs=1e-6)
    assert float(images.std()) > 0.2  # a trained generator's images, not a flat field


def test_shipped_discriminator_scores_real_blobs_above_its_generators_samples(shipped):
    """The discriminator trained with g_ema (what FreezeD and stylize's d-features loss start from)."""
    d = load_discriminator(DEMO_SOURCE).eval()
    assert shipped.meta["provenance"]["d_dtype"] == "float16"
    assert shipped.meta["provenance"]["d_fp16_max_abs_diff"] <= 1e-2
    real = torch.from_numpy(make_images("blobs", 16, 32, seed=7)).float() / 127.5 - 1
    with torch.no_grad():
        fake = seeded_images(load_generator(DEMO_SOURCE).eval(), list(range(16)))
        assert float(d(real.permute(0, 3, 1, 2)).mean()) > float(d(fake).mean())


def test_retrain_runs_the_recorded_command_on_the_recorded_data(shipped):
    p = shipped.meta["provenance"]
    synth, train = retrain_commands()
    assert p["train_command"] == train  # the exact command line the shipped weights were trained with
    assert p["seed"] == 0 and "--seed" not in train  # the training default seed
    assert p["step"] == int(train[train.index("--steps") + 1])
    assert len(p["git_commit"]) == 40
    data = p["dataset"]
    assert train[:2] == ["freezeg", "train"] and data["path"] == train[2] == synth[synth.index("--out") + 1]
    n, seed = int(synth[synth.index("--n") + 1]), int(synth[synth.index("--seed") + 1])
    assert synth[:4] == ["freezeg", "synth", "--domain", "blobs"] and data["images"] == n
    assert data["source"] == f"synthetic blobs seed {seed}"


@pytest.mark.slow
def test_the_recorded_dataset_is_the_one_retrain_renders(shipped):
    import hashlib

    synth = retrain_commands()[0]
    n, size, seed = (int(synth[synth.index(f) + 1]) for f in ("--n", "--size", "--seed"))
    pixels = make_images("blobs", n, size, seed=seed)
    assert hashlib.sha256(pixels.data).hexdigest() == shipped.meta["provenance"]["dataset"]["fingerprint"]


def test_a_shipped_name_resolves_where_a_path_is_taken_and_a_real_file_of_that_name_wins(tmp_path, monkeypatch):
    from freezeg.cli import main

    assert load_checkpoint("blobs32").path == str(DEMO_SOURCE)
    out = tmp_path / "seed.png"
    assert main(["generate", "--ckpt", "blobs32", "--seeds", "3", "--out", str(out), "-q"]) == 0
    assert out.exists()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blobs32").write_bytes(b"not a checkpoint")  # the user's own file named like a shipped model
    with pytest.raises(Exception, match="blobs32"):
        load_checkpoint("blobs32")
