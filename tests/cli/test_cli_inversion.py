"""The inversion options from the CLI: --recipe, --init (encoder), --pivotal-tuning, `encoder
train` and `bench-inversion`, on tiny models and real files."""

import json

import pytest
import torch
from PIL import Image

from freezeg import FreezeSpec, load_generator, save_checkpoint
from freezeg.cli import main
from freezeg.inversion.latents import load_latent
from freezeg.inversion.pivotal import load_tuning, shared_blocks
from freezeg.utils.media import to_uint8
from helpers import finetuned, trained_like

QUICK = ["--steps", "6", "--device", "cpu", "-q"]


@pytest.fixture()
def freezeg_pair(tmp_path, tiny_config):
    """A source and a stand-in FreezeG fine-tune of it (top block trained), as checkpoint files."""
    source = trained_like(tiny_config)
    target = finetuned(source, top_blocks=1)
    src = save_checkpoint(tmp_path / "src.pt", g_ema=source)
    tgt = save_checkpoint(tmp_path / "tgt.pt", g_ema=target, meta={"freeze": FreezeSpec(g_top_blocks=1).to_dict()})
    return str(src), str(tgt)


@pytest.fixture()
def photos(tmp_path, freezeg_pair):
    g = load_generator(freezeg_pair[0])
    with torch.no_grad():
        imgs = to_uint8(g(torch.randn(2, g.style_dim, generator=torch.Generator().manual_seed(4)), truncation=0.7))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, img in enumerate(imgs):
        Image.fromarray(img).save(folder / f"p{i}.png")
    return folder


def test_translate_with_pivotal_tuning_writes_tunings_and_reports_before_after(tmp_path, freezeg_pair, photos):
    src, tgt = freezeg_pair
    out = tmp_path / "out"
    args = [str(photos), "--source", src, "--target", tgt, "--out", str(out), "--pivotal-tuning", "--pt-steps", "5", *QUICK]
    assert main(["translate", *args]) == 0
    source, target = load_generator(src), load_generator(tgt)
    shared = shared_blocks(source, target)
    records = json.loads((out / "fidelity.json").read_text())
    assert records["settings"]["pivotal_tuning"] == {"blocks": ["4px", "8px"], "steps": 5, "lr": 3e-3, "mse": 100.0,
                                                      "trained_blocks": False}
    for name in ("p0", "p1"):
        entry = records["inputs"][name]
        tuning = load_tuning(out / "latents" / f"{name}.pti", source, shared)
        assert entry["outputs"]["tuning"] == f"latents/{name}.pti"
        assert entry["before_tuning"]["psnr"] == pytest.approx(tuning.before["psnr"])
        assert entry["psnr"] == pytest.approx(tuning.after["psnr"]) and entry["psnr"] != entry["before_tuning"]["psnr"]
        assert set(tuning.deltas) == set(shared.names)
    assert "&rarr;" in (out / "summary.html").read_text()
    # The checkpoints are never modified.
    assert all(torch.equal(a, b) for a, b in zip(load_generator(src).state_dict().values(), source.state_dict().values()))
    # A rerun with --overwrite into the same folder keeps working; the latent files (and the tunings beside them)
    # translate again as inputs, tuned.
    again = tmp_path / "again"
    assert main(["translate", str(out / "latents"), "--source", src, "--target", tgt, "--out", str(again),
                 "--pivotal-tuning", "--pt-steps", "5", *QUICK]) == 0
    notes = {k: v["note"] for k, v in json.loads((again / "fidelity.json").read_text())["inputs"].items()}
    assert notes == {n: "a latent file: no source image to compare with; with the tuning file beside it" for n in ("p0", "p1")}
    # Translations made without tuning do not mix into a folder of tuned ones.
    assert main(["translate", str(photos), "--source", src, "--target", tgt, "--out", str(out), *QUICK]) == 2


def test_pivotal_tuning_refuses_a_target_that_shares_nothing(tmp_path, freezeg_pair, photos, tiny_config, capsys):
    src, _ = freezeg_pair
    other = trained_like(tiny_config)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.01)
    stranger = save_checkpoint(tmp_path / "stranger.pt", g_ema=other)
    assert main(["translate", str(photos), "--source", src, "--target", str(stranger), "--out", str(tmp_path / "o"),
                 "--pivotal-tuning", *QUICK]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"freezeg: error: {stranger}: shares no frozen blocks with {src}") and "\n" not in err
    assert main(["translate", str(photos), "--source", src, "--target", str(stranger), "--out", str(tmp_path / "o"),
                 "--pt-steps", "3", *QUICK]) == 2
    assert "--pt-steps needs --pivotal-tuning" in capsys.readouterr().err
    assert main(["translate", str(photos), "--source", src, "--target", str(stranger), "--out", str(tmp_path / "o3"),
                 "--pt-mse", "1", *QUICK]) == 2
    assert "--pt-mse needs --pivotal-tuning" in capsys.readouterr().err


def test_encoder_train_then_project_from_its_guess(tmp_path, freezeg_pair, photos, capsys):
    src, _ = freezeg_pair
    enc = tmp_path / "enc.pt"
    assert main(["encoder", "train", "--ckpt", src, "--out", str(enc), "--steps", "3", "--batch", "4", "--width", "8",
                 "--device", "cpu", "-q"]) == 0
    assert main(["encoder", "train", "--ckpt", src, "--out", str(enc), "--steps", "3", "--device", "cpu", "-q"]) == 2
    assert "already exists (--resume continues its training, --overwrite starts over)" in capsys.readouterr().err
    out = tmp_path / "proj"
    assert main(["project", str(photos), "--ckpt", src, "--out", str(out), "--init", str(enc), "--steps", "0",
                 "--device", "cpu", "-q"]) == 0
    latent = load_latent(out / "latents" / "p0.pt", load_generator(src))
    assert latent.meta["steps"] == 0 and latent.meta["init"] == str(enc) and latent.meta["recipe"] == "default"
    assert json.loads((out / "fidelity.json").read_text())["settings"]["init"] == str(enc)
    assert main(["project", str(photos), "--ckpt", src, "--out", str(tmp_path / "p2"), "--steps", "0", "--device", "cpu"]) == 2
    assert "--steps 0 keeps the starting latent as it is: give --init ENC.pt" in capsys.readouterr().err


def test_recipe_stylegan2_is_still_there(tmp_path, freezeg_pair, photos):
    src, tgt = freezeg_pair
    out = tmp_path / "old"
    assert main(["translate", str(photos / "p0.png"), "--source", src, "--target", tgt, "--out", str(out),
                 "--recipe", "stylegan2", "--space", "w+", *QUICK]) == 0
    records = json.loads((out / "fidelity.json").read_text())
    assert records["settings"]["recipe"] == "stylegan2" and records["inputs"]["p0"]["space"] == "w+"
    assert load_latent(out / "latents" / "p0.pt").meta["recipe"] == "stylegan2"


def test_bench_inversion_reports_every_run(tmp_path, freezeg_pair, photos, capsys):
    src, tgt = freezeg_pair
    enc = tmp_path / "enc.pt"
    assert main(["encoder", "train", "--ckpt", src, "--out", str(enc), "--steps", "2", "--batch", "2", "--width", "8",
                 "--device", "cpu", "-q"]) == 0
    out = tmp_path / "bench.json"
    assert main(["bench-inversion", "--ckpt", src, "--images", str(photos), "--target", tgt, "--target-images", str(photos),
                 "--truth", str(photos), "--runs", "stylegan2@w+:4,default:4,default+enc:0,default+pt:2,default+ptall:2", "--pt-steps", "2",
                 "--encoder", str(enc), "--generated", "2", "--swd-only", "--out", str(out), "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    for row in ("stylegan2@w+:4", "default:4", "default+enc:0", "default+pt:2", "  before tuning", "  shared blocks only", "target samples",
                "inputs, untranslated", "ground truth", "generated images (2 at 16px)", "SWD x1e3", "struct", "L1 truth"):
        assert row in table, row
    result = json.loads(out.read_text())
    run = result["runs"]["default+pt:2"]["real"]
    assert set(run) >= {"seconds_per_image", "curve", "reconstruction", "before_tuning", "translation", "tuning_seconds_per_image"}
    assert [c["step"] for c in result["runs"]["default:4"]["real"]["curve"]] == [0, 1, 2, 3, 4]
    assert len(run["reconstruction"]["per_image_psnr"]) == 2 and run["translation"]["structure_vs_truth"] is not None
    # The truth here is the inputs themselves: the untranslated inputs are at pixel error 0, a translation is not.
    assert result["references"]["inputs, untranslated"]["l1_vs_truth"] == 0
    assert 0 < run["translation"]["l1_vs_truth"] <= 255
    # +ptall: the reconstruction is the fully tuned source's; the shared blocks' part (what
    # translations get) is reported beside it, and differs because the trained blocks moved too.
    full = result["runs"]["default+ptall:2"]["real"]
    assert "shared_blocks_only" not in run
    assert full["reconstruction"]["per_image_psnr"] != full["shared_blocks_only"]["per_image_psnr"]
    assert main(["bench-inversion", "--ckpt", src, "--images", str(photos), "--runs", "default+pt:2", "-q"]) == 2
    assert "+pt need --target" in capsys.readouterr().err
    assert main(["bench-inversion", "--ckpt", src, "--images", str(photos), "--runs", "fancy:3", "-q"]) == 2
    assert "--runs: 'fancy:3': recipes are default, stylegan2, flags +enc, +pt and +ptall" in capsys.readouterr().err


def test_harness_run_names_carry_recipe_options():
    from freezeg.inversion.harness import parse_runs

    a, b = parse_runs("stylegan2@w:30, default(offset_penalty=0.1,free_layers=4)+enc+ptall:50")
    assert (a.recipe, a.space, a.steps, a.options) == ("stylegan2", "w", 30, {})
    assert b.options == {"offset_penalty": 0.1, "free_layers": 4} and b.encoder and b.pivotal and b.pivotal_all
    with pytest.raises(ValueError, match=r"default has no option 'latent_noise' here"):
        parse_runs("default(latent_noise=0.1):5")
    with pytest.raises(ValueError, match=r"recipe options are OPTION=VALUE"):
        parse_runs("default(mse):5")


@pytest.mark.parametrize("command", ["project", "translate"])
def test_json_prints_the_records_it_wrote_and_nothing_else_on_stdout(tmp_path, freezeg_pair, photos, capsys, command):
    src, tgt = freezeg_pair
    models = ["--ckpt", src] if command == "project" else ["--source", src, "--target", tgt]
    assert main([command, str(photos), *models, "--out", str(tmp_path / "o"), "--json", *QUICK]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "o" / "fidelity.json").read_text())
    assert sorted(printed["inputs"]) == ["p0", "p1"] and printed["inputs"]["p0"]["psnr"] > 10


def test_a_run_whose_every_input_is_refused_is_an_error(tmp_path, freezeg_pair, capsys):
    src, tgt = freezeg_pair
    (tmp_path / "notes.png").write_text("not a picture")
    torch.save({"ws": torch.full((6, 16), float("nan"))}, tmp_path / "nan.pt")
    assert main(["project", str(tmp_path / "notes.png"), "--ckpt", src, "--out", str(tmp_path / "p"), *QUICK]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"freezeg: error: {tmp_path / 'notes.png'}: ")
    assert main(["translate", str(tmp_path / "nan.pt"), "--source", src, "--target", tgt, "--out", str(tmp_path / "t"),
                 *QUICK]) == 2
    assert "NaN or infinite values; nothing translated" in capsys.readouterr().err
