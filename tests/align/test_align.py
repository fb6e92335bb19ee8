"""Face alignment geometry and paste-back, with landmarks given directly (no detector needed)."""

import math

import numpy as np
import pytest

from freezeg.align import AlignedFace, align, detect_faces, feathered_mask, ffhq_quad, find_faces, paste_back
from freezeg.align.geometry import quad_side
from helpers import UPRIGHT, face_of, landmarks


def rotate(points, angle_degrees, centre):
    a = math.radians(angle_degrees)
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return (np.asarray(points, dtype=np.float64) - centre) @ r.T + centre


def test_quad_of_an_upright_face_worked_by_hand():
    # eye midpoint (50, 50), eye-to-eye (20, 0), eye-to-mouth (0, 30): x = (20, 0) - (-30, 0) = (50, 0),
    # scaled to max(2 * 20, 1.8 * 30) = 54; y = (0, 54); centre (50, 50) + 0.1 * (0, 30) = (50, 53).
    quad = ffhq_quad(UPRIGHT)
    assert np.allclose(quad, [[-4, -1], [-4, 107], [104, 107], [104, -1]])
    assert quad_side(quad) == pytest.approx(108)


def test_quad_follows_rotation_scale_and_shift_of_the_face():
    centre = np.array([50.0, 60.0])
    for angle in (15.0, -40.0, 90.0):
        turned = ffhq_quad(rotate(UPRIGHT, angle, centre))
        assert np.allclose(turned, rotate(ffhq_quad(UPRIGHT), angle, centre))
    assert np.allclose(ffhq_quad(UPRIGHT * 3 + (7, -2)), ffhq_quad(UPRIGHT) * 3 + (7, -2))


def test_wide_face_is_sized_by_eye_distance():
    wide = landmarks((20, 50), (80, 50), (45, 60), (55, 60))  # eyes 60 apart, mouth 10 below
    assert quad_side(ffhq_quad(wide)) == pytest.approx(2 * 2 * 60 * math.hypot(60, 10) / math.hypot(60, 10))


def test_bad_landmarks_are_refused():
    with pytest.raises(ValueError, match="68 finite"):
        ffhq_quad(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="degenerate"):
        ffhq_quad(np.zeros((68, 2)))


def gradient_photo(height, width):
    """R = x, G = y, B = 100 (sides up to 256): bicubic and Lanczos keep a linear ramp, so crops are predictable."""
    yy, xx = np.mgrid[:height, :width]
    return np.stack([xx % 256, yy % 256, np.full_like(xx, 100)], -1).astype(np.uint8)


@pytest.mark.parametrize("size", [32, 256])  # a 4.4x shrink, a 1.8x enlargement
def test_crop_samples_the_photo_where_the_transform_says(size):
    photo = gradient_photo(256, 256)
    points = rotate(UPRIGHT * 1.3 + (60, 50), 20, np.array([128.0, 128.0]))  # a 140 px crop, tilted 20 degrees
    aligned = align(photo, face_of(points), size)
    assert aligned.image.shape == (size, size, 3) and aligned.image.dtype == np.uint8
    assert aligned.side_in_photo == pytest.approx(140.4)
    jj, ii = np.mgrid[2 : size - 2, 2 : size - 2]  # away from the crop's own border
    where = aligned.to_photo(np.stack([ii.ravel(), jj.ravel()], 1))  # photo pixel coordinates = expected R, G
    got = aligned.image[jj.ravel(), ii.ravel(), :2].astype(np.float64)
    error = got - where
    assert np.abs(error).max() <= 1.5  # up to three 8-bit roundings (box shrink, Lanczos, bicubic)
    assert np.abs(error.mean(0)).max() < 0.1  # and no shift: a half-pixel slip would be 0.5 here
    assert np.all(aligned.image[..., 2] == 100)


def test_crop_corners_are_the_quad_corners_and_the_transform_inverts():
    aligned = align(gradient_photo(256, 256), face_of(rotate(UPRIGHT + 70, -30, np.array([128.0, 128.0]))), 128)
    corners = aligned.to_photo(np.array([[-0.5, -0.5], [-0.5, 127.5], [127.5, 127.5], [127.5, -0.5]]))
    assert np.allclose(corners, aligned.quad)
    points = np.array([[10.0, 20.0], [200.0, 150.5], [0.0, 0.0]])
    assert np.allclose(aligned.to_photo(aligned.to_crop(points)), points)


def test_downscaled_crop_is_antialiased():
    photo = ((np.indices((800, 800)).sum(0) % 2) * 255).astype(np.uint8)[..., None].repeat(3, 2)  # 1 px checks
    aligned = align(photo, face_of(UPRIGHT * 6 + 60), 64)  # 648 px of photo into 64 px: 10x
    inner = aligned.image[8:-8, 8:-8].astype(np.float64)
    assert abs(inner.mean() - 127.5) < 3 and inner.std() < 4  # grey; aliasing would give stripes


def test_face_at_the_photo_edge_is_padded_with_blurred_mirror_not_black():
    photo = np.full((200, 200, 3), 200, dtype=np.uint8)
    aligned = align(photo, face_of(UPRIGHT + (-30, 40)), 64)  # the quad reaches 34 px past the left edge
    assert aligned.quad[:, 0].min() < 0
    assert aligned.image.min() >= 195  # the mirrored, faded fill keeps the photo's colour


def test_crop_outside_the_photo_is_refused():
    with pytest.raises(ValueError, match="outside the photo"):
        align(np.zeros((50, 50, 3), np.uint8), face_of(UPRIGHT + 500), 32)


def test_paste_back_of_the_untouched_crop_restores_the_photo():
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (12, 12, 3)).astype(np.uint8)
    from PIL import Image

    photo = np.asarray(Image.fromarray(coarse).resize((300, 280), Image.BICUBIC))  # smooth, textured
    aligned = align(photo, face_of(rotate(UPRIGHT * 1.5 + 60, 25, np.array([140.0, 140.0]))), 160)  # ~1:1 scale
    restored = paste_back(photo, aligned, aligned.image, feather=0.0)
    inside = _inside_quad(aligned, photo.shape, margin=3)
    diff = np.abs(restored.astype(int) - photo.astype(int))
    assert diff[inside].mean() < 1.5 and np.percentile(diff[inside], 99) <= 6
    far = ~_inside_quad(aligned, photo.shape, margin=-3)
    assert np.array_equal(restored[far], photo[far])  # outside the square nothing changes


def _inside_quad(aligned: AlignedFace, shape, margin: float) -> np.ndarray:
    """Photo pixels whose crop coordinates lie at least `margin` crop pixels inside the crop."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    uv = aligned.to_crop(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(shape[0], shape[1], 2)
    lo, hi = -0.5 + margin, aligned.size - 0.5 - margin
    return (uv[..., 0] >= lo) & (uv[..., 0] <= hi) & (uv[..., 1] >= lo) & (uv[..., 1] <= hi)


def test_paste_back_blends_through_a_feathered_mask():
    photo = np.zeros((240, 260, 3), dtype=np.uint8)
    aligned = align(photo, face_of(UPRIGHT + 70), 100)  # crop side 108 px in the photo
    white = np.full((100, 100, 3), 255, dtype=np.uint8)
    out = paste_back(photo, aligned, white, feather=0.2)
    assert photo.max() == 0  # the input is not modified
    assert np.all(out[_inside_quad(aligned, photo.shape, margin=21)] >= 254)  # past the 20 px soft edge
    assert np.all(out[~_inside_quad(aligned, photo.shape, margin=-2)] == 0)
    row = out[int(round(aligned.quad[:, 1].mean())), :, 0].astype(int)  # through the middle, left to right
    left = int(math.floor(aligned.quad[:, 0].min()))
    ramp = row[left : left + 25]
    assert ramp[0] < 10 and ramp[-1] >= 254 and np.all(np.diff(ramp) >= -1)  # rises smoothly


def test_feathered_mask_shape():
    m = feathered_mask(100, 0.1)
    assert m.shape == (100, 100) and m.dtype == np.float32
    assert m[50, 50] == 1 and m[0, 50] < 0.01 and m[0, 0] < 0.01 and 0.4 < m[5, 50] < 0.6
    assert np.all(feathered_mask(10, 0.0) == 1)
    with pytest.raises(ValueError):
        feathered_mask(10, 0.7)


def test_paste_back_checks_it_has_the_right_photo():
    aligned = align(np.zeros((200, 200, 3), np.uint8), face_of(UPRIGHT + 40), 32)
    with pytest.raises(ValueError, match="aligned in a 200x200 photo"):
        paste_back(np.zeros((100, 200, 3), np.uint8), aligned, aligned.image)


class GivenFaces:
    """A detector that reports fixed faces (in the coordinates of the image it is given) and what it saw."""

    name = "given"

    def __init__(self, faces):
        self.faces = faces
        self.seen = []

    def detect(self, image):
        self.seen.append(image.shape)
        return list(self.faces)


def test_find_faces_names_faces_left_to_right_and_skips_tiny_ones():
    photo = np.zeros((300, 500, 3), dtype=np.uint8)
    big_right = face_of(UPRIGHT + (330, 80))
    tiny = face_of(UPRIGHT * 0.25 + (200, 100))  # a 27 px crop: below the 64 px a 256 px model needs
    big_left = face_of(UPRIGHT + (20, 60))
    result = find_faces(photo, "group", 256, detector=GivenFaces([big_right, tiny, big_left]))
    assert [name for name, _ in result.faces] == ["group_face0", "group_face2"]
    assert result.faces[0][1] is big_left and result.tiny == ["group_face1"] and result.found == 3
    assert result.notes == ["group: face1 is too small (27 px crop in the photo, needs 64 for 256 px); skipped"]
    crops = result.align(photo)
    assert [name for name, _ in crops] == ["group_face0", "group_face2"] and crops[1][1].face is big_right
    assert crops[0][1].image.shape == (256, 256, 3)
    assert find_faces(photo, "empty", 256, detector=GivenFaces([])).faces == []


def test_huge_photos_are_searched_downscaled_and_faces_come_back_full_size():
    photo = np.zeros((2000, 3000, 3), dtype=np.uint8)  # 6 MP
    detector = GivenFaces([face_of(UPRIGHT + 100)])  # as found in the small copy
    faces = detect_faces(photo, detector, max_pixels=600_000)
    assert detector.seen == [(632, 949, 3)]  # sqrt(0.6 / 6) = 1 / 3.16
    factor = 3000 / 949
    assert np.allclose(faces[0].landmarks, (UPRIGHT + 100 + 0.5) * factor - 0.5)
    result = find_faces(photo, "big", 64, detector=GivenFaces([]), max_pixels=600_000)
    assert result.notes == ["big: 3000x2000 (6.0 MP); faces looked for in a copy downscaled 3.2x "
                            "(very small faces may be missed), aligned at full resolution"]


def test_missing_align_extra_says_how_to_install(monkeypatch):
    import sys

    from freezeg.align import dlib_detector

    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib fails
    with pytest.raises(ValueError, match=r"pip install 'freezeg\[align\]'"):
        dlib_detector.DlibDetector()
