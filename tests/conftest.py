"""Shared fixtures: the rosinality reference vectors, tiny model configs and checkpoints.

Plain helpers (paths, functions) live in helpers.py.
"""

from __future__ import annotations

import json

import pytest
import torch

from freezeg import Discriminator, Generator, ModelConfig, save_checkpoint
from helpers import REFERENCE, load_ref

# Tests run tiny models: one intra-op thread is as fast, and it keeps timings sane when the
# cores are shared (OpenMP's spinning threads slow tiny convolutions 100-fold under load).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def ref_config() -> ModelConfig:
    c = json.loads((REFERENCE / "config.json").read_text())
    return ModelConfig(size=c["size"], style_dim=c["style_dim"], n_mlp=c["n_mlp"], channels=c["channels"],
                       blur_kernel=c["blur_kernel"], lr_mlp=c["lr_mlp"])


@pytest.fixture()
def ref_g(ref_config) -> Generator:
    g = Generator(ref_config).eval()
    g.load_state_dict(load_ref("generator_state"))
    return g


@pytest.fixture()
def ref_d(ref_config) -> Discriminator:
    d = Discriminator(ref_config)
    d.load_state_dict(load_ref("discriminator_state"))
    return d


@pytest.fixture()
def tiny_config() -> ModelConfig:
    """A 16px model small enough for fast CPU tests."""
    return ModelConfig(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8})


@pytest.fixture()
def pair(tmp_path, tiny_config):
    """(source, target) checkpoint paths of two different tiny generators."""
    torch.manual_seed(1)
    src, tgt = Generator(tiny_config), Generator(tiny_config)
    return str(save_checkpoint(tmp_path / "src.pt", g_ema=src)), str(save_checkpoint(tmp_path / "tgt.pt", g_ema=tgt))


@pytest.fixture
def inject_faults(monkeypatch):
    """Set FREEZEG_FAULTS (freezeg.utils.faults) in this process for one test: inject_faults("nan@step=3")."""
    from freezeg.utils import faults

    def set_rules(text: str) -> None:
        monkeypatch.setenv(faults.ENV, text)
        faults.reload()
    yield set_rules
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.reload()
