"""`freezeg serve` in a real browser: the server runs as a user starts it, headless Chromium drives
the page as a visitor would (upload, wait, move a slider, upload a wrong file, stop a projection;
align the faces of real photos and paste one back, where the align extra is installed).

Needs the app extra (gradio), Playwright's Python client and Debian's chromium
(`apt-get install chromium`); skipped otherwise. Playwright's own browser download is not used.

FREEZEG_SERVE_SCREENSHOT=PATH saves the page (after the first translation) there;
FREEZEG_SERVE_MODELS=SOURCE,TARGET[,IMAGE] runs it with other checkpoints (and input image),
e.g. the demo's for README's screenshot.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg import Generator, load_generator, save_checkpoint
from freezeg.utils.media import to_uint8

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory, ref_config):
    """The 32 px test models: a source, and a target whose 32 px block and toRGB layers differ."""
    tmp_path = tmp_path_factory.mktemp("models")
    given = os.environ.get("FREEZEG_SERVE_MODELS")
    if given:
        source, target, *image = given.split(",")
        if image:
            return source, target, image[0]
    else:
        torch.manual_seed(0)
        src, tgt = Generator(ref_config), Generator(ref_config)
        tgt.load_state_dict({k: v for k, v in src.state_dict().items()
                             if not k.startswith(("convs.4", "convs.5", "to_rgbs"))}, strict=False)
        source = str(save_checkpoint(tmp_path / "source.pt", g_ema=src))
        target = str(save_checkpoint(tmp_path / "target.pt", g_ema=tgt))
    g = load_generator(source)
    with torch.no_grad():
        image = to_uint8(g(torch.randn(1, g.style_dim, generator=torch.Generator().manual_seed(4))))[0]
    path = tmp_path / "photo.png"
    Image.fromarray(image).resize((3 * g.size, 2 * g.size)).save(path)  # not square: cropped on the page
    return source, target, str(path)


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    """`freezeg serve` on a free port, as a user starts it (one server for this file's tests)."""
    pytest.importorskip("gradio")
    tmp_path = tmp_path_factory.mktemp("server")
    source, target, _ = models
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # The test models project in 40 steps; given models get the page's defaults, as a user would.
    steps = [] if os.environ.get("FREEZEG_SERVE_MODELS") else ["--steps", "40"]
    proc = subprocess.Popen([sys.executable, "-m", "freezeg", "serve", "--source", source, "--target", target,
                             "--target", source, "--port", str(port), *steps, "--device", "cpu"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"freezeg serve exited with {proc.returncode}: {(tmp_path / 'server.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                pytest.fail("freezeg serve did not answer within 120 s")
            time.sleep(0.5)
    yield url, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _upload(page, elem_id: str, path: str) -> None:
    """Clear the upload box (its x button) if it holds a file, then give it `path`."""
    clear = page.locator(f"#{elem_id} button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator(f"#{elem_id} input[type=file]").set_input_files(path, timeout=TIMEOUT_MS)


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def _image_src(page, elem_id: str) -> str | None:
    img = page.locator(f"#{elem_id} img")
    return img.get_attribute("src") if img.count() else None


def _wait_for_text(page, selector: str, text: str) -> None:
    try:
        page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return e && e.innerText.includes(t); }",
                               arg=[selector, text], timeout=TIMEOUT_MS)
    except Exception:  # say what the page showed instead (the timeout alone says nothing)
        shown = {sel: _text(page, sel) if page.locator(sel).count() else None for sel in (selector, "#status", "#report")}
        raise AssertionError(f"waited for {text!r} in {selector}; the page showed {shown}") from None


def _wait_for_new_image(page, elem_id: str, old: str | None) -> str:
    page.wait_for_function(
        "([id, old]) => { const i = document.querySelector('#' + id + ' img'); return i && i.src && i.src !== old; }",
        arg=[elem_id, old], timeout=TIMEOUT_MS)
    return _image_src(page, elem_id)


def test_a_visitor_translates_restyles_and_recovers_from_a_bad_upload(server, browser, models, tmp_path):
    url, proc = server
    page = browser.new_page(viewport={"width": 1280, "height": 1300})
    outside = []
    page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else outside.append(r.url))
    page.goto(url)
    page.wait_for_selector("#upload input[type=file]", state="attached", timeout=TIMEOUT_MS)
    assert "Upload an image" in _text(page, "#status")

    # Upload: projected, then input | reconstruction | translation with the fidelity numbers.
    _upload(page, "upload", models[2])
    _wait_for_text(page, "#report", "PSNR")
    first = _image_src(page, "translation-image")
    assert first and _image_src(page, "reconstruction-image") and _image_src(page, "input-image")
    if Image.open(models[2]).size[0] != Image.open(models[2]).size[1]:
        assert "centre-cropped and resized" in _text(page, "#report")
    assert "Projected and translated" in _text(page, "#status")
    assert f"{Path(models[2]).stem}-latent" in _text(page, "#downloads")
    shot = os.environ.get("FREEZEG_SERVE_SCREENSHOT")
    page.screenshot(path=shot or str(tmp_path / "serve.png"))

    # Move the style-strength slider: the translation is drawn again, without projecting.
    track = page.locator("#style-strength input[type=range]")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    restyled = _wait_for_new_image(page, "translation-image", first)
    assert restyled != first
    _wait_for_text(page, "#report", "Style: seed 0")

    # A text file: an error on the page, the server stays up, the next upload works.
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    _upload(page, "upload", str(notes))
    _wait_for_text(page, "#status", "notes.txt: not an image")
    assert proc.poll() is None
    other = tmp_path / "second.png"
    Image.open(models[2]).transpose(Image.FLIP_LEFT_RIGHT).save(other)
    _upload(page, "upload", str(other))
    _wait_for_text(page, "#status", "Projected and translated")
    _wait_for_text(page, "#downloads", "second-latent")
    assert _image_src(page, "translation-image") not in (first, restyled)

    assert outside == []  # the page loads nothing from other hosts (fonts, scripts, analytics)

    # Another visitor sees none of it.
    stranger = browser.new_page()
    stranger.goto(url)
    stranger.wait_for_selector("#status", timeout=TIMEOUT_MS)
    assert "Upload an image" in _text(stranger, "#status")
    assert _image_src(stranger, "translation-image") is None
    label = "translation, panel, latent (and the pasted photo)"
    assert "latent" not in _text(stranger, "#downloads").replace(label, "")


def test_projection_shows_live_progress_and_stops(server, browser, models):
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 1500})
    page.goto(url)
    page.wait_for_selector("#upload input[type=file]", state="attached", timeout=TIMEOUT_MS)
    page.get_by_text("Projection settings").click()
    steps = page.locator("#projection-steps input[type=number]")
    for _ in range(20):  # under load a value typed just after the accordion opens is sometimes lost: type again
        steps.fill("3000")
        steps.press("Enter")
        if page.locator("#projection-steps input[type=range]").input_value() == "3000":
            break
        page.wait_for_timeout(500)
    _upload(page, "upload", models[2])
    page.wait_for_function("document.body.innerText.includes('projecting: step')", timeout=TIMEOUT_MS)
    assert _image_src(page, "input-image") and "Projecting with the source generator" in _text(page, "#status")
    page.get_by_role("button", name="Stop").click()
    _wait_for_text(page, "#status", "Projection stopped after")
    _wait_for_text(page, "#report", "of 3000 steps (Stop was pressed)")
    assert _image_src(page, "translation-image")


def test_pairs_and_interpolation_tabs_draw(server, browser):
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 1200})
    page.goto(url)
    page.get_by_role("tab", name="Pairs").click()
    page.get_by_role("button", name="Draw pairs").click()
    _wait_for_new_image(page, "pairs-image", None)
    page.get_by_role("tab", name="Interpolation").click()
    page.get_by_role("button", name="Make animation").click()
    src = _wait_for_new_image(page, "loop-gif", None)
    assert src.endswith(".gif")


def _face_photos(tmp_path) -> dict[str, str]:
    """Real photos from scikit-image's wheel: one face, two faces (the astronaut and her mirror image), none."""
    from freezeg.align.dlib_detector import LANDMARK_MODEL, MODELS
    from freezeg.data.images import read_image
    from freezeg.utils.packaged import package_file

    if importlib.util.find_spec("dlib") is None or package_file(MODELS, LANDMARK_MODEL) is None:
        pytest.skip("needs pip install 'freezeg[align]'")
    astronaut = package_file("scikit-image", "skimage/data/astronaut.png")
    if astronaut is None:
        pytest.skip("needs scikit-image (its astronaut and coffee photos)")
    face = read_image(astronaut)
    Image.fromarray(face).save(tmp_path / "astronaut.jpg", quality=95)
    Image.fromarray(np.concatenate([face, face[:, ::-1]], axis=1)).save(tmp_path / "pair.png")
    return {"one": str(tmp_path / "astronaut.jpg"), "two": str(tmp_path / "pair.png"),
            "none": str(package_file("scikit-image", "skimage/data/coffee.png"))}


def test_a_visitor_aligns_faces_chooses_one_and_pastes_it_back(server, browser, tmp_path):
    photos = _face_photos(tmp_path)
    url, proc = server
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(url)
    page.wait_for_selector("#upload input[type=file]", state="attached", timeout=TIMEOUT_MS)
    page.locator("#align-faces input[type=checkbox]").check()
    page.locator("#paste-back input[type=checkbox]").check()

    # One face: its aligned crop is projected; the translation is pasted back into the photo.
    _upload(page, "upload", photos["one"])
    _wait_for_text(page, "#report", "PSNR")
    assert "astronaut.jpg: the face, FFHQ-aligned" in _text(page, "#report")
    _wait_for_text(page, "#report", "Pasted back into astronaut.jpg (512x512)")
    _wait_for_text(page, "#downloads", "astronaut-pasted")
    assert "astronaut_face0-latent" in _text(page, "#downloads")
    first = _image_src(page, "pasted-image")
    assert first and not page.locator("#face-menu").is_visible()  # one face: nothing to choose

    # A render control re-renders and pastes again.
    track = page.locator("#style-strength input[type=range]")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    assert _wait_for_new_image(page, "pasted-image", first) != first

    # No face: an error line, the server carries on.
    _upload(page, "upload", photos["none"])
    _wait_for_text(page, "#status", "coffee.png: no face found")
    assert proc.poll() is None

    # Two faces: the Face menu offers both; choosing the other one projects it.
    _upload(page, "upload", photos["two"])
    _wait_for_text(page, "#status", "Projected and translated")
    _wait_for_text(page, "#report", "pair.png: 2 faces")
    chosen = "pair_face1" if "pair_face1-latent" in _text(page, "#downloads") else "pair_face0"
    other = "pair_face0" if chosen == "pair_face1" else "pair_face1"
    page.locator("#face-menu input").click()
    page.get_by_role("option", name=f"face {other[-1]} (").click()
    _wait_for_text(page, "#downloads", f"{other}-latent")
    _wait_for_text(page, "#report", "Pasted back into pair.png (1024x512)")


def test_programs_reach_translate_render_and_pairs_by_name_and_nothing_else(server, models):
    """gradio_client, as README shows it: three named endpoints; the page's own events stay private."""
    gradio_client = pytest.importorskip("gradio_client")
    url, _ = server
    client = gradio_client.Client(url, verbose=False)
    assert sorted(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == [
        "/pairs", "/render", "/translate"]
    translation, reconstruction, psnr = client.predict(gradio_client.handle_file(models[2]), api_name="/translate")
    for path in (translation, reconstruction):
        assert Image.open(path).size == (32, 32)
    assert isinstance(psnr, float) and psnr > 5
    source_image, target_image = client.predict(3, 1.0, "", api_name="/render")
    assert Image.open(source_image).size == Image.open(target_image).size == (32, 32)
    assert Image.open(client.predict("0-3", 1.0, "", api_name="/pairs")).size[0] > 32
    with pytest.raises(Exception, match="truncation: between 0 and 1"):
        client.predict(3, 5.0, "", api_name="/render")


def test_a_visitor_makes_a_new_style_and_translates_with_it_alone(server, browser, models, tmp_path):
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 1300})
    page.goto(url)
    page.wait_for_selector("#upload input[type=file]", state="attached", timeout=TIMEOUT_MS)
    _upload(page, "upload", models[2])
    _wait_for_text(page, "#report", "PSNR")
    before = _image_src(page, "translation-image")
    # Two references of the "style" (the photo's colours inverted), trained in the New style tab.
    refs = []
    for i, flip in enumerate((False, True)):
        image = Image.eval(Image.open(models[2]).convert("RGB"), lambda v: 255 - v)
        refs.append(str(tmp_path / f"style{i}.png"))
        (image.transpose(Image.FLIP_LEFT_RIGHT) if flip else image).save(refs[-1])
    page.get_by_role("tab", name="New style").click()
    page.locator("#style-refs input[type=file]").set_input_files(refs, timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Make style").click()
    _wait_for_new_image(page, "style-grid", None)  # the samples appear while it trains
    _wait_for_text(page, "#style-status", "new style 1")
    _wait_for_text(page, "#style-status", "is ready")
    # The new style is a target of this page only; choosing it redraws the translation.
    page.get_by_role("tab", name="Translate").click()
    page.locator("#target-model input").click()
    page.get_by_role("option", name="new style 1").click()
    assert _wait_for_new_image(page, "translation-image", before) != before
    stranger = browser.new_page()
    stranger.goto(url)
    stranger.wait_for_selector("#target-model input", timeout=TIMEOUT_MS)
    stranger.locator("#target-model input").click()
    assert stranger.get_by_role("option", name="new style 1").count() == 0
