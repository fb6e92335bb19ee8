"""The real detector on real photos: dlib with the 68-point model of face-recognition-models.

Runs where `pip install 'freezeg[align]'` (and scikit-image, whose wheel ships the photos) is
installed; skipped otherwise. The photos are read from the installed wheel, never downloaded.
"""

import importlib.util

import numpy as np
import pytest

from freezeg.align import detect_faces, find_faces, make_detector, paste_back
from freezeg.align.dlib_detector import LANDMARK_MODEL, MODELS
from freezeg.data.images import read_image
from freezeg.utils.packaged import package_file

if importlib.util.find_spec("dlib") is None or package_file(MODELS, LANDMARK_MODEL) is None:
    pytest.skip("needs pip install 'freezeg[align]'", allow_module_level=True)
if package_file("scikit-image", "skimage/data/astronaut.png") is None:
    pytest.skip("needs scikit-image (its astronaut and coffee photos)", allow_module_level=True)


def photo(name: str) -> np.ndarray:
    return read_image(package_file("scikit-image", f"skimage/data/{name}.png"))


def test_astronaut_has_one_face_and_its_crop_is_level_and_centred():
    astronaut = photo("astronaut")
    faces = detect_faces(astronaut, make_detector())
    assert len(faces) == 1  # the mission patch (a face-like circle) stays below the score threshold
    face = faces[0]
    left, top, right, bottom = face.box
    assert 150 < left < right < 300 and 50 < top < bottom < 200  # her face, top middle of the photo
    found = find_faces(astronaut, "astronaut", 256)
    [(name, aligned)] = found.align(astronaut)
    assert name == "astronaut_face0" and aligned.image.shape == (256, 256, 3)
    eyes = aligned.to_crop(np.stack([face.landmarks[36:42].mean(0), face.landmarks[42:48].mean(0)]))
    assert abs(eyes[0, 1] - eyes[1, 1]) < 2  # level
    assert abs(eyes.mean(0)[0] - 127.5) < 2  # centred left-right
    assert 55 < eyes[1, 0] - eyes[0, 0] <= 64  # FFHQ framing: eyes about a quarter of the crop apart
    assert eyes.mean(0)[1] < 128  # above the middle


def test_two_faces_are_named_left_to_right_and_pasted_back():
    astronaut = photo("astronaut")
    pair = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)  # her and her mirror image, 1024 x 512
    found = find_faces(pair, "pair", 128)
    crops = found.align(pair)
    assert [name for name, _ in crops] == ["pair_face0", "pair_face1"]
    assert crops[0][1].face.box[0] < 512 <= crops[1][1].face.box[0]
    green = np.zeros((128, 128, 3), np.uint8)
    green[..., 1] = 255  # a "translation" that shows where it lands
    result = pair
    for _, aligned in crops:
        result = paste_back(result, aligned, green)
    assert (result[100:150, 200:250] == (0, 255, 0)).all()  # her face, well inside the feathered edge
    assert (result[100:150, 1024 - 250 : 1024 - 200] == (0, 255, 0)).all()  # the mirror image's
    assert np.array_equal(result[400:], pair[400:])  # the suits are untouched


def test_a_photo_without_a_face_gives_none():
    assert detect_faces(photo("coffee"), make_detector()) == []


@pytest.mark.slow
def test_a_huge_photo_is_searched_downscaled_and_aligned_at_full_resolution():
    from PIL import Image

    huge = np.asarray(Image.fromarray(photo("astronaut")).resize((4000, 4000), Image.BILINEAR))  # 16 MP
    found = find_faces(huge, "huge", 256)
    assert found.notes == ["huge: 4000x4000 (16.0 MP); faces looked for in a copy downscaled 3.7x "
                           "(very small faces may be missed), aligned at full resolution"]
    [(_, aligned)] = found.align(huge)
    assert 1000 < aligned.side_in_photo < 1600  # the 512 px photo's ~170 px crop, 7.8x


@pytest.mark.slow
def test_translate_a_real_photo_from_the_command_line(tmp_path, caplog):
    from freezeg.cli import main
    from helpers import REFERENCE

    ckpt = str(REFERENCE / "checkpoint_convert_format.pt")  # a 32 px model: the pipeline, not the looks
    selfie = tmp_path / "selfie.jpg"
    from PIL import Image

    Image.fromarray(photo("astronaut")).save(selfie, quality=95)
    caplog.set_level("INFO", logger="freezeg")
    assert main(["translate", str(selfie), "--source", ckpt, "--target", ckpt, "--out", str(tmp_path / "out"),
                 "--align", "faces", "--paste-back", "--steps", "5", "-q"]) == 0
    assert "1 translated" in caplog.text and "1 photo pasted back" in caplog.text
    with Image.open(tmp_path / "out" / "pasted" / "selfie.jpg") as pasted:
        assert pasted.size == (512, 512)
    with Image.open(tmp_path / "out" / "aligned" / "selfie_face0.png") as crop:
        assert crop.size == (32, 32)
