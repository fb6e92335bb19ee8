"""`--align faces` and `--paste-back` from the CLI, with a stand-in detector that reports given landmarks."""

import json
import sys

import numpy as np
import pytest
from PIL import Image

from freezeg.align import detect
from freezeg.cli import main
from helpers import UPRIGHT, FacesByShape, face_of

FAST = ["--steps", "8", "--space", "w+", "--device", "cpu", "-q"]


@pytest.fixture()
def photos(tmp_path, monkeypatch):
    """group.jpg (240x160): two faces and a tiny one between them; empty.png: none."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    group = np.asarray(Image.fromarray(rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)).resize((240, 160), Image.BICUBIC))
    Image.fromarray(group).save(folder / "group.jpg", quality=95)
    Image.fromarray(np.full((120, 120, 3), 90, np.uint8)).save(folder / "empty.png")
    faces = {(160, 240): [face_of(UPRIGHT * 0.5 + (130, 40)), face_of(UPRIGHT * 0.2 + (80, 100)),
                          face_of(UPRIGHT * 0.5 + (10, 30))]}
    monkeypatch.setattr("freezeg.cli.common.make_detector", lambda: FacesByShape(faces))
    return folder, np.asarray(Image.open(folder / "group.jpg").convert("RGB"))


def test_translate_aligns_each_face_pastes_back_and_counts_skips(tmp_path, pair, photos, caplog):
    folder, group = photos
    out = tmp_path / "out"
    caplog.set_level("INFO", logger="freezeg")
    argv = ["translate", str(folder), "--source", pair[0], "--target", pair[1], "--out", str(out),
            "--align", "faces", "--paste-back", *FAST]
    assert main(argv) == 0
    for name in ("group_face0", "group_face2"):  # left to right; face1 is the tiny one
        for folder_name in ("aligned", "translated", "reconstructions"):
            assert Image.open(out / folder_name / f"{name}.png").size == (16, 16)
    assert not (out / "translated" / "group_face1.png").exists()
    assert f"{folder / 'empty.png'}: no face found; skipped" in caplog.text
    assert f"{folder / 'group.jpg'}: face1 is too small (22 px crop in the photo, needs 32 for 16 px); skipped" in caplog.text
    assert "2 translated, 2 skipped" in caplog.text and "1 photo pasted back" in caplog.text

    records = json.loads((out / "fidelity.json").read_text())
    face = records["inputs"]["group_face2"]["face"]
    assert face["photo"] == "group" and face["index"] == 2 and face["size"] == 16 and len(face["quad"]) == 4
    assert records["inputs"]["group_face0"]["outputs"]["aligned"] == "aligned/group_face0.png"
    skipped = {s["path"].split("/")[-1]: s["reason"] for s in records["skipped"]}
    assert skipped == {"empty.png": "no face found", "group.jpg (face1)": "face too small"}

    pasted = np.asarray(Image.open(out / "pasted" / "group.jpg").convert("RGB")).astype(int)
    assert pasted.shape == group.shape  # full resolution
    changed = np.abs(pasted - group.astype(int)).max(-1) > 12  # beyond JPEG noise
    assert changed[40:80, 20:50].mean() > 0.5 and changed[45:85, 140:170].mean() > 0.5  # both faces replaced
    assert changed[120:, :].mean() < 0.01  # below the faces the photo is kept

    stamp = (out / "pasted" / "group.jpg").stat().st_mtime_ns
    caplog.clear()
    assert main(argv) == 0  # resumes: nothing left to translate, the pasted photo is current
    assert "2 already done" in caplog.text and (out / "pasted" / "group.jpg").stat().st_mtime_ns == stamp


def test_project_with_aligned_faces_and_flag_errors(tmp_path, pair, photos, capsys):
    folder, _ = photos
    out = tmp_path / "proj"
    assert main(["project", str(folder / "group.jpg"), "--ckpt", pair[0], "--out", str(out), "--align", "faces",
                 *FAST]) == 0
    assert sorted(p.name for p in (out / "latents").iterdir()) == ["group_face0.pt", "group_face2.pt"]
    assert (out / "aligned" / "group_face0.png").exists()
    assert main(["translate", str(folder), "--source", pair[0], "--target", pair[1], "--out", str(tmp_path / "t"),
                 "--paste-back", *FAST]) == 2
    assert "--paste-back needs --align faces" in capsys.readouterr().err
    assert main(["project", str(folder / "empty.png"), "--ckpt", pair[0], "--out", str(tmp_path / "e"),
                 "--align", "faces", *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"freezeg: error: no usable inputs: {folder / 'empty.png'} (no face found)"


def test_align_without_the_extra_says_how_to_install_it(tmp_path, pair, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dlib", None)
    monkeypatch.setattr(detect, "_made", {})
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(photo)
    assert main(["translate", str(photo), "--source", pair[0], "--target", pair[1], "--out", str(tmp_path / "o"),
                 "--align", "faces", *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'freezeg[align]'" in err
