"""The shipped emoji models (issue 21): the OpenMoji source with its discriminator, its Fluent
Emoji 3D fine-tune and the blend of the two that translates. They load by name, are what their
provenance says, carry their licence notices, keep FreezeG's frozen blocks bit for bit, and
translate a user's drawing offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg import load_checkpoint, load_discriminator, load_generator
from freezeg.generate.blend import blend_generators
from freezeg.generate.sampling import seeded_images
from freezeg.models.checkpoint import build_generator
from freezeg.models.freeze import FreezeSpec, apply_generator_freeze
from freezeg.models.shipped import PRETRAINED, SHIPPED, shipped_path
from helpers import ROOT

EXAMPLES = ROOT / "src" / "freezeg" / "data" / "examples" / "emoji"
FP16_TOLERANCE = 4 / 255  # scripts/export_source.py: two 8-bit levels


@pytest.fixture(scope="module")
def source():
    return load_checkpoint("emoji")


@pytest.fixture(scope="module", params=["emoji-fluent3d", "emoji-fluent3d-full"])
def target(request):
    return load_checkpoint(request.param)


def test_all_shipped_weights_together_stay_under_25_mb():
    files = [shipped_path(name) for name in SHIPPED]
    assert {f.name for f in PRETRAINED.glob("*.pt")} == {f.name for f in files}  # nothing unregistered
    assert sum(f.stat().st_size for f in files) <= 25_000_000


@pytest.mark.parametrize("name", ["emoji", "emoji-fluent3d", "emoji-fluent3d-full"])
def test_emoji_models_are_64px_float16_and_render_their_float32_reference(name):
    ckpt = load_checkpoint(name)
    assert ckpt.path == str(shipped_path(name)) and ckpt.config.size == 64
    assert ckpt.meta["provenance"]["dtype"] == "float16"
    g = load_generator(name).eval()
    ref = ckpt.meta["reference"]
    with torch.no_grad():
        images = seeded_images(g, ref["seeds"])
    diff = float((images - ref["images"]).abs().max())
    assert diff <= FP16_TOLERANCE
    assert diff == pytest.approx(ckpt.meta["provenance"]["fp16_max_abs_diff"], abs=1e-6)
    assert float(images.std()) > 0.2


def test_the_source_ships_its_discriminator_and_openmoji_attribution(source):
    assert set(source.parts) - {"latent_avg"} == {"g_ema", "d"}
    p = source.meta["provenance"]
    assert p["d_dtype"] == "float16" and p["d_fp16_max_abs_diff"] <= FP16_TOLERANCE
    assert p["dataset"]["images"] == 4038 and p["train_args"]["size"] == 64 and len(p["git_commit"]) == 40
    assert "OpenMoji" in source.meta["licence"] and "CC BY-SA 4.0" in source.meta["licence"]
    d = load_discriminator("emoji").eval()
    with torch.no_grad():
        assert torch.isfinite(d(torch.zeros(1, 3, 64, 64))).all()


def test_the_target_is_a_fluent_fine_tune_of_the_source_with_its_frozen_blocks_unchanged(source, target):
    p = target.meta["provenance"]
    assert p["dataset"]["images"] == 3052  # the Fluent 3D training renderings
    assert "MIT" in target.meta["licence"] and "CC BY-SA 4.0" in target.meta["licence"]
    spec = FreezeSpec.from_dict(p["train_args"]["freeze"])
    assert spec.g_top_blocks in (1, 2, 3)  # a FreezeG fine-tune, not a full one
    src, tgt = build_generator(source, "g_ema"), build_generator(target, "g_ema")  # the files read once, by the fixtures
    apply_generator_freeze(src, spec)
    frozen = [(name, x) for name, x in src.named_parameters() if not x.requires_grad]
    assert any(name.startswith("style.") for name, _ in frozen) and len(frozen) > 20  # mapping ("style") too
    target_params = dict(tgt.named_parameters())
    for name, x in frozen:
        assert torch.equal(x, target_params[name]), f"{name} changed"
    trained = [name for name, x in src.named_parameters() if x.requires_grad]
    assert any(not torch.equal(src.get_parameter(n), target_params[n]) for n in trained)  # and it did learn


def test_the_translating_target_is_the_fine_tune_blended_with_the_source_at_its_recorded_share():
    blend = load_checkpoint("emoji-fluent3d")
    share = blend.meta["provenance"]["blend"]["share"]
    assert 0 < share < 1
    source, full, shipped = (load_generator(name) for name in ("emoji", "emoji-fluent3d-full", "emoji-fluent3d"))
    expected = blend_generators(source, full, share=share)
    for (name, x), y in zip(shipped.named_parameters(), expected.parameters()):
        # both files are float16: the blend rounded once from float32, the fine-tune before blending
        assert torch.allclose(x, y, rtol=2e-3, atol=1e-4), name
    assert torch.equal(shipped.style[1].weight, source.style[1].weight)  # the source's mapping


def test_a_users_drawing_of_another_size_with_alpha_translates_offline_by_model_names(tmp_path):
    from freezeg.cli import main

    drawing = Image.open(EXAMPLES / "openmoji" / "1f43c.png").convert("RGBA").resize((100, 100))
    rgba = np.asarray(drawing).copy()
    rgba[..., 3] = np.where(rgba[..., :3].min(axis=-1) > 250, 0, 255)  # white page made transparent
    Image.fromarray(rgba).save(tmp_path / "panda.png")
    out = tmp_path / "out"
    assert main(["translate", str(tmp_path / "panda.png"), "--source", "emoji", "--target", "emoji-fluent3d",
                 "--steps", "20", "--out", str(out), "-q"]) == 0
    translated = np.asarray(Image.open(out / "translated" / "panda.png"))
    assert translated.shape == (64, 64, 3)
    record = json.loads((out / "fidelity.json").read_text())
    assert (record["settings"]["source"], record["settings"]["target"]) == ("emoji", "emoji-fluent3d")
    assert record["inputs"]["panda"]["outputs"]["translation"] == "translated/panda.png"
    # composited on white: the reconstruction's corners are the white page, not black
    recon = np.asarray(Image.open(out / "reconstructions" / "panda.png")).astype(float)
    assert recon[:4, :4].mean() > 200
