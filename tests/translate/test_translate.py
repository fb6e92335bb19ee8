"""project / translate / mix / interpolate --latents from the CLI: files that load back with the
right sizes and frame counts, resumption, style control and bad inputs."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg import Generator, ModelConfig, load_generator, save_checkpoint
from freezeg.cli import main
from freezeg.inversion.latents import Latent, load_latent, save_latent
from freezeg.translate import collect_inputs, flicker, layer_index, mix_styles
from freezeg.utils.media import to_uint8
from freezeg.utils.video import read_video

FAST = ["--steps", "12", "--space", "w+", "--device", "cpu", "-q"]
PANEL = (2 + 18, 2 + 3 * 18)  # (H, W) of a source | reconstruction | translation panel of 16px tiles


@pytest.fixture()
def pictures(tmp_path, pair):
    """A folder of source-generated images plus the awkward cases users bring."""
    g = load_generator(pair[0])
    with torch.no_grad():
        imgs = to_uint8(g(torch.randn(3, g.style_dim, generator=torch.Generator().manual_seed(0))))
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(imgs[0]).save(folder / "a.png")
    Image.fromarray(imgs[1]).convert("L").save(folder / "gray.png")
    Image.fromarray(imgs[2]).convert("RGBA").resize((40, 30)).save(folder / "wide_rgba.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    return folder, imgs


def _size(path):
    with Image.open(path) as im:
        return im.size[1], im.size[0]


def test_translate_folder_writes_every_output_and_lists_skips(tmp_path, pair, pictures):
    folder, _ = pictures
    out = tmp_path / "out"
    assert main(["translate", str(folder), "--source", pair[0], "--target", pair[1], "--out", str(out),
                 "--poor-psnr", "99", *FAST]) == 0
    for name in ("a", "gray", "wide_rgba"):
        assert _size(out / "translated" / f"{name}.png") == (16, 16)
        assert _size(out / "reconstructions" / f"{name}.png") == (16, 16)
        assert _size(out / "panels" / f"{name}.png") == PANEL
        assert load_latent(out / "latents" / f"{name}.pt", load_generator(pair[0])).ws.shape == (6, 16)
    records = json.loads((out / "fidelity.json").read_text())
    assert sorted(records["inputs"]) == ["a", "gray", "wide_rgba"]
    a = records["inputs"]["a"]
    assert a["steps"] == 12 and a["space"] == "w+" and a["loss"] == "default" and 0 < a["psnr"] < 99
    assert "40x30 centre-cropped and resized to 16x16" in records["inputs"]["wide_rgba"]["note"]
    skipped = {s["path"].split("/")[-1]: s["reason"] for s in records["skipped"]}
    assert skipped == {"notes.txt": "not an image, latent file or video", "broken.png": "not a recognised image format"}
    page = (out / "summary.html").read_text()
    assert page.count("poor inversion</span>") == 3 and 'src="panels/gray.png"' in page and "broken.png" in page


def test_rerun_skips_finished_inputs_and_overwrite_redoes_them(tmp_path, pair, pictures, caplog):
    folder, imgs = pictures
    out = tmp_path / "out"
    first = folder / "a.png"
    args = ["--source", pair[0], "--target", pair[1], "--out", str(out), *FAST]
    assert main(["translate", str(first), *args]) == 0
    done = out / "translated" / "a.png"
    stamp = done.stat().st_mtime_ns
    Image.fromarray(imgs[2]).save(folder / "b.png")
    caplog.set_level("INFO", logger="freezeg")
    assert main(["translate", str(first), str(folder / "b.png"), *args[:-1]]) == 0
    assert done.stat().st_mtime_ns == stamp  # untouched
    assert (out / "translated" / "b.png").exists()
    assert "1 translated, 1 already done" in caplog.text
    # A lost translation is re-rendered from the saved latent, not projected again.
    (out / "translated" / "b.png").unlink()
    latent_stamp = (out / "latents" / "b.pt").stat().st_mtime_ns
    caplog.clear()
    assert main(["translate", str(first), str(folder / "b.png"), *args[:-1]]) == 0
    assert "1 from saved latents" in caplog.text and (out / "latents" / "b.pt").stat().st_mtime_ns == latent_stamp
    assert main(["translate", str(first), *args, "--overwrite"]) == 0
    assert done.stat().st_mtime_ns != stamp


def test_project_command_writes_latents_reconstructions_and_fidelity(tmp_path, pair, pictures):
    folder, _ = pictures
    out = tmp_path / "proj"
    assert main(["project", str(folder / "a.png"), str(folder / "gray.png"), "--ckpt", pair[0], "--out", str(out),
                 *FAST]) == 0
    records = json.loads((out / "fidelity.json").read_text())["inputs"]
    assert set(records) == {"a", "gray"} and all(set(r) >= {"psnr", "ssim", "distance"} for r in records.values())
    lat = load_latent(out / "latents" / "a.pt")
    assert lat.fidelity["psnr"] == pytest.approx(records["a"]["psnr"])
    assert _size(out / "reconstructions" / "a.png") == (16, 16)
    # translate into the same folder reuses these latents.
    stamp = (out / "latents" / "a.pt").stat().st_mtime_ns
    assert main(["translate", str(folder / "a.png"), "--source", pair[0], "--target", pair[1], "--out", str(out),
                 *FAST]) == 0
    assert (out / "latents" / "a.pt").stat().st_mtime_ns == stamp
    assert _size(out / "panels" / "a.png") == PANEL


def test_latent_inputs_translate_and_wrong_ones_are_skipped(tmp_path, pair, tiny_config):
    g = load_generator(pair[0])
    good = save_latent(tmp_path / "good.pt", Latent(ws=torch.randn(g.num_ws, g.style_dim), noise=None), generator=g)
    torch.save({"ws": torch.randn(3, 5)}, tmp_path / "bad.pt")
    out = tmp_path / "out"
    assert main(["translate", str(good), str(tmp_path / "bad.pt"), "--source", pair[0], "--target", pair[1],
                 "--out", str(out), *FAST]) == 0
    assert _size(out / "translated" / "good.png") == (16, 16)
    assert _size(out / "panels" / "good.png") == (2 + 18, 2 + 2 * 18)  # reconstruction | translation
    skipped = json.loads((out / "fidelity.json").read_text())["skipped"]
    assert len(skipped) == 1 and "latent ws has shape (3, 5)" in skipped[0]["reason"]


def test_translate_rejects_mismatched_generators_and_empty_inputs(tmp_path, pair, pictures, capsys):
    other = save_checkpoint(tmp_path / "other.pt", g_ema=Generator(ModelConfig(size=8, style_dim=16, n_mlp=2,
                                                                               channels={4: 8, 8: 8})))
    folder, _ = pictures
    assert main(["translate", str(folder / "a.png"), "--source", pair[0], "--target", str(other),
                 "--out", str(tmp_path / "o"), *FAST]) == 2
    assert "source and target generators differ: size 16 vs 8" in capsys.readouterr().err
    assert main(["translate", str(folder / "notes.txt"), "--source", pair[0], "--target", pair[1],
                 "--out", str(tmp_path / "o"), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("freezeg: error: no usable inputs") and len(err.splitlines()) == 1


def test_video_translation_keeps_frame_count_and_reports_flicker(tmp_path, pair, pictures):
    _, imgs = pictures
    clip = tmp_path / "clip.gif"
    frames = [Image.fromarray(imgs[i % 3]).resize((24, 24)) for i in range(4)]
    frames[0].save(clip, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = tmp_path / "out"
    assert main(["translate", str(clip), "--source", pair[0], "--target", pair[1], "--out", str(out),
                 "--warm-steps", "4", *FAST]) == 0
    translated, panels = read_video(out / "translated" / "clip.gif"), read_video(out / "panels" / "clip.gif")
    assert len(translated) == 4 and translated.frames[0].shape == (16, 16, 3)
    assert len(panels) == 4 and panels.frames[0].shape == (*PANEL, 3)
    assert translated.fps == pytest.approx(10, rel=0.05)
    entry = json.loads((out / "fidelity.json").read_text())["inputs"]["clip"]
    assert entry["frames"] == 4 and set(entry["flicker"]) == {"input", "reconstruction", "translation"}
    assert entry["flicker"]["input"] > 0
    frame_latents = sorted((out / "latents" / "clip").glob("*.pt"))
    assert len(frame_latents) == 4
    assert load_latent(frame_latents[1]).meta["steps"] == 4  # warm-started frames use --warm-steps
    # A video cut short resumes from its per-frame latents instead of projecting again.
    stamps = [p.stat().st_mtime_ns for p in frame_latents]
    (out / "translated" / "clip.gif").unlink()
    assert main(["translate", str(clip), "--source", pair[0], "--target", pair[1], "--out", str(out), *FAST]) == 0
    assert [p.stat().st_mtime_ns for p in frame_latents] == stamps
    assert len(read_video(out / "translated" / "clip.gif")) == 4


def test_mp4_video_translation(tmp_path, pair, pictures):
    pytest.importorskip("imageio_ffmpeg")
    from freezeg.utils.video import write_video

    _, imgs = pictures
    clip = write_video([imgs[i % 3] for i in range(3)], tmp_path / "clip.mp4", fps=12)
    out = tmp_path / "out"
    assert main(["translate", str(clip), "--source", pair[0], "--target", pair[1], "--out", str(out),
                 "--warm-steps", "3", *FAST]) == 0
    video = read_video(out / "translated" / "clip.mp4")
    assert len(video) == 3 and video.frames[0].shape == (16, 16, 3) and video.fps == pytest.approx(12)


def test_flicker_figure():
    still = np.zeros((3, 4, 4, 3), np.uint8)
    assert flicker(still) == 0
    blink = np.stack([still[0], still[0] + 10, still[0]])
    assert flicker(blink) == pytest.approx(10)


# ------------------------------------------------------------------ style control
def test_mix_styles_keeps_early_layers_and_blends_the_rest():
    content, style = torch.zeros(2, 6, 4), torch.ones(1, 6, 4)
    out = mix_styles(content, style, 3, 1.0)
    assert torch.equal(out[:, :3], content[:, :3]) and torch.equal(out[:, 3:], torch.ones(2, 3, 4))
    assert torch.allclose(mix_styles(content, style, 3, 0.25)[:, 3:], torch.full((2, 3, 4), 0.25))
    assert torch.equal(mix_styles(content, style, 3, 0.0), content)


def test_layer_index_accepts_indices_and_resolutions(tiny_config):
    g = Generator(tiny_config)
    assert layer_index("3", g) == 3 and layer_index("4px", g) == 0 and layer_index("8px", g) == 1
    assert layer_index("16px", g) == 3
    with pytest.raises(ValueError, match="--mix-from 7: must be in \\[0, 6\\]"):
        layer_index("7", g)
    with pytest.raises(ValueError, match="not a resolution"):
        layer_index("32px", g)


def test_translate_with_style_mixing(tmp_path, pair, pictures, capsys):
    folder, _ = pictures
    base = ["translate", str(folder / "a.png"), "--source", pair[0], "--target", pair[1], *FAST]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "styled"), "--mix-from", "2", "--style-seed", "7"]) == 0
    assert main([*base, "--out", str(tmp_path / "none"), "--mix-from", "2", "--style-seed", "7",
                 "--mix-strength", "0"]) == 0
    read = lambda d: np.asarray(Image.open(tmp_path / d / "translated" / "a.png"))
    assert not np.array_equal(read("plain"), read("styled"))
    assert np.array_equal(read("plain"), read("none"))  # strength 0 leaves the content alone
    settings = json.loads((tmp_path / "styled" / "fidelity.json").read_text())["settings"]
    assert settings["style"] == {"style": "seed 7", "mix_from": 2, "mix_strength": 1.0}
    # Resuming a folder with another style would mix two kinds of output: refused.
    assert main([*base, "--out", str(tmp_path / "styled"), "--mix-from", "2", "--style-seed", "8"]) == 2
    assert "made with style" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "img"), "--mix-from", "16px", "--style-image", str(folder / "gray.png")]) == 0
    settings = json.loads((tmp_path / "img" / "fidelity.json").read_text())["settings"]
    assert settings["style"]["mix_from"] == 3 and settings["style"]["style"].endswith("gray.png")
    assert main([*base, "--out", str(tmp_path / "x"), "--style-seed", "7"]) == 2
    assert "need --mix-from" in capsys.readouterr().err
    torch.save({"ws": torch.zeros(2, 2)}, tmp_path / "w.pt")
    assert main([*base, "--out", str(tmp_path / "x"), "--mix-from", "2", "--style-latent", str(tmp_path / "w.pt")]) == 2
    assert "w.pt: latent ws has shape (2, 2)" in capsys.readouterr().err


def test_mix_grid_rows_content_columns_styles(tmp_path, pair, pictures):
    folder, _ = pictures
    out = tmp_path / "mix.png"
    assert main(["mix", "--source", pair[0], "--target", pair[1], "--content-seeds", "0-1", "--content",
                 str(folder / "a.png"), "--style-seeds", "5-7", "--mix-from", "8px", "--out", str(out), *FAST]) == 0
    assert _size(out) == (2 + 4 * 18, 2 + 4 * 18)  # (1 + 3 contents) x (1 + 3 styles)
    grid = np.asarray(Image.open(out))
    assert (grid[2:18, 2:18] == 255).all()  # the corner is blank
    out.write_bytes(b"mine")
    assert main(["mix", "--source", pair[0], "--content-seeds", "0", "--style-seeds", "1", "--out", str(out)]) == 2
    assert out.read_bytes() == b"mine"


# ------------------------------------------------------------------ interpolate --latents
def test_interpolate_through_projected_latents(tmp_path, pair, pictures, capsys):
    folder, _ = pictures
    proj = tmp_path / "proj"
    assert main(["project", str(folder / "a.png"), str(folder / "gray.png"), "--ckpt", pair[0], "--out", str(proj),
                 *FAST]) == 0
    anim = tmp_path / "anim.gif"
    assert main(["interpolate", "--source", pair[0], "--target", pair[1], "--latents", str(proj / "latents"),
                 "--frames", "10", "--out", str(anim)]) == 0
    video = read_video(anim)
    assert len(video) == 10 and video.frames[0].shape == (16, 16 + 4 + 16, 3)
    # The loop passes through the keys: frame 0 is the first latent's reconstruction.
    recon = np.asarray(Image.open(proj / "reconstructions" / "a.png").convert("RGB"))
    assert np.abs(video.frames[0][:, :16].astype(int) - recon.astype(int)).mean() < 8  # GIF palette error only
    assert main(["interpolate", "--source", pair[0], "--target", pair[1], "--latents", str(proj / "latents"),
                 "--space", "z", "--out", str(tmp_path / "z.gif")]) == 2
    assert "interpolate in w" in capsys.readouterr().err


def test_collect_inputs_names_and_kinds(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/x.png", "d/x.jpg", "d/sub/y.png", "d/clip.gif", "d/z.pt", "d/.hidden.png", "d/readme.md"):
        (tmp_path / name).write_bytes(b"")
    found = collect_inputs([tmp_path / "d", tmp_path / "missing.png"])
    assert [(i.name, i.kind) for i in found.items] == [
        ("clip", "video"), ("sub__y", "image"), ("x", "image"), ("x_png", "image"), ("z", "latent")]
    assert [r for _, r in found.skipped] == ["not an image, latent file or video", "no such file or folder"]


def test_same_name_from_another_file_is_refused_not_skipped(tmp_path, pair, pictures, capsys):
    folder, imgs = pictures
    out = tmp_path / "out"
    args = ["--source", pair[0], "--target", pair[1], "--out", str(out), *FAST]
    assert main(["translate", str(folder / "a.png"), *args]) == 0
    (tmp_path / "elsewhere").mkdir()
    Image.fromarray(imgs[2]).save(tmp_path / "elsewhere" / "a.png")
    assert main(["translate", str(tmp_path / "elsewhere" / "a.png"), *args]) == 2
    assert "outputs named 'a' were made from" in capsys.readouterr().err
