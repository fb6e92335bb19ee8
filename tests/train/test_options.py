"""TrainOptions: a run from scratch holds its ModelConfig; run.json keeps the flat keys rosinality's args use."""

from __future__ import annotations

import pytest

from freezeg import FreezeSpec, ModelConfig
from freezeg.cli import main
from freezeg.train.options import TrainOptions

MODEL = ModelConfig(16, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8})


def test_a_run_from_scratch_round_trips_its_model_through_the_flat_run_json_layout():
    options = TrainOptions(data="d", out="o", model=MODEL, steps=7)
    flat = options.to_dict()
    assert (flat["size"], flat["style_dim"], flat["n_mlp"]) == (16, 16, 2) and "model" not in flat
    back = TrainOptions.from_dict(flat)
    assert back.model == MODEL and back.model.channel_table() == MODEL.channel_table()
    assert back.size is None and back.steps == 7 and back.resolution == 16


def test_a_fine_tune_has_no_model_of_its_own_and_old_run_files_keep_loading():
    # run.json of a fine-tune before TrainOptions held a ModelConfig: unused architecture defaults.
    old = {"data": "d", "out": "o", "source": "src.pt", "size": 32, "style_dim": 512, "n_mlp": 8,
           "channel_multiplier": 2, "channels": None, "freeze": FreezeSpec(g_top_blocks=2).to_dict(), "amp": True}
    back = TrainOptions.from_dict(old)
    assert back.model is None and back.size == 32 and back.freeze.g_top_blocks == 2 and back.precision == "bf16"
    back.validate()
    assert TrainOptions.from_dict(back.to_dict()) == back


@pytest.mark.parametrize("kw, message", [
    (dict(), "needs --size"),
    (dict(model=MODEL, source="s.pt"), "takes its architecture from the source"),
    (dict(model=MODEL, size=32), "--size 32 differs from the model's 16"),
])
def test_inconsistent_architectures_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainOptions(data="d", out="o", **kw).validate()


def test_train_without_size_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert "training from scratch needs --size" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
