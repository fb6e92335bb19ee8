"""`freezeg bench`: the JSON shape, the workload registry and bad names (no timing assertions)."""

import json
from functools import partial

import pytest
import torch

from freezeg.benchmarks import bench
from freezeg.cli import main

EXPECTED = [
    "g_fwd_256_b1",
    "g_fwd_256_b4",
    "g_train_step_256_b4",
    "g_train_step_256_b4_freeze2",
    "d_step_256_b4",
    "d_r1_256_b4",
    "proj_step_256_wplus",
    "proj_step_256_wplus_b8",
    "g_fwd_64_b8",
    "g_train_step_64_b8",
    "d_step_64_b8",
    "translate_64",
    "translate_64_default",
    "pivotal_tune_64",
    "stylize_64",
    "train_iter_64_demo_b8",
    "convert_pkl_256",
    "serve_rerender_64",
    "serve_rerender_256",
    "serve_reblend_256",
    "align_1mp",
    "conv3x3_512_64_b4",
    "conv3x3_256_64_b8",
]


def test_registry_has_the_fixed_workload_names():
    assert list(bench.WORKLOADS) == EXPECTED


def test_bench_json_has_one_median_per_workload_peak_memory_and_meta(capsys):
    argv = ["bench", "--json", "--only", "g_fwd_64_b8", "--repeat", "1", "--warmup", "0", "--device", "cpu"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"g_fwd_64_b8", "peak_memory_mb", "meta"}
    assert isinstance(result["g_fwd_64_b8"], float) and result["g_fwd_64_b8"] > 0
    assert result["peak_memory_mb"]["g_fwd_64_b8"] > 0  # at least the model's 100 MB of weights
    meta = result["meta"]
    assert meta["torch"] == torch.__version__
    assert (meta["threads"], meta["device"], meta["repeat"], meta["warmup"]) == (2, "cpu", 1, 0)
    assert meta["cpu"]


@pytest.mark.parametrize("only", ["g_fwd_64_b9", "g_fwd_64_b8,nope", ","])
def test_unknown_workload_is_a_one_line_error(only, capsys):
    assert main(["bench", "--only", only]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("freezeg: error: --only:")


def test_bad_counts_are_rejected(capsys):
    assert main(["bench", "--only", "g_fwd_64_b8", "--repeat", "0"]) == 2
    assert "--repeat" in capsys.readouterr().err


def test_every_step_builder_runs_on_a_tiny_config(tiny_config):
    """The step builders behind the registry, on a 16px model: each trains what it should."""
    dev = torch.device("cpu")
    for step in (
        bench.generator_forward(tiny_config, 2, dev),
        bench.generator_train_step(tiny_config, 2, dev),
        bench.discriminator_step(tiny_config, 2, dev),
        bench.discriminator_r1_step(tiny_config, 2, dev),
        bench.projection_step(tiny_config, 3, dev),
        bench.translation(tiny_config, 2, dev),
        bench.default_translation(tiny_config, 2, dev),
        bench.pivotal_tuning(tiny_config, 2, 2, dev),
        bench.serve_rerender(tiny_config, dev),
        bench.serve_rerender(tiny_config, dev, change="blend"),
    ):
        step()


def test_a_training_iteration_workload_trains(tiny_config, tmp_path):
    step = bench.training_iteration(tiny_config, 2, torch.device("cpu"), work=tmp_path)
    step()
    assert step.__self__.state.step == 1


def test_time_workload_reports_times_and_memory(tiny_config, monkeypatch):
    monkeypatch.setitem(bench.WORKLOADS, "tiny", bench.Workload("tiny", partial(bench.generator_forward, tiny_config, 2), ""))
    out = bench.time_workload("tiny", torch.device("cpu"), threads=torch.get_num_threads(), repeat=3, warmup=1)
    assert len(out["times"]) == 3 and all(t > 0 for t in out["times"])
    assert out["peak_memory_mb"] >= 0


def test_table_lists_each_workload_with_its_numbers():
    result = {
        "g_fwd_64_b8": 0.25,
        "peak_memory_mb": {"g_fwd_64_b8": 310.0},
        "meta": {"torch": "2.13.0", "device": "cpu", "cpu": "Some CPU", "threads": 2, "repeat": 5, "warmup": 1,
                 "min_max_seconds": {"g_fwd_64_b8": [0.2, 0.3]}},
    }
    lines = bench.format_table(result).splitlines()
    assert "2 threads" in lines[0] and "median of 5 after 1 warm-up" in lines[0]
    assert lines[2].split() == ["g_fwd_64_b8", "0.2500", "0.2000", "0.3000", "310"]


def test_convert_pickle_workload_converts_a_real_pickle(tmp_path):
    config = bench.ModelConfig(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8}, conv_clamp=256)
    step = bench.convert_pickle(config, torch.device("cpu"), work=tmp_path)
    step()
    converted = bench.load_checkpoint(tmp_path / "converted.pt")
    assert converted.config.to_dict() == config.to_dict()
    assert bench.load_checkpoint(tmp_path / "network.pkl").format == "nvlabs-pickle"


def test_workload_without_its_extra_is_skipped_with_a_note(tiny_config, monkeypatch, capsys):
    work = bench.Workload("needs_x", partial(bench.generator_forward, tiny_config, 2), "", missing=lambda: "needs x")
    monkeypatch.setitem(bench.WORKLOADS, "needs_x", work)
    assert main(["bench", "--json", "--only", "needs_x", "--repeat", "1", "--warmup", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "needs_x" not in result and result["meta"]["skipped"] == {"needs_x": "needs x"}
    assert bench.format_table(result).splitlines()[-1].split() == ["needs_x", "skipped:", "needs", "x"]


def test_alignment_workload_names_what_it_lacks(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dlib" else real_find_spec(name, *a))
    assert bench.alignment_missing() == "needs pip install 'freezeg[align]'"


def test_bench_compares_precisions_side_by_side(capsys):
    argv = ["bench", "--json", "--only", "conv3x3_256_64_b8", "--repeat", "1", "--warmup", "0", "--device", "cpu",
            "--threads", "1", "--precision", "both"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fp32"]["meta"]["precision"] == "fp32" and result["bf16"]["meta"]["precision"] == "bf16"
    assert result["fp32"]["conv3x3_256_64_b8"] > 0 and result["bf16"]["conv3x3_256_64_b8"] > 0
    table = bench.format_comparison(result["fp32"], result["bf16"])
    assert "conv3x3_256_64_b8" in table.splitlines()[-1] and table.rstrip().endswith("x")
