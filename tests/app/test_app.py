"""The web app's callbacks (freezeg.app.studio, freezeg.app.uploads) as plain functions, without
Gradio or a browser: what a visitor sees for each action, what is refused, and what stays private."""

import dataclasses
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import freezeg.app.studio as studio_module
from freezeg import Discriminator, Generator, save_checkpoint
from freezeg.align import align, detect, paste_back
from freezeg.app.studio import MAX_STEPS, RenderSettings, Studio, fit_within
from freezeg.app.uploads import UploadError, read_photo, safe_stem
from freezeg.cli import main
from freezeg.generate.compare import pair_grid
from freezeg.generate.sampling import seeded_images
from freezeg.inversion.distances import make_distance
from freezeg.inversion.latents import Latent, load_latent, save_latent
from freezeg.inversion.pipeline import Inversion
from freezeg.inversion.stylegan2 import ProjectionOptions
from freezeg.translate import mix_styles, render
from freezeg.utils.media import to_uint8
from freezeg.utils.video import read_video
from helpers import UPRIGHT, FacesByShape, face_of

STEPS = 8


@pytest.fixture()
def models(tiny_config):
    torch.manual_seed(0)
    return Generator(tiny_config).eval(), Generator(tiny_config).eval()


def make_studio(models, tmp_path, **options) -> Studio:
    source, target = models
    inversion = Inversion(make_distance("default"), options=ProjectionOptions(space="w+", steps=STEPS))
    return Studio(source, {"cartoon": target, "copy-of-source": source}, inversion, work_dir=tmp_path / "work",
                  max_upload_mb=1, **options)


@pytest.fixture()
def studio(models, tmp_path):
    s = make_studio(models, tmp_path)
    yield s
    s.close()


@pytest.fixture()
def photo(tmp_path, models):
    """A 24x20 picture the source generator made (non-square, so it gets cropped)."""
    with torch.no_grad():
        image = to_uint8(models[0](torch.randn(1, 16, generator=torch.Generator().manual_seed(3))))[0]
    path = tmp_path / "My Photo!.png"
    Image.fromarray(image).resize((24, 20)).save(path)
    return path


def settings(**changes) -> RenderSettings:
    return dataclasses.replace(RenderSettings(target="cartoon"), **changes)


def test_upload_projects_once_and_shows_input_reconstruction_translation(studio, photo):
    waiting = studio.receive_upload(studio.new_session(), str(photo))  # what the page shows while projecting
    assert waiting.latent is None and waiting.input.shape == (16, 16, 3) and studio.rerender(waiting, settings()) is None
    session = studio.open_upload(studio.new_session(), str(photo))
    assert session.origin == "image" and session.latent.meta["steps"] == STEPS
    assert "24x20 centre-cropped and resized to 16x16" in session.note
    view = studio.rerender(session, settings())
    assert view.input.shape == view.reconstruction.shape == view.translation.shape == (16, 16, 3)
    assert np.array_equal(view.reconstruction, render(studio.source, [session.latent])[0])
    assert np.array_equal(view.translation, render(studio.targets["cartoon"], [session.latent])[0])
    psnr = session.latent.fidelity["psnr"]
    assert f"PSNR {psnr:.2f} dB" in view.report
    # Downloads: translation, panel (input | reconstruction | translation), the latent; all load back.
    names = [p.rsplit("/", 1)[-1] for p in view.files]
    assert names == ["My-Photo-translation.png", "My-Photo-panel.png", "My-Photo-latent.pt"]
    assert np.array_equal(np.asarray(Image.open(view.files[0])), view.translation)
    assert Image.open(view.files[1]).size == (2 + 3 * 18, 2 + 18)
    assert torch.equal(load_latent(view.files[2], studio.source).ws, session.latent.ws)


def test_render_controls_re_render_without_projecting(studio, photo, monkeypatch):
    session = studio.open_upload(studio.new_session(), str(photo))
    calls = []
    monkeypatch.setattr(Inversion, "project", lambda *a, **k: calls.append(1))
    plain = studio.rerender(session, settings()).translation
    styled = studio.rerender(session, settings(style_strength=1.0, style_seed=7, mix_from="8px")).translation
    assert not np.array_equal(plain, styled)
    style = studio.style_mix(session, settings(style_strength=1.0, style_seed=7, mix_from="8px"))
    ws = mix_styles(session.latent.ws[None], style.ws, 1, 1.0)  # 8px starts at latent index 1
    expected = to_uint8(studio.targets["cartoon"].synthesis(ws, noise=[n for n in session.latent.noise]))[0]
    assert np.array_equal(styled, expected)
    # Every block from the source: the translation is the reconstruction.
    blended = studio.rerender(session, settings(blend=(0.0, 0.0, 0.0)))
    assert np.array_equal(blended.translation, blended.reconstruction)
    assert "Layer blend" in blended.report
    # Truncation 0: every latent is the average w, whatever the input.
    flat = studio.rerender(session, settings(truncation=0.0))
    w_avg = studio.source.w_avg.expand(studio.source.num_ws, -1)
    avg = Latent(ws=w_avg, noise=session.latent.noise)
    assert np.array_equal(flat.reconstruction, render(studio.source, [avg])[0])
    assert studio.rerender(session, settings(target="copy-of-source")).translation.tolist() == \
        studio.rerender(session, settings()).reconstruction.tolist()
    assert calls == []


def test_only_truncation_or_a_new_latent_redraws_the_reconstruction(studio, photo, monkeypatch):
    session = studio.use_seed(studio.new_session(), 2)
    drawn = []
    real = studio_module.render
    monkeypatch.setattr(studio_module, "render", lambda g, *a: drawn.append(g is studio.source) or real(g, *a))
    first = studio.rerender(session, settings())
    studio.rerender(session, settings(style_strength=0.5))
    studio.rerender(session, settings(blend=(1.0, 0.0, 1.0), target="copy-of-source"))
    assert drawn == [True, False, False, False]
    truncated = studio.rerender(session, settings(truncation=0.5))
    assert drawn[-2:] == [True, False] and not np.array_equal(truncated.reconstruction, first.reconstruction)
    session = studio.use_seed(session, 3)
    studio.rerender(session, settings(truncation=0.5))
    assert drawn[-2:] == [True, False]


def test_blended_generators_are_made_once_per_setting(studio, photo, monkeypatch):
    made = []
    real = studio_module.blend_blocks
    monkeypatch.setattr(studio_module, "blend_blocks", lambda *a: made.append(1) or real(*a))
    for _ in range(3):
        studio.generator_for(settings(blend=(1.0, 0.5, 0.0)))
    assert made == [1]
    assert studio.generator_for(settings(blend=(1.0, 1.0, 1.0))) is studio.targets["cartoon"]
    with pytest.raises(UploadError, match="blend share for each of the 3 blocks"):
        studio.generator_for(settings(blend=(1.0, 0.5)))
    with pytest.raises(UploadError, match="unknown target model 'nope'"):
        studio.generator_for(settings(target="nope"))


def test_stop_keeps_the_latent_found_so_far_and_progress_is_reported(studio, photo):
    reports = []
    session = studio.open_upload(studio.new_session(), str(photo), progress=lambda f, t: reports.append((f, t)),
                                 should_stop=lambda: len(reports) >= 3)
    assert session.latent.meta["steps"] == 3
    assert session.stopped == f"stopped after 3 of {STEPS} steps"
    assert "Stop was pressed" in studio.rerender(session, settings()).report
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[0] == pytest.approx(1 / STEPS)
    assert reports[0][1].startswith(f"projecting: step 1/{STEPS}, distance ")


def test_projection_settings_are_the_visitors_own(studio, photo):
    session = studio.open_upload(studio.new_session(), str(photo), steps=3, space="w")
    assert session.latent.meta["steps"] == 3 and session.latent.space == "w"
    assert studio.inversion.options.steps == STEPS and studio.inversion.options.space == "w+"
    again = studio.project(session, steps=5)
    assert again.latent.meta["steps"] == 5 and again.input is session.input
    with pytest.raises(UploadError, match=f"at most {MAX_STEPS}"):
        studio.project(session, steps=MAX_STEPS + 1)


def test_poor_inversions_are_flagged(studio, tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    studio.poor_psnr = 99.0
    session = studio.open_upload(studio.new_session(), str(tmp_path / "noise.png"))
    report = studio.rerender(session, settings()).report
    assert report.startswith("**Poor inversion**") and "below 99 dB" in report and "unreliable" in report


@pytest.mark.parametrize("name,content,message", [
    ("notes.txt", b"hello", "notes.txt: not an image (PNG, JPG, JPEG, WEBP, BMP) or a latent file (.pt)"),
    ("cut.png", b"\x89PNG\r\n\x1a\n cut short", "cut.png: not a readable image"),
    ("empty.jpg", b"", "empty.jpg: the file is empty"),
    ("big.png", b"\0" * 1_200_000, "big.png: 1.2 MB is over this server's limit of 1 MB"),
    ("junk.pt", b"not a torch file", "junk.pt: not a readable latent file"),
])
def test_bad_uploads_are_refused_with_the_visitors_file_name(studio, tmp_path, name, content, message):
    path = tmp_path / "upload-cache-7f3a" / name
    path.parent.mkdir()
    path.write_bytes(content)
    session = studio.new_session()
    with pytest.raises(UploadError) as e:
        studio.open_upload(session, str(path))
    assert str(e.value).startswith(message)
    assert "upload-cache-7f3a" not in str(e.value)  # the server's paths stay private
    assert session.latent is None


def test_latent_of_another_model_and_huge_images_are_refused(studio, tmp_path):
    save_latent(tmp_path / "other.pt", Latent(ws=torch.zeros(10, 32), noise=None))
    with pytest.raises(UploadError, match=r"^other.pt: latent ws has shape \(10, 32\)"):
        studio.open_upload(studio.new_session(), str(tmp_path / "other.pt"))
    Image.new("RGB", (300, 200)).save(tmp_path / "wide.png")
    with pytest.raises(UploadError, match=r"wide.png: 300x200 pixels is more than this app takes \(0.05 megapixels\)"):
        read_photo(tmp_path / "wide.png", max_pixels=50_000)
    with pytest.raises(UploadError, match="style.pt: not an image"):
        studio.open_style_image(studio.new_session(), str(tmp_path / "style.pt"))


def test_latent_file_round_trips_between_visitors(studio, photo, tmp_path):
    first = studio.open_upload(studio.new_session(), str(photo))
    view = studio.rerender(first, settings(style_strength=0.5))
    second = studio.open_upload(studio.new_session(), view.files[2])
    assert second.origin == "latent" and second.input is None
    again = studio.rerender(second, settings(style_strength=0.5))
    assert np.array_equal(again.translation, view.translation)
    assert Image.open(again.files[1]).size == (2 + 2 * 18, 2 + 18)  # no input: reconstruction | translation
    assert f"PSNR {first.latent.fidelity['psnr']:.2f} dB" in again.report


def test_sessions_are_private_and_removed_when_they_end(studio, photo):
    a, b = studio.new_session(), studio.new_session()
    assert a.folder != b.folder and a.folder.parent == b.folder.parent == studio.work_dir
    b = studio.use_seed(b, 5)
    b_before = b.latent.ws.clone()
    a = studio.open_upload(a, str(photo))
    studio.rerender(a, settings())
    assert torch.equal(b.latent.ws, b_before) and b.input is None and b.name == "seed-5"
    assert sorted(p.name for p in b.folder.iterdir()) == ["seed-5-latent.pt"]
    assert "My-Photo-latent.pt" in [p.name for p in a.folder.iterdir()]
    studio.end_session(a)
    assert not a.folder.exists() and b.folder.exists()
    studio.close()
    assert not studio.work_dir.exists()


def test_seed_content_is_the_source_sample_of_that_seed(studio):
    session = studio.use_seed(studio.new_session(), 3)
    view = studio.rerender(session, settings(truncation=0.7))
    expected = to_uint8(seeded_images(studio.source, [3], truncation=0.7))[0]
    assert np.array_equal(view.reconstruction, expected)
    assert view.input is None and "a sample of the source generator" in view.report
    with pytest.raises(UploadError, match="seed must be 0 or more"):
        studio.use_seed(session, -1)


def test_style_image_is_projected_and_mixed_in(studio, photo):
    session = studio.use_seed(studio.new_session(), 1)
    no_image = studio.rerender(session, settings(style_strength=1.0, style_source="image"))
    assert "none uploaded yet" in no_image.report
    session = studio.open_style_image(session, str(photo))
    assert session.style.meta["steps"] == STEPS and session.style_name == photo.name
    styled = studio.rerender(session, settings(style_strength=1.0, style_source="image", mix_from="4px"))
    # From 4px on, every latent is the style image's: the content seed no longer matters but its noise does.
    expected = render(studio.targets["cartoon"], [dataclasses.replace(session.style, noise=session.latent.noise)])[0]
    assert np.array_equal(styled.translation, expected)
    assert f"Style: image {photo.name}, from 4px on" in styled.report


def test_pairs_and_interpolation_tabs(studio, photo, monkeypatch):
    session = studio.new_session()
    grid, path = studio.pairs(session, settings(), "0-2")
    assert grid.shape == (2 + 2 * 18, 2 + 3 * 18, 3) and Image.open(path).size == (56, 38)
    with pytest.raises(ValueError, match="Seeds: cannot read 'x'"):
        studio.pairs(session, settings(), "1,x")
    with pytest.raises(UploadError, match="at most 64"):
        studio.pairs(session, settings(), "0-99")
    gif = read_video(studio.interpolation(session, settings(), "1,5", 6, 12, "gif"))
    assert len(gif) == 6 and gif.frames[0].shape == (16, 36, 3)
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        pass
    else:
        assert len(read_video(studio.interpolation(session, settings(), "1,5", 6, 12, "mp4"))) == 6
    with pytest.raises(UploadError, match="no image or latent yet"):
        studio.interpolation(session, settings(), "1", 6, 12, "gif", with_latent=True)
    session = studio.open_upload(session, str(photo))
    written = []
    monkeypatch.setattr(studio_module, "write_video", lambda frames, path, fps: written.extend(frames) or path)
    studio.interpolation(session, settings(), "1", 4, 12, "gif", with_latent=True)
    reconstruction = studio.rerender(session, settings()).reconstruction
    assert len(written) == 4 and np.array_equal(written[0][:, :16], reconstruction)  # the loop starts at the image
    with pytest.raises(UploadError, match="Frames: between 2 and 240"):
        studio.interpolation(session, settings(), "1,5", 1000, 12, "gif")


def test_targets_must_fit_the_source(models, tiny_config, tmp_path):
    other = Generator(dataclasses.replace(tiny_config, channels={4: 8, 8: 8, 16: 8}))
    inversion = Inversion(make_distance("default"))
    with pytest.raises(ValueError, match="source and target bad generators differ: channels"):
        Studio(models[0], {"bad": other}, inversion, work_dir=tmp_path)
    with pytest.raises(ValueError, match="a --target is given twice"):
        Studio.from_files("s.pt", ["t.pt", "t.pt"], inversion)


def test_safe_download_names():
    assert safe_stem("../../etc/passwd") == "passwd"
    assert safe_stem("Ça va? (1).JPG") == "a-va-1"
    assert safe_stem("???.png") == "upload"


def test_serve_without_gradio_says_how_to_get_it(tmp_path, models, monkeypatch, capsys):
    save_checkpoint(tmp_path / "s.pt", g_ema=models[0])
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    monkeypatch.delitem(sys.modules, "freezeg.app.page", raising=False)
    assert main(["serve", "--source", str(tmp_path / "s.pt"), "--target", str(tmp_path / "s.pt")]) == 2
    assert "freezeg serve needs Gradio: pip install 'freezeg[app]'" in capsys.readouterr().err


# ---------------------------------------------------------------- Align faces and paste-back
# A stand-in detector reports given landmarks (as tests/translate/test_translate_faces.py), so no dlib is needed.
SMALL_FACE, LARGE_FACE = face_of(UPRIGHT * 0.4 + (10, 30)), face_of(UPRIGHT * 0.6 + (150, 20))


@pytest.fixture()
def group(tmp_path):
    """group.png (240x160) with two faces, the right one larger; lonely.png with one too small; empty.png;
    and a stand-in detector that finds them."""
    rng = np.random.default_rng(0)
    image = np.asarray(Image.fromarray(rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)).resize((240, 160)))
    Image.fromarray(image).save(tmp_path / "group.png")
    Image.fromarray(image[:100, :100]).save(tmp_path / "lonely.png")
    Image.fromarray(image[:90, :90]).save(tmp_path / "empty.png")
    detector = FacesByShape({(160, 240): [LARGE_FACE, SMALL_FACE], (100, 100): [face_of(UPRIGHT * 0.2)]})
    return image, detector


@pytest.fixture()
def face_studio(models, tmp_path, group):
    s = make_studio(models, tmp_path, face_detector=group[1])
    yield s
    s.close()


def test_align_faces_translates_the_largest_face_and_pastes_it_back(face_studio, group, tmp_path, monkeypatch):
    studio, (image, detector) = face_studio, group
    session = studio.open_upload(studio.new_session(), str(tmp_path / "group.png"), align_faces=True)
    # Faces are numbered left to right (as the CLI names them); the largest is chosen and the note says so.
    assert studio.face_choices(session) == [("face 0 (left)", 0), ("face 1 (right, largest)", 1)]
    assert session.face == 1 and session.name == "group_face1" and session.latent is not None
    assert np.array_equal(session.input, align(image, LARGE_FACE, 16).image)
    assert "group.png: 2 faces; this is face 1 (right, largest), chosen as the largest; 'Face' picks another" \
        in studio.rerender(session, settings()).report

    calls = []
    monkeypatch.setattr(Inversion, "project", lambda *a, **k: calls.append(1))
    plain = studio.rerender(session, settings())
    assert plain.pasted is None and not any("pasted" in f for f in plain.files)
    assert np.array_equal(plain.input, session.input)  # the input tile is the aligned crop
    view = studio.rerender(session, settings(paste_back=True))
    expected = paste_back(image, session.aligned, view.translation)
    assert view.pasted.shape == image.shape and np.array_equal(view.pasted, expected)
    assert view.files[-1].endswith("group-pasted.png")
    assert np.array_equal(np.asarray(Image.open(view.files[-1])), expected)
    assert "Pasted back into group.png (240x160)" in view.report
    assert not np.array_equal(view.pasted, image) and np.array_equal(view.pasted[130:, :100], image[130:, :100])
    styled = studio.rerender(session, settings(paste_back=True, style_strength=1.0, style_seed=3))
    assert not np.array_equal(styled.pasted, view.pasted)  # re-rendered and pasted again, not projected
    assert calls == []
    monkeypatch.undo()

    # Another face: aligned from the photo the session keeps (no second detection), then projected.
    detector.table.clear()
    other = studio.prepare_input(session, align_faces=True, face=0)
    assert other.name == "group_face0" and other.latent is None and other.face == 0
    assert np.array_equal(other.input, align(image, SMALL_FACE, 16).image)
    assert other.note == "group.png: 2 faces; this is face 0 (left)"
    assert session.face == 1  # sessions are values: the old one is unchanged
    # Unticked: the centred square of the same photo, and no face menu.
    whole = studio.prepare_input(other, align_faces=False)
    assert whole.aligned is None and studio.face_choices(whole) == [] and whole.name == "group"
    assert "240x160 centre-cropped and resized to 16x16" in whole.note
    whole = studio.project(whole)
    assert "only for photos uploaded with 'Align faces' on" in studio.rerender(whole, settings(paste_back=True)).report


def test_align_faces_refuses_photos_without_a_usable_face(face_studio, tmp_path):
    studio = face_studio
    session = studio.use_seed(studio.new_session(), 1)
    with pytest.raises(UploadError, match=r"^empty.png: no face found; untick 'Align faces' to translate the whole"):
        studio.receive_upload(session, str(tmp_path / "empty.png"), align_faces=True)
    with pytest.raises(UploadError, match=r"^lonely.png: 1 face found, too small for this 16 px model \(a face must "
                                          r"span at least 32 px of the photo\)"):
        studio.receive_upload(session, str(tmp_path / "lonely.png"), align_faces=True)
    assert session.name == "seed-1" and session.photo is None  # the visitor's session is as it was
    # A style image is aligned too, its largest face; a latent file leaves no photo behind.
    styled = studio.open_style_image(session, str(tmp_path / "group.png"), align_faces=True)
    assert styled.style_name == "group.png, face1"
    aligned = studio.receive_upload(session, str(tmp_path / "group.png"), align_faces=True)
    latent_file = studio.rerender(studio.project(aligned), settings()).files[2]
    from_file = studio.receive_upload(aligned, latent_file, align_faces=True)
    assert from_file.photo is None and from_file.aligned is None and studio.face_choices(from_file) == []


def test_align_faces_without_the_extra_says_how_to_install_it(studio, photo, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)
    monkeypatch.setattr(detect, "_made", {})
    assert studio.alignment_unavailable() == ("Align faces needs dlib and its face landmark model on the server: "
                                              "pip install 'freezeg[align]'")
    with pytest.raises(UploadError, match=r"pip install 'freezeg\[align\]'"):
        studio.receive_upload(studio.new_session(), str(photo), align_faces=True)
    assert studio.receive_upload(studio.new_session(), str(photo)).input.shape == (16, 16, 3)  # the rest works


def test_pasted_photos_are_shown_shrunk_to_the_page():
    assert fit_within(np.zeros((600, 3000, 3), np.uint8), 1024).shape == (205, 1024, 3)
    small = np.zeros((60, 30, 3), np.uint8)
    assert fit_within(small, 1024) is small


def test_the_program_api_translates_renders_and_draws_pairs_without_keeping_anything(studio, photo, models):
    translation, reconstruction, psnr = studio.api_translate(str(photo))
    assert translation.shape == reconstruction.shape == (16, 16, 3) and translation.dtype == np.uint8
    assert isinstance(psnr, float) and 5 < psnr < 60
    assert not any(studio.work_dir.iterdir())  # the call's session folder is gone
    source_image, target_image = studio.api_render(5, 0.7)
    again = studio.api_render(5, 0.7, "copy-of-source")
    assert np.array_equal(source_image, again[0]) and np.array_equal(again[0], again[1])  # same G both sides
    assert not np.array_equal(source_image, target_image)
    assert np.array_equal(studio.api_pairs("0-2"), pair_grid(models[0], models[1], [0, 1, 2]))
    for call, message in ((lambda: studio.api_render(1, 2.0), "truncation: between 0 and 1"),
                          (lambda: studio.api_render(1, 1.0, "nope"), "'nope' is not served here"),
                          (lambda: studio.api_translate(str(photo.parent / "missing.png")), "missing.png")):
        with pytest.raises((ValueError, OSError), match=message):
            call()
    assert not any(studio.work_dir.iterdir())


def test_a_bf16_server_draws_what_an_fp32_one_draws_within_bfloat16_rounding(models, tmp_path):
    fp32 = make_studio(models, tmp_path / "a")
    bf16 = make_studio(models, tmp_path / "b")
    bf16.inversion.precision = "bf16"
    views = [s.rerender(s.use_seed(s.new_session(), 4), settings()) for s in (fp32, bf16)]
    diff = np.abs(views[0].translation.astype(int) - views[1].translation.astype(int))
    assert 0 < diff.mean() < 4 and views[1].translation.dtype == np.uint8
    for s in (fp32, bf16):
        s.close()


def test_a_new_style_trains_in_steps_and_stays_private_to_its_session(studio, photo, models, tiny_config, tmp_path):
    session = studio.new_session()
    updates = list(studio.new_style(session, [str(photo), str(photo)], steps=12))
    assert len(updates) == 7 and "step 12 of 12" in updates[-2][2] and "new style 1" in updates[-1][2]
    styled = updates[-1][0]
    assert list(styled.styles) == ["new style 1"] and updates[-1][1].dtype == np.uint8
    with_style = studio.rerender(studio.use_seed(styled, 3), settings(target="new style 1"))
    plain = studio.rerender(studio.use_seed(styled, 3), settings())
    assert not np.array_equal(with_style.translation, plain.translation)
    other = studio.use_seed(studio.new_session(), 3)  # another visitor does not see it
    with pytest.raises(UploadError, match="unknown target model 'new style 1'"):
        studio.rerender(other, settings(target="new style 1"))
    for bad, message in (([], "drop 1 to 10 pictures"), ([str(photo)] * 11, "drop 1 to 10 pictures")):
        with pytest.raises(UploadError, match=message):
            next(studio.new_style(studio.new_session(), bad))
    with pytest.raises(UploadError, match="steps between 1 and 1000"):
        next(studio.new_style(studio.new_session(), [str(photo)], steps=5000))
    with_d = make_studio(models, tmp_path / "second", discriminator=Discriminator(tiny_config))
    *_, last = with_d.new_style(with_d.new_session(), [str(photo)], steps=2)
    assert "d-features loss" in last[2]
    with_d.close()
