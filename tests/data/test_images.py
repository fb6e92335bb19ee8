"""Reading images of every common mode as RGB, and tensor conversions."""

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg.data.images import ImageReadError, fit_square, list_images, read_image
from freezeg.utils.media import from_uint8, make_grid, to_uint8


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "CMYK", "RGBA", "LA", "I;16", "1"])
def test_every_mode_reads_as_rgb(tmp_path, mode):
    base = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257))
        assert img.mode in ("I;16", "I")
    else:
        img = base.convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")  # PNG cannot hold CMYK
    img.save(path)
    arr = read_image(path)
    assert arr.dtype == np.uint8 and arr.shape == (20, 30, 3)
    if mode == "I;16":  # full 16-bit range maps to full 8-bit range, not clipped
        assert np.abs(arr[..., 0].astype(int) - np.asarray(base.convert("L"), dtype=int)).max() <= 1


def test_transparency_composites_over_white(tmp_path):
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert (read_image(tmp_path / "clear.png") == 255).all()


def test_corrupt_and_missing_files_raise_named_errors(tmp_path):
    Image.new("RGB", (64, 64)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 3])
    (tmp_path / "text.jpg").write_text("not an image")
    for name in ("cut.png", "text.jpg", "nope.png"):
        with pytest.raises(ImageReadError, match=name):
            read_image(tmp_path / name)


def test_fit_square_crops_centre_then_resizes():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 200  # the centre square is bright, the sides dark
    out = fit_square(img, 16)
    assert out.shape == (16, 16, 3) and out.min() >= 190


def test_list_images_is_recursive_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for p in ["b.png", "a.JPG", "sub/c.webp", ".hidden/d.png", "notes.txt"]:
        (tmp_path / p).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a.JPG", "b.png", "sub/c.webp"]


def test_uint8_round_trip_and_grid():
    x = torch.rand(3, 3, 8, 8) * 2 - 1
    u = to_uint8(x)
    assert u.shape == (3, 8, 8, 3)
    assert (from_uint8(u) - x).abs().max() <= 1 / 127.5
    grid = make_grid(u, ncols=2, pad=1)
    assert grid.shape == (2 * 9 + 1, 2 * 9 + 1, 3)
    assert np.array_equal(grid[1:9, 10:18], u[1])


def test_decode_image_reads_bytes_and_names_the_source_in_errors(tmp_path, monkeypatch):
    from freezeg.data.images import decode_image

    Image.new("L", (5, 3), 7).save(tmp_path / "g.png")
    assert decode_image((tmp_path / "g.png").read_bytes(), "zip:g.png").shape == (3, 5, 3)
    with pytest.raises(ImageReadError, match="zip:x.png: not a recognised image format"):
        decode_image(b"plain text", "zip:x.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2)  # anything above 2 * 2 pixels is a "bomb"
    with pytest.raises(ImageReadError, match="g.png: image too large"):
        read_image(tmp_path / "g.png")
