"""freezeg sweep: the recommendation rule, the writers, bad input before training, and a tiny sweep end to end."""

from __future__ import annotations

import csv
import io
import json
import logging
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg import Discriminator, Generator, ModelConfig, load_checkpoint, load_generator, save_checkpoint
from freezeg.cli import build_parser, main
from freezeg.data.synthetic import make_images, write_domain
from freezeg.inversion.distances import make_distance
from freezeg.inversion.pipeline import Inversion
from freezeg.inversion.stylegan2 import ProjectionOptions
from freezeg.sweep import Setting, SweepPlan, format_table, parse_levels, recommend, run_sweep, settings_grid
from freezeg.sweep.plan import parse_coarse_rgb
from freezeg.sweep.report import csv_text, labelled_rows, plot_svg, tile_row
from freezeg.train.loop import Trainer
from freezeg.train.options import TrainOptions

TINY = ModelConfig(size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8})


def row(setting, frozen, swd, kid=None, kid_std=None, structure=0.9, truth=None):
    return {"setting": setting, "freeze_g": None, "freeze_d": None, "g_trains": "", "d_trains": "",
            "frozen_blocks": frozen, "realism": {"swd": swd, "kid": kid, "kid_std": kid_std, "fid": None},
            "structure": {"mean": structure, "lpips": None}, "truth": truth, "seconds": {"train": 12.0, "eval": 1.5}}


# --------------------------------------------------------------------------- the rule
def test_recommendation_is_the_most_frozen_setting_within_ten_percent_of_the_best_swd():
    rows = [row("source", None, 150.0, structure=1.0), row("g0", [0, 0], 40.0), row("g1", [3, 0], 43.9),
            row("g2", [2, 0], 41.0), row("g3", [1, 0], 60.0)]
    rec = recommend(rows, tolerance=0.10)
    assert rec["setting"] == "g1" and rec["metric"] == "swd"  # 43.9 <= 44.0 and g1 freezes 3 blocks
    assert rec["threshold"] == pytest.approx(44.0)
    assert rec["rule"] == "rule: the most frozen setting whose SWD is within 10% of the best (g0 40.00, so <= 44.00)"
    assert recommend(rows, tolerance=0.0)["setting"] == "g0"
    rows[2]["realism"]["swd"] = 44.1  # now outside: the next most frozen inside wins
    assert recommend(rows)["setting"] == "g2"


def test_recommendation_uses_kid_and_its_std_when_every_setting_has_kid():
    rows = [row("g0", [0, 0], 40.0, kid=0.0100, kid_std=0.0030), row("g2", [2, 0], 90.0, kid=0.0125, kid_std=0.001),
            row("g3", [3, 0], 30.0, kid=0.0140, kid_std=0.001)]
    rec = recommend(rows)
    # KID within max(10% of 0.0100, one std 0.0030) of the best: g2 (0.0125) is, g3 (0.0140) is not.
    assert rec["metric"] == "kid" and rec["setting"] == "g2" and rec["threshold"] == pytest.approx(0.013)
    assert "KID is within 10% or one KID std of the best (g0 10.00e-3" in rec["rule"]
    rows[0]["realism"]["kid"] = None  # one setting without KID: fall back to SWD for all
    assert recommend(rows)["metric"] == "swd" and recommend(rows)["setting"] == "g3"


def test_with_pairs_the_recommendation_ranks_by_error_against_the_truth():
    truth = lambda l1, lpips=None: {"structure": 0.8, "l1": l1, "lpips": lpips}  # noqa: E731
    rows = [row("source", None, 150.0, structure=1.0, truth=truth(60.0)), row("g0", [0, 0], 40.0, truth=truth(30.0)),
            row("g2", [2, 0], 90.0, truth=truth(22.0)), row("g1", [3, 0], 95.0, truth=truth(24.0))]
    rec = recommend(rows)
    assert rec["metric"] == "truth_l1" and rec["setting"] == "g1"  # 24.0 <= 22.0 * 1.1; realism does not count
    assert rec["rule"] == ("rule: the most frozen setting whose pixel error against the --pairs truth is within 10% "
                           "of the best (g2 22.00, so <= 24.20)")
    for r, lpips in zip(rows[1:], (0.30, 0.10, 0.20)):
        r["truth"]["lpips"] = lpips
    rec = recommend(rows)
    assert rec["metric"] == "truth_lpips" and rec["setting"] == "g2" and "LPIPS against the --pairs truth" in rec["rule"]


def test_levels_and_settings_grid():
    assert parse_levels("0,1,2,3", "--freeze-g") == [0, 1, 2, 3]
    assert parse_levels("0-2,2,5", "--freeze-g") == [0, 1, 2, 5]
    with pytest.raises(ValueError, match="--freeze-d x: cannot read 'x'"):
        parse_levels("x", "--freeze-d")
    grid = settings_grid([0, 2], [0, 1])
    assert [s.label for s in grid] == ["g0-d0", "g0-d1", "g2-d0", "g2-d1"]
    assert [s.label for s in settings_grid([2], None)] == ["g2"]
    config = ModelConfig(size=32, style_dim=16, n_mlp=2, channels={4: 8, 8: 8, 16: 8, 32: 8})
    assert Setting(0, None).describe(config) == ("all + mapping", "all")
    assert Setting(2, 2).describe(config) == ("16-32px", "8-16px + head")
    assert Setting(1, 1).describe(config) == ("32px", "8px + head")
    assert Setting(0, 0).spec.freezes_anything is False
    assert Setting(3, 1).frozen_blocks(config) == (1, 2) and Setting(0, 0).frozen_blocks(config) == (0, 0)
    # --coarse-rgb freeze,train: a toRGB variant of every level that freezes something.
    grid = settings_grid([0, 2], None, parse_coarse_rgb("freeze,train"))
    assert [s.label for s in grid] == ["g0", "g2", "g2-rgb"]
    assert grid[2].spec.coarse_rgb and not grid[1].spec.coarse_rgb
    assert grid[2].describe(config) == ("16-32px + toRGB below", "all")
    assert [s.label for s in settings_grid([1], [1], [True])] == ["g1-d1-rgb"]
    # --coarse-rgb train alone still keeps the full fine-tune asked for (it has no frozen toRGB to train)
    assert [s.label for s in settings_grid([0, 2, 3], None, [True])] == ["g0", "g2-rgb", "g3-rgb"]
    with pytest.raises(ValueError, match="--coarse-rgb yes: use freeze, train or freeze,train"):
        parse_coarse_rgb("yes")


# --------------------------------------------------------------------------- writers
def test_table_csv_and_svg_say_what_was_and_was_not_computed():
    rows = [row("source", None, 150.0, structure=1.0, truth={"structure": 0.6, "l1": 50.0, "lpips": None}),
            row("g0", [0, 0], 40.0, structure=0.5, truth={"structure": 0.7, "l1": 30.0, "lpips": None}),
            row("g2", [2, 0], 42.0, structure=0.8, truth={"structure": 0.9, "l1": 20.0, "lpips": None})]
    rows[0]["seconds"] = {"train": None, "eval": 2.0}
    table = format_table(rows, {"kid": "no weights", "fid": "no weights", "lpips": "no VGG"})
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["setting", "G", "trains"] and "truth struct" in lines[0]
    g2 = next(line for line in lines if line.startswith("g2"))
    assert g2.split()[-7:] == ["0.800", "n/c", "0.900", "20.0", "n/c", "12", "2"]
    assert "KID and FID not computed: no weights" in table and "LPIPS not computed: no VGG" in table

    parsed = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert [r["setting"] for r in parsed] == ["source", "g0", "g2"]
    assert parsed[2]["swd"] == "42.0" and parsed[2]["kid"] == "" and parsed[2]["truth_l1"] == "20.0"
    assert parsed[0]["train_seconds"] == ""

    svg = ET.fromstring(plot_svg(rows, "swd", recommended="g2"))
    ns = "{http://www.w3.org/2000/svg}"
    circles = svg.findall(f"{ns}circle")
    assert len(circles) == 3 and [c.get("fill") for c in circles].count("none") == 1  # the hollow baseline
    texts = [t.text for t in svg.findall(f"{ns}text")]
    assert "g2 (recommended)" in texts and "source" in texts
    red = next(c for c in circles if c.get("stroke") == "#c00")
    others = [c for c in circles if c is not red and c.get("fill") != "none"]
    assert float(red.get("cx")) > float(others[0].get("cx"))  # more structure: further right
    assert float(red.get("cy")) > float(svg.find(f"{ns}circle[@fill='none']").get("cy"))  # lower SWD: further down

    tiles = [np.zeros((2, 16, 16, 3), np.uint8), np.full((2, 16, 16, 3), 100, np.uint8)]
    grid = labelled_rows([tile_row(t) for t in tiles], ["source", "g2"])
    assert grid.shape[0] == 2 + 2 * (16 + 2) and grid.shape[1] > 2 + 2 * (16 + 2)
    assert (grid[2:18, -18:-2] == 0).all() and (grid[20:36, -18:-2] == 100).all()  # rows in order, 2px gaps
    assert (grid[18:20] == 255).all() and (grid[-2:] == 255).all()


# --------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    torch.manual_seed(0)
    g, d = Generator(TINY), Discriminator(TINY)
    save_checkpoint(root / "src.pt", g=g, d=d, g_ema=g)
    save_checkpoint(root / "g_only.pt", g_ema=g)
    write_domain("cartoon", 12, 16, root / "cartoon", seed=1)
    write_domain("cartoon", 5, 16, root / "few", seed=1)
    for domain, folder in (("blobs", "test-src"), ("cartoon", "test-tgt")):
        (root / folder).mkdir()
        for i, image in enumerate(make_images(domain, 3, 16, seed=2)):
            Image.fromarray(image).save(root / folder / f"{i:02d}.png")
    return root


def sweep_args(files, out, *extra):
    return ["sweep", str(files / "cartoon"), "--from", str(files / "src.pt"), "--freeze-g", "0,1", "--steps", "2",
            "--batch", "4", "--out", str(out), "--cache-dir", str(files / "cache"), "--augment", "none",
            "--device", "cpu", "-q", *extra]


@pytest.mark.parametrize("change,message", [
    (["--freeze-g", "0,4"], "--freeze-g 4: a 16px generator has 3 resolution blocks"),
    (["--freeze-d", "3"], "--freeze-d 3: a 16px discriminator has 2 blocks"),
    (["--freeze-g", "1-x"], "--freeze-g 1-x: cannot read '1-x'"),
    (["--coarse-rgb", "freeze,both"], "--coarse-rgb freeze,both: use freeze, train or freeze,train"),
    (["--n", "50"], "has 12 images, fewer than the --n 50"),
    (["--kid-subset-size", "20"], "--kid-subset-size 20: must be from 2 to the 12 images"),
    (["--pairs", "{test-src}", "{cartoon}/images"], "names do not match: 3 only in"),
    (["--pairs", "{test-src}", "{nowhere}"], "nowhere: no such folder"),
])
def test_bad_input_is_one_line_before_any_training(files, tmp_path, capsys, change, message):
    change = [c.format(**{k: str(files / k) for k in ("test-src", "cartoon", "nowhere")}) for c in change]
    args = sweep_args(files, tmp_path / "out")
    for flag in ("--freeze-g",):
        if flag in change:
            i = args.index(flag)
            del args[i : i + 2]
    assert main(args + change) == 2
    err = capsys.readouterr().err
    assert err.startswith("freezeg: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written


def test_too_few_images_and_a_source_without_discriminator_are_refused(files, tmp_path, capsys):
    args = sweep_args(files, tmp_path / "out")
    args[1] = str(files / "few")
    assert main(args) == 2
    assert "5 images are too few for realism statistics (at least 10)" in capsys.readouterr().err
    args = sweep_args(files, tmp_path / "out", "--freeze-d", "1")
    args[3] = str(files / "g_only.pt")
    assert main(args) == 2
    assert "has no discriminator, so --freeze-d has nothing pretrained to freeze" in capsys.readouterr().err
    assert main(["sweep", str(files / "cartoon"), "--from", str(files / "src.pt"), "--freeze-g", "1",
                 "--out", str(tmp_path / "out")]) == 2
    assert "give --steps N" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- end to end
def tiny_plan(files, out, steps=2, settings=(Setting(0), Setting(1))) -> SweepPlan:
    train = TrainOptions(data=str(files / "cartoon"), out=str(out), steps=steps, batch=4, augment="none",
                         cache_dir=str(files / "cache"), device="cpu", eval_images=0, keep=1, sample_seeds=4,
                         log_every=1, ckpt_every=1)
    inversion = Inversion(make_distance("default"), options=ProjectionOptions(steps=3), batch=3)
    return SweepPlan(data=str(files / "cartoon"), source=str(files / "src.pt"), out=str(out), settings=list(settings),
                     train=train, structure_seeds=6, grid_seeds=4,
                     pairs=(str(files / "test-src"), str(files / "test-tgt")), inversion=inversion)


@pytest.mark.slow
def test_a_tiny_sweep_end_to_end_resumes_and_reuses_finished_settings(files, tmp_path, caplog, monkeypatch):
    out = tmp_path / "sweep"
    # As without the [fid] extra, wherever this runs.
    monkeypatch.setattr("freezeg.sweep.evaluate.inception_if_available", lambda *a, **k: (None, "no Inception here"))
    # An interrupted setting: g1 stopped after 1 of 2 steps.
    plan = tiny_plan(files, out)
    Trainer(TrainOptions(**{**plan.setting_options(Setting(1)).__dict__, "steps": 1})).train()
    with caplog.at_level(logging.INFO, logger="freezeg"):
        result = run_sweep(plan, progress=False)
    assert "resuming " + str(out / "g1") + " from step 1" in caplog.text
    assert [r["setting"] for r in result.rows] == ["source", "g0", "g1"]
    assert result.recommendation["setting"] in ("g0", "g1") and result.recommendation["metric"] == "truth_l1"
    for name in ("sweep.json", "sweep.csv", "sweep.svg", "pairs.png", "translations.png"):
        assert (out / name).is_file()
    stored = json.loads((out / "sweep.json").read_text())
    assert stored["rows"] == json.loads(json.dumps(result.rows)) and stored["pair_names"] == ["00", "01", "02"]
    assert set(stored["not_computed"]) >= {"kid", "fid"}  # no Inception weights here: said, not guessed
    assert all(r["realism"]["kid"] is None and r["realism"]["swd"] > 0 for r in result.rows)
    for r in result.rows[1:]:
        assert load_checkpoint(out / r["setting"]).step == 2 and r["seconds"]["train"] > 0
        assert len(list((out / r["setting"] / "translated").glob("*.png"))) == 3
        assert 0 <= r["truth"]["l1"] <= 255 and -1 <= r["truth"]["structure"] <= 1
    # g1 trains only the 16px block: the 4px/8px renderings keep the source's coarse structure.
    g1 = result.rows[2]
    assert g1["frozen_blocks"] == [2, 0] and g1["g_trains"] == "16px"
    assert result.rows[0]["truth"]["l1"] == pytest.approx(
        np.abs(make_images("blobs", 3, 16, seed=2).astype(float) - make_images("cartoon", 3, 16, seed=2)).mean())
    assert Image.open(out / "pairs.png").size[1] == 3 * (16 + 2) + 2  # one row per setting and the source
    assert Image.open(out / "translations.png").size[1] == 4 * (16 + 2) + 2  # input, truth, g0, g1
    # The projection ran once and is reused; finished settings are not rerun.
    latents = sorted((out / "projection" / "latents").glob("*.pt"))
    assert len(latents) == 3
    stamps = {p: p.stat().st_mtime_ns for p in [*latents, out / "g0" / "result.json", out / "g1" / "result.json"]}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="freezeg"):
        again = run_sweep(plan, progress=False)
    assert again.rows == json.loads(json.dumps(result.rows)) and "g1: finished earlier" in caplog.text
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    # Another budget in the same folder is refused; --overwrite would start over.
    with pytest.raises(ValueError, match="holds a sweep made with other settings \\(--steps\\)"):
        run_sweep(tiny_plan(files, out, steps=3), progress=False)
    # A level added later trains only that level.
    bigger = run_sweep(tiny_plan(files, out, settings=(Setting(0), Setting(1), Setting(2))), progress=False)
    assert [r["setting"] for r in bigger.rows] == ["source", "g0", "g1", "g2"]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    # --overwrite starts over with the new budget, removing only what the sweep made.
    (out / "g0" / "notes.txt").write_text("mine")
    redone = run_sweep(tiny_plan(files, out, steps=3), overwrite=True, progress=False)
    assert [load_checkpoint(out / r["setting"]).step for r in redone.rows[1:]] == [3, 3]
    assert (out / "g0" / "notes.txt").read_text() == "mine"
    assert json.loads((out / "plan.json").read_text())["train"]["steps"] == 3


def test_swd_only_skips_the_inception_network_even_when_it_is_there(files, tmp_path, monkeypatch):
    from freezeg.cli.sweep import plan_from_args
    from freezeg.sweep.evaluate import build_reference
    from freezeg.sweep.plan import check_plan

    def present(*a, **k):
        raise AssertionError("--swd-only must not look for the Inception network")

    monkeypatch.setattr("freezeg.sweep.evaluate.inception_if_available", present)
    parser = build_parser()
    plan = plan_from_args(parser.parse_args(sweep_args(files, tmp_path / "s", "--swd-only")))
    assert plan.swd_only
    source = load_generator(files / "src.pt").eval()
    reference = build_reference(plan, check_plan(plan), source, [])
    assert reference.inception is None and reference.not_computed["kid"] == "skipped (--swd-only)"


def test_coarse_rgb_settings_train_the_frozen_blocks_torgb(files, tmp_path):
    out = tmp_path / "s"
    assert main(sweep_args(files, out, "--freeze-g", "1", "--coarse-rgb", "freeze,train", "--swd-only",
                           "--structure-seeds", "2", "--grid-seeds", "2")) == 0
    rows = {r["setting"]: r for r in json.loads((out / "sweep.json").read_text())["rows"]}
    assert set(rows) >= {"g1", "g1-rgb"} and rows["g1-rgb"]["g_trains"] == "16px + toRGB below"
    src = load_checkpoint(files / "src.pt").parts["g_ema"]
    for label, moved in (("g1", False), ("g1-rgb", True)):
        g = load_checkpoint(out / label).parts["g_ema"]
        assert torch.equal(g["convs.0.conv.weight"], src["convs.0.conv.weight"])  # frozen features either way
        assert (not torch.equal(g["to_rgb1.conv.weight"], src["to_rgb1.conv.weight"])) == moved
