"""Training and fine-tuning: frozen tensors, resume, non-finite guard, files a run writes, bad input."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg import Discriminator, FreezeSpec, Generator, ModelConfig, load_checkpoint
from freezeg.cli import main
from freezeg.data.synthetic import write_domain
from freezeg.models.freeze import apply_discriminator_freeze, apply_generator_freeze
from freezeg.train import losses
from freezeg.train.loop import Trainer
from freezeg.train.options import TrainOptions
from freezeg.train.signals import StopRequested

TINY = ModelConfig(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8})


@pytest.fixture(scope="module")
def cartoons(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "cartoon"
    write_domain("cartoon", 12, 16, out, seed=1)
    return out


@pytest.fixture(scope="module")
def source_ckpt(tmp_path_factory):
    """A tiny checkpoint in rosinality's train.py layout (args Namespace, Adam states, g_ema != g)."""
    torch.manual_seed(0)
    g, d = Generator(TINY), Discriminator(TINY)
    g_ema = Generator(TINY)
    g_ema.load_state_dict(g.state_dict())
    with torch.no_grad():
        for p in g_ema.parameters():
            p.add_(0.01 * torch.randn_like(p))  # an average that differs from g, as after real training
    g_optim = torch.optim.Adam(g.parameters(), lr=0.002, betas=(0.0, 0.99))
    d_optim = torch.optim.Adam(d.parameters(), lr=0.002, betas=(0.0, 0.99))
    for optim, module in ((g_optim, g), (d_optim, d)):
        sum(p.sum() for p in module.parameters()).backward()
        optim.step()
        optim.zero_grad()
    path = tmp_path_factory.mktemp("src") / "source.pt"
    torch.save({"g": g.state_dict(), "d": d.state_dict(), "g_ema": g_ema.state_dict(),
                "g_optim": g_optim.state_dict(), "d_optim": d_optim.state_dict(),
                "args": argparse.Namespace(size=16, batch=4), "ada_aug_p": 0.0}, path)
    return path


def options(tmp_path, data, **kw) -> TrainOptions:
    base = dict(data=str(data), out=str(tmp_path / "run"), batch=4, steps=4, log_every=2, ckpt_every=2,
                sample_every=2, sample_seeds=4, cache_dir=str(tmp_path / "cache"), device="cpu", augment="none",
                eval_images=0)
    if "source" not in kw:
        base.update(model=TINY)
    base.update(kw)
    return TrainOptions(**base)


def final(tmp_path, step=None):
    ckpts = sorted((tmp_path / "run" / "checkpoints").glob("step-*.pt"))
    return load_checkpoint(ckpts[-1] if step is None else tmp_path / "run" / "checkpoints" / f"step-{step:07d}.pt")


def frozen_names(module, spec, apply) -> set[str]:
    apply(module, spec)
    return {n for n, p in module.named_parameters() if not p.requires_grad}


def test_frozen_tensors_stay_bit_identical_in_g_d_and_g_ema(tmp_path, cartoons, source_ckpt):
    spec = FreezeSpec(g_top_blocks=1, d_last_blocks=1, styles=(4, 5))
    Trainer(options(tmp_path, cartoons, source=str(source_ckpt), freeze=spec, augment="ada")).train()
    src = load_checkpoint(source_ckpt).parts
    out = final(tmp_path).parts
    g_frozen = frozen_names(Generator(TINY), spec, apply_generator_freeze)
    d_frozen = frozen_names(Discriminator(TINY), spec, apply_discriminator_freeze)
    assert g_frozen and d_frozen
    for part, frozen in (("g", g_frozen), ("g_ema", g_frozen), ("d", d_frozen)):
        params = {n for n, _ in (Generator(TINY) if part != "d" else Discriminator(TINY)).named_parameters()}
        for name in params:
            same = torch.equal(out[part][name], src[part][name])
            if name in frozen:
                assert same, f"frozen {part}.{name} changed"
            else:
                assert not same, f"trainable {part}.{name} did not change"
    # The original FreezeG averaged every tensor into g_ema, dragging frozen ones toward g's copy.
    name = "convs.0.conv.weight"
    assert name in g_frozen and not torch.equal(src["g"][name], src["g_ema"][name])


def test_optimizer_state_is_saved_in_rosinality_layout_and_loads_into_its_optimizer(tmp_path, cartoons, source_ckpt):
    Trainer(options(tmp_path, cartoons, source=str(source_ckpt), freeze=FreezeSpec(g_top_blocks=2))).train()
    ckpt = final(tmp_path)
    assert set(ckpt.parts) >= {"g", "d", "g_ema", "g_optim", "d_optim", "args", "ada_aug_p"}
    g = Generator(TINY)
    apply_generator_freeze(g, FreezeSpec(g_top_blocks=2))
    trainable = [i for i, p in enumerate(g.parameters()) if p.requires_grad]
    saved = ckpt.parts["g_optim"]
    assert saved["param_groups"][0]["params"] == list(range(len(list(g.parameters()))))
    assert sorted(saved["state"]) == trainable
    # rosinality's train.py builds Adam over every parameter and loads the state as it is.
    rosinality_optim = torch.optim.Adam(Generator(TINY).parameters(), lr=0.002, betas=(0.0, 0.99))
    rosinality_optim.load_state_dict(saved)
    assert int(saved["state"][trainable[0]]["step"]) == 1 + 4 + 1  # the source's step, 4 G steps, 1 path-length step


def test_path_length_regularisation_runs_with_a_frozen_mapping(tmp_path, cartoons, source_ckpt):
    Trainer(options(tmp_path, cartoons, source=str(source_ckpt), freeze=FreezeSpec(g_top_blocks=1),
                    g_reg_every=1, log_every=1)).train()
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    lengths = [float(r["path_length"]) for r in rows]
    assert len(rows) == 4 and all(np.isfinite(lengths)) and min(lengths) > 0


def _weights(ckpt):
    return {f"{part}.{k}": v for part in ("g", "d", "g_ema") for k, v in ckpt.parts[part].items()}


def test_resumed_run_equals_uninterrupted_run(tmp_path, cartoons, monkeypatch):
    kw = dict(steps=6, ckpt_every=4, augment="ada", ada_kimg=0.05, deterministic=True, xflip=True)
    whole = tmp_path / "whole"
    Trainer(options(whole, cartoons, **kw)).train()

    cut = tmp_path / "cut"
    trainer = Trainer(options(cut, cartoons, **kw))
    real_iteration = trainer.iteration

    def iteration_then_signal():
        ok = real_iteration()
        if trainer.state.step == 3:
            trainer.stop.requested.set()  # what the SIGTERM handler does
        return ok

    monkeypatch.setattr(trainer, "iteration", iteration_then_signal)
    with pytest.raises(StopRequested, match="step 3"):
        trainer.train()
    assert final(cut).step == 3
    Trainer(options(cut, cartoons, **kw), resume=True).train()

    a, b = final(whole), final(cut)
    assert a.step == b.step == 6
    assert a.meta["train_state"]["augment"]["p"] > 0  # ADA moved, and its state carried over
    assert a.meta["train_state"] == b.meta["train_state"]
    for name, tensor in _weights(a).items():
        assert torch.equal(tensor, _weights(b)[name]), name
    for part in ("g_optim", "d_optim"):
        for i, s in a.parts[part]["state"].items():
            assert all(torch.equal(s[k], b.parts[part]["state"][i][k]) for k in s), f"{part} {i}"


def test_non_finite_steps_are_skipped_then_the_last_checkpoint_is_reloaded_at_a_lower_lr(tmp_path, cartoons, monkeypatch, caplog):
    calls = {"n": 0}
    real_loss = losses.g_nonsaturating_loss

    def sometimes_nan(logits):
        calls["n"] += 1
        loss = real_loss(logits)
        # G steps 4 and 6..8 (1-based) blow up: one isolated skip, then a streak of three.
        return loss * float("nan") if calls["n"] in (4, 6, 7, 8) else loss

    monkeypatch.setattr(losses, "g_nonsaturating_loss", sometimes_nan)
    trainer = Trainer(options(tmp_path, cartoons, steps=8, ckpt_every=4, nan_patience=3))
    trainer.train()
    assert trainer.guard.recoveries == 1 and trainer.guard.lr_scale == 0.5
    assert "reloading" in caplog.text and "update skipped" in caplog.text
    for step in (0, 4, 8):
        ckpt = final(tmp_path, step) if step != 0 else None
        if ckpt is not None:
            assert all(torch.isfinite(t).all() for t in _weights(ckpt).values())
    assert final(tmp_path).meta["train_state"]["lr_scale"] == 0.5
    assert final(tmp_path).parts["g_optim"]["param_groups"][0]["lr"] == pytest.approx(0.002 * 0.5 * 4 / 5)


def test_run_writes_samples_csv_and_tensorboard_scalars(tmp_path, cartoons, source_ckpt):
    Trainer(options(tmp_path, cartoons, source=str(source_ckpt), freeze=FreezeSpec(g_top_blocks=2))).train()
    run = tmp_path / "run"
    samples = sorted(p.name for p in (run / "samples").iterdir())
    assert samples == ["step-0000000.png", "step-0000002.png", "step-0000004.png"]
    grid = np.asarray(Image.open(run / "samples" / "step-0000004.png"))
    assert grid.shape == (2 + 2 * 18, 2 + 4 * 18, 3)  # source row above current row, 4 seeds of 16px
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert all(float(r["images_per_s"]) > 0 and np.isfinite(float(r["d_loss"])) for r in rows)
    options_json = json.loads((run / "run.json").read_text())
    assert options_json["freeze"]["g_top_blocks"] == 2

    event_file_loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    (events,) = (run / "tensorboard").iterdir()
    scalars = {}
    for event in event_file_loader.LegacyEventFileLoader(str(events)).Load():
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    assert [s for s, _ in scalars["d_loss"]] == [2, 4]
    assert scalars["d_loss"][0][1] == pytest.approx(float(rows[0]["d_loss"]), rel=1e-4)


def test_train_skips_corrupt_images_and_stops_on_folders_without_any(tmp_path, capsys):
    data = tmp_path / "imgs"
    data.mkdir()
    for i in range(5):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(data / f"{i}.png")
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    common = ["--size", "16", "--style-dim", "16", "--n-mlp", "2", "--channels", "4:16,8:16,16:8", "--batch", "2",
              "--steps", "2", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--sample-seeds", "0",
              "--eval-images", "8"]
    assert main(["train", str(data), "--out", str(tmp_path / "run"), *common]) == 0
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "step-0000002.pt").meta["dataset"]["images"] == 5

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "bad.jpg").write_bytes(b"nope")
    assert main(["train", str(empty), "--out", str(tmp_path / "run2"), *common]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no usable images" in err[0] and str(empty) in err[0]
    assert not (tmp_path / "run2" / "checkpoints").exists()


def _finetune_argv(tmp_path, cartoons, source, *extra):
    return ["finetune", str(cartoons), "--from", str(source), "--out", str(tmp_path / "run"), "--batch", "2",
            "--steps", "2", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--eval-images", "0", *extra]


@pytest.mark.parametrize("extra, match", [
    (["--freeze-g", "9"], "--freeze-g 9: a 16px generator has 3 resolution blocks"),
    (["--size", "32"], "the checkpoint is a 16px model, but --size is 32"),
    (["--augment", "maybe"], "--augment: expected ada"),
    (["--batch", "0"], "--batch must be at least 1"),
])
def test_bad_finetune_settings_are_one_line_errors(tmp_path, cartoons, source_ckpt, capsys, extra, match):
    assert main([*_finetune_argv(tmp_path, cartoons, source_ckpt), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0]


def test_freeze_d_needs_a_pretrained_discriminator(tmp_path, cartoons, source_ckpt, capsys):
    ckpt = torch.load(source_ckpt, weights_only=False)
    no_d = tmp_path / "g_only.pt"
    torch.save({"g_ema": ckpt["g_ema"]}, no_d)
    assert main(_finetune_argv(tmp_path, cartoons, no_d, "--freeze-d", "1")) == 2
    assert "has no discriminator" in capsys.readouterr().err
    # Without --freeze-d, a generator-only file (convert format) fine-tunes with a fresh D.
    assert main(_finetune_argv(tmp_path, cartoons, no_d, "--freeze-g", "2", "--sample-seeds", "0")) == 0


def test_existing_run_is_kept_unless_resumed_or_overwritten(tmp_path, cartoons, source_ckpt, capsys):
    argv = _finetune_argv(tmp_path, cartoons, source_ckpt, "--sample-seeds", "0")
    assert main(argv) == 0
    first = (tmp_path / "run" / "checkpoints" / "step-0000002.pt").read_bytes()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert main(argv) == 2
    assert "--resume" in capsys.readouterr().err
    assert (tmp_path / "run" / "checkpoints" / "step-0000002.pt").read_bytes() == first
    # Resume with more steps continues from step 2; --overwrite starts over but keeps foreign files.
    assert main(["finetune", "--resume", "--out", str(tmp_path / "run"), "--steps", "3"]) == 0
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "step-0000003.pt").step == 3
    assert main([*argv, "--overwrite"]) == 0
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "run" / "checkpoints" / "step-0000003.pt").exists()
    assert main(["train", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "no run to resume" in capsys.readouterr().err
    # Killed before run.json existed: the same command with --resume starts the run.
    (tmp_path / "early").mkdir()
    assert main(_finetune_argv(tmp_path, cartoons, source_ckpt, "--steps", "1", "--out", str(tmp_path / "early"),
                               "--resume")) == 0
    assert (tmp_path / "early" / "checkpoints" / "step-0000001.pt").is_file()


def test_a_run_folder_stands_for_its_newest_checkpoint(tmp_path, cartoons, source_ckpt, capsys):
    assert main(_finetune_argv(tmp_path, cartoons, source_ckpt, "--steps", "3", "--ckpt-every", "2")) == 0
    newest = load_checkpoint(tmp_path / "run")
    assert newest.step == 3
    source_config = load_checkpoint(source_ckpt).config
    args = newest.parts["args"]  # the model's own config, not the unused --style-dim default
    assert (args["size"], args["style_dim"], args["latent"]) == (source_config.size, source_config.style_dim,
                                                                 source_config.style_dim)
    out = tmp_path / "grid.png"
    assert main(["generate", "--ckpt", str(tmp_path / "run"), "--seeds", "0-3", "--out", str(out)]) == 0
    assert Image.open(out).size == (2 + 2 * 18, 2 + 2 * 18)
    (tmp_path / "empty").mkdir()
    assert main(["inspect", str(tmp_path / "empty")]) == 2
    assert "folder without checkpoints" in capsys.readouterr().err


def test_two_gloo_processes_end_with_identical_weights(tmp_path, cartoons, source_ckpt):
    """torchrun with 2 CPU processes (gloo): each trains on its half of the batch, gradients averaged."""
    import os
    import subprocess
    import sys

    from freezeg.models.checkpoint import build_discriminator, build_generator
    from freezeg.train.distributed import weights_digest

    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "freezeg",
           "finetune", str(cartoons), "--from", str(source_ckpt), "--out", str(run), "--batch", "4", "--steps", "3",
           "--freeze-g", "2", "--freeze-d", "1", "--augment", "ada", "--ckpt-every", "3",
           "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--eval-images", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[:3000]  # the head holds the workers' own messages
    ckpt = load_checkpoint(run / "checkpoints" / "step-0000003.pt")
    assert ckpt.meta["world_size"] == 2
    first, second = ckpt.meta["process_digests"]
    assert first == second  # both processes hold bit-identical g, d and g_ema
    rebuilt = [build_generator(ckpt, "g"), build_discriminator(ckpt, "d"), build_generator(ckpt, "g_ema")]
    assert weights_digest(rebuilt) == first  # ... and they are what the file holds
    start = load_checkpoint(run / "checkpoints" / "step-0000000.pt")
    assert not torch.equal(start.parts["g"]["convs.3.conv.weight"], ckpt.parts["g"]["convs.3.conv.weight"])


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_a_killed_cli_run_resumes_to_the_uninterrupted_weights(tmp_path, cartoons, sig):
    """A real process, stopped by a real signal at whatever step it reached, then --resume."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def argv(run, *extra):
        return [sys.executable, "-m", "freezeg", "train", str(cartoons), "--out", str(run), "--size", "16",
                "--style-dim", "16", "--n-mlp", "2", "--channels", "4:16,8:16,16:8", "--batch", "4",
                "--steps", "40", "--ckpt-every", "5", "--augment", "ada", "--ada-kimg", "0.1", "--deterministic",
                "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--sample-seeds", "0",
                "--eval-images", "0", *extra]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(argv(tmp_path / "whole"), check=True, capture_output=True, env=env, timeout=300)
    cut = tmp_path / "cut"
    proc = subprocess.Popen(argv(cut), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    while not (cut / "checkpoints" / "step-0000005.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    if sig == "SIGTERM":
        assert proc.returncode == 130 and b"continue with --resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    reached = max(load_checkpoint(p).step for p in (cut / "checkpoints").glob("step-*.pt"))
    assert 5 <= reached < 40
    subprocess.run(argv(cut, "--resume"), check=True, capture_output=True, env=env, timeout=300)
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "step-0000040.pt")
    b = load_checkpoint(cut / "checkpoints" / "step-0000040.pt")
    for name, tensor in _weights(a).items():
        assert torch.equal(tensor, _weights(b)[name]), name


def test_bfloat16_autocast_trains_with_float32_weights(tmp_path, cartoons, source_ckpt):
    """bf16 runs on any device (natively or emulated); weights, EMA and the penalties stay float32."""
    trainer = Trainer(options(tmp_path, cartoons, source=str(source_ckpt), freeze=FreezeSpec(g_top_blocks=2),
                              precision="bf16", steps=2, g_reg_every=1, sample_seeds=0))
    trainer.train()
    assert final(tmp_path).meta["precision"] == "bf16"
    assert trainer.guard.bad_streak == 0 and trainer.loss.mean_path_length > 0
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in trainer.g.parameters())


def test_best_checkpoint_is_the_lowest_swd_so_far(tmp_path, cartoons, source_ckpt):
    trainer = Trainer(options(tmp_path, cartoons, source=str(source_ckpt), freeze=FreezeSpec(g_top_blocks=2),
                              steps=6, eval_images=12, sample_seeds=0, keep=10))
    trainer.train()
    scores = {step: final(tmp_path, step).meta["swd"] for step in (0, 2, 4, 6)}
    assert all(np.isfinite(v) and v > 0 for v in scores.values())
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert best.meta["swd"] == min(scores.values()) == trainer.state.best_swd
    assert best.step == min(scores, key=scores.get)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert float(rows[-1]["swd"]) == pytest.approx(scores[6], rel=1e-5)


def test_amp_is_bf16_and_runs_from_before_precision_resume_as_they_trained(tmp_path, cartoons, source_ckpt):
    from freezeg.cli import build_parser
    from freezeg.cli.train import options_from_args

    args = build_parser().parse_args([*_finetune_argv(tmp_path, cartoons, source_ckpt), "--amp"])
    assert options_from_args(args).precision == "bf16"
    args = build_parser().parse_args(_finetune_argv(tmp_path, cartoons, source_ckpt))
    assert options_from_args(args).precision == "auto"
    old = options(tmp_path, cartoons).to_dict()
    del old["precision"]
    assert TrainOptions.from_dict(old).precision == "fp32"
    assert TrainOptions.from_dict({**old, "amp": True}).precision == "bf16"


def test_auto_precision_follows_the_hardware(monkeypatch):
    from freezeg.utils import precision

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert precision.resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert precision.resolve_precision("auto", cpu) == "bf16"
    assert precision.resolve_precision("fp32", cpu) == "fp32"
    assert precision.resolve_precision("auto", torch.device("mps")) == "fp32"
    with pytest.raises(ValueError, match="--precision must be one of auto, bf16, fp32"):
        precision.resolve_precision("fp16", cpu)


def test_a_full_disk_at_a_checkpoint_is_one_line_and_resume_finishes(tmp_path, cartoons, inject_faults, capsys):
    argv = ["train", str(cartoons), "--out", str(tmp_path / "run"), "--size", "16", "--style-dim", "16",
            "--n-mlp", "2", "--channels", "4:16,8:16,16:8", "--batch", "4", "--steps", "4", "--ckpt-every", "2",
            "--augment", "none", "--eval-images", "0", "--sample-seeds", "0", "--device", "cpu",
            "--cache-dir", str(tmp_path / "cache"), "-q"]
    inject_faults("fail@write=step-0000002.pt")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith(f"freezeg: error: {tmp_path / 'run' / 'checkpoints' / 'step-0000002.pt'}: disk full (wrote ")
    assert err.endswith("the previous checkpoint step-0000000.pt is intact; free space and continue with --resume")
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-0000000.pt"]
    inject_faults("")
    assert main([*argv, "--resume"]) == 0
    assert final(tmp_path).step == 4


def test_injected_nan_gradients_are_survived_and_the_last_checkpoint_is_finite(tmp_path, cartoons, inject_faults, caplog):
    """The fault switch's NaN reaches the real guard: skips, a reload at half the lr, a finite end."""
    inject_faults("nan@step=3-5")
    trainer = Trainer(options(tmp_path, cartoons, steps=8, ckpt_every=2, nan_patience=3))
    trainer.train()
    assert "step 3: non-finite" in caplog.text and "reloading" in caplog.text
    last = final(tmp_path)
    assert last.step == 8 and last.meta["train_state"]["recoveries"] == 1 and last.meta["train_state"]["lr_scale"] == 0.5
    assert all(torch.isfinite(t).all() for t in _weights(last).values())


def test_a_fine_tuned_checkpoint_converts_and_a_training_mapping_drops_the_stale_average_w(tmp_path, cartoons, source_ckpt):
    data = torch.load(source_ckpt, weights_only=False)
    data["latent_avg"] = torch.ones(TINY.style_dim)  # the source's average w
    src = tmp_path / "src-with-avg.pt"
    torch.save(data, src)
    Trainer(options(tmp_path, cartoons, source=str(src), steps=1, ckpt_every=1)).train()  # the mapping trains
    tuned = final(tmp_path)
    assert "latent_avg" not in tuned.parts  # it would be the source's, no longer the mean of the new mapping
    assert main(["convert", str(tuned.path), "--out", str(tmp_path / "converted.pt"), "-q"]) == 0
    meta = load_checkpoint(tmp_path / "converted.pt").meta["source"]
    assert meta["fine_tuned_from"] == str(src) and meta["path"] == str(tuned.path)


def test_coarse_rgb_train_recolours_the_frozen_blocks_but_keeps_their_features(tmp_path, cartoons, source_ckpt):
    argv = _finetune_argv(tmp_path, cartoons, source_ckpt, "--freeze-g", "1", "--coarse-rgb", "train")
    assert main(argv) == 0
    out, src = final(tmp_path), load_checkpoint(source_ckpt).parts
    assert out.meta["freeze"]["coarse_rgb"] is True
    for name in ("conv1.conv.weight", "convs.0.conv.weight", "convs.1.conv.weight", "style.1.weight"):
        assert torch.equal(out.parts["g_ema"][name], src["g_ema"][name]), name  # the frozen features
    for name in ("to_rgb1.conv.weight", "to_rgbs.0.conv.weight", "to_rgbs.1.conv.weight"):
        assert not torch.equal(out.parts["g_ema"][name], src["g_ema"][name]), name
