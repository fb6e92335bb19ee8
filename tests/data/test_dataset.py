"""Image datasets: any folder or zip of images, decoded once, cached, prepared, skipped files counted."""

import logging
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

import freezeg.data.dataset as dataset_module
from freezeg.cli import main
from freezeg.data import ImageDataset, open_dataset, prepare_dataset
from freezeg.data.images import fit_square, read_image

SIZE = 16


def _noise_image(seed: int, h: int = 24, w: int = 32) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.fixture()
def messy(tmp_path):
    """Nested folders, every format and mode, one truncated file, one non-image with an image suffix."""
    root = tmp_path / "messy"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    _noise_image(0).save(root / "a.png")  # RGB
    _noise_image(1).convert("P").save(root / "d.bmp")  # palette
    Image.fromarray((np.asarray(_noise_image(2).convert("L"), dtype=np.uint16) * 257)).save(root / "f.png")  # 16-bit
    _noise_image(3).convert("L").save(root / "sub" / "b.jpg")  # grayscale
    _noise_image(4).convert("CMYK").save(root / "sub" / "e.jpg")  # CMYK
    _noise_image(5).convert("RGBA").save(root / "sub" / "deeper" / "c.webp", lossless=True)  # RGBA
    good = (root / "a.png").read_bytes()
    (root / "sub" / "cut.png").write_bytes(good[: len(good) // 2])  # truncated
    (root / "notimage.jpg").write_text("this is not a JPEG")
    (root / "readme.txt").write_text("ignored: not an image suffix")
    _noise_image(6).save(root / ".hidden" / "x.png")  # ignored: hidden
    return root


USABLE = ["a.png", "d.bmp", "f.png", "sub/b.jpg", "sub/deeper/c.webp", "sub/e.jpg"]
SKIPPED = ["notimage.jpg", "sub/cut.png"]


def test_folder_of_mixed_formats_and_modes_reads_every_usable_image(messy, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="freezeg"):
        ds = open_dataset(messy, SIZE, cache_dir=tmp_path / "cache")
    assert ds.names == USABLE and len(ds) == 6
    assert ds.skipped == SKIPPED
    assert ds.images.shape == (6, SIZE, SIZE, 3) and ds.images.dtype == np.uint8
    assert np.array_equal(ds.images[0], fit_square(read_image(messy / "a.png"), SIZE))
    gray = ds.images[USABLE.index("sub/b.jpg")].astype(int)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    skipped_lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped_lines) == 1 and "2 unreadable" in skipped_lines[0] and "notimage.jpg, sub/cut.png" in skipped_lines[0]
    assert ds.source == str(messy) and ds.size == SIZE and ds.upscaled == 0


def test_items_are_float_chw_in_minus_one_to_one():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[1] = 255
    ds = ImageDataset(images)
    assert ds[0].dtype == torch.float32 and ds[0].shape == (3, 4, 4)
    assert ds[0].eq(-1).all() and ds[1].eq(1).all()
    assert ds.batch([1, 0]).shape == (2, 3, 4, 4) and ds.batch([1, 0])[0].eq(1).all()
    assert len(ds.fingerprint) == 64 and ImageDataset(images.copy()).fingerprint == ds.fingerprint


def test_second_open_reads_the_cache_without_decoding(messy, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = open_dataset(messy, SIZE, cache_dir=cache)
    calls = []
    real_decode = dataset_module.decode_image
    monkeypatch.setattr(dataset_module, "decode_image", lambda *a: calls.append(a) or real_decode(*a))
    second = open_dataset(messy, SIZE, cache_dir=cache)
    assert calls == []
    assert isinstance(second.images, np.memmap)
    assert np.array_equal(first.images, second.images)
    assert (second.fingerprint, second.skipped, second.names) == (first.fingerprint, first.skipped, first.names)
    assert len(list(cache.glob("*.npy"))) == 1

    _noise_image(9).save(messy / "new.png")  # a changed folder gets a new fingerprint and is decoded again
    third = open_dataset(messy, SIZE, cache_dir=cache)
    assert len(third) == 7 and third.fingerprint != first.fingerprint and len(calls) == 9
    open_dataset(messy, 8, cache_dir=cache)  # so does another size
    assert len(calls) == 9 + 9


def test_default_cache_is_under_runs_in_the_working_directory_not_the_data(messy, tmp_path, monkeypatch):
    before = sorted(p for p in messy.rglob("*"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("FREEZEG_CACHE_DIR", raising=False)
    open_dataset(messy, SIZE)
    assert len(list((work / "runs" / "cache").glob("messy-16px-*.npy"))) == 1
    assert sorted(p for p in messy.rglob("*")) == before
    monkeypatch.setenv("FREEZEG_CACHE_DIR", str(tmp_path / "elsewhere"))
    open_dataset(messy, SIZE)
    assert len(list((tmp_path / "elsewhere").glob("*.npy"))) == 1


def test_damaged_cache_is_decoded_again(messy, tmp_path, caplog):
    cache = tmp_path / "cache"
    expected = np.array(open_dataset(messy, SIZE, cache_dir=cache).images)
    (npy,) = cache.glob("*.npy")
    npy.write_bytes(npy.read_bytes()[:200])  # cut short (after the dataset mapping it is gone)
    with caplog.at_level(logging.WARNING, logger="freezeg"):
        assert np.array_equal(open_dataset(messy, SIZE, cache_dir=cache).images, expected)
    assert any("damaged" in r.getMessage() for r in caplog.records)


def test_zip_of_images_at_any_depth_matches_the_folder(messy, tmp_path):
    zpath = tmp_path / "messy.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(messy.rglob("*")):
            if f.is_file():
                zf.write(f, "top/" + f.relative_to(messy).as_posix())
        zf.writestr("__MACOSX/top/._a.png", b"\x00\x05\x16\x07 resource fork")
    from_zip = open_dataset(zpath, SIZE, cache_dir=tmp_path / "cache")
    from_folder = open_dataset(messy, SIZE, cache_dir=tmp_path / "cache")
    assert from_zip.names == ["top/" + n for n in USABLE]
    assert from_zip.skipped == ["top/" + n for n in SKIPPED]
    assert np.array_equal(from_zip.images, from_folder.images)


def test_damaged_zip_member_is_skipped(tmp_path):
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for i in range(3):
            img = _noise_image(i)
            path = tmp_path / f"{i}.png"
            img.save(path)
            zf.write(path, f"{i}.png")
    data = bytearray(zpath.read_bytes())
    with zipfile.ZipFile(zpath) as zf:
        info = zf.getinfo("1.png")
    data[info.header_offset + 30 + len("1.png") + 100] ^= 0xFF  # flip a byte inside the member
    zpath.write_bytes(bytes(data))
    ds = open_dataset(zpath, SIZE, cache_dir=tmp_path / "cache")
    assert ds.names == ["0.png", "2.png"] and ds.skipped == ["1.png"]


def test_small_images_are_upscaled_with_one_warning(tmp_path, caplog):
    for i, side in enumerate([8, 12, 32]):
        _noise_image(i, side, side).save(tmp_path / f"{i}.png")
    with caplog.at_level(logging.WARNING, logger="freezeg"):
        ds = open_dataset(tmp_path, SIZE, cache_dir=tmp_path.parent / "cache_up")
    assert ds.upscaled == 2 and ds.images.shape == (3, SIZE, SIZE, 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 of 3 images" in warnings[0] and "upscaled" in warnings[0]


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: None, "no such folder or zip file"),
        (lambda p: p.mkdir(), "no images found"),
        (lambda p: p.write_text("hello"), "not a folder or a .zip"),
        (lambda p: (p.mkdir(), (p / "x.png").write_text("no"), (p / "y.jpg").write_bytes(b"\xff\xd8\xff")), "no usable images"),
    ],
    ids=["missing", "empty", "not-a-folder", "all-corrupt"],
)
def test_unusable_paths_raise_a_value_error_naming_the_path(tmp_path, make, match):
    path = tmp_path / "data"
    make(path)
    with pytest.raises(ValueError, match=match) as e:
        open_dataset(path, SIZE, cache_dir=tmp_path / "cache")
    assert str(path) in str(e.value) and len(str(e.value).splitlines()) == 1
    assert not list((tmp_path / "cache").glob("*.npy")) if (tmp_path / "cache").exists() else True


def test_xflip_mirrors_about_half_the_items_reproducibly_under_a_seed():
    image = np.zeros((1, 4, 4, 3), np.uint8)
    image[0, :, 0] = 255  # a bright left column
    ds = ImageDataset(image, xflip=True)
    torch.manual_seed(0)
    left = [bool(ds[0][0, 0, 0] > 0) for _ in range(200)]
    assert 60 < sum(left) < 140
    for item in (ds[0] for _ in range(20)):
        assert torch.equal(item, ImageDataset(image)[0]) or torch.equal(item, ImageDataset(image)[0].flip(2))
    torch.manual_seed(0)
    assert [bool(ds[0][0, 0, 0] > 0) for _ in range(200)] == left
    torch.manual_seed(1)
    flipped = ds.batch(np.zeros(64, dtype=np.int64))[:, 0, 0, 0] < 0
    assert 10 < int(flipped.sum()) < 54
    assert not ImageDataset(image)[0][0, :, 3].gt(0).any()


def test_memory_mapped_dataset_pickles_as_a_file_reference(messy, tmp_path):
    ds = open_dataset(messy, SIZE, xflip=True, cache_dir=tmp_path / "cache")
    blob = pickle.dumps(ds)
    assert len(blob) < ds.images.nbytes
    back = pickle.loads(blob)
    assert np.array_equal(back.images, ds.images) and back.xflip and back.names == ds.names


def test_prepare_cli_round_trip_gives_the_same_pixels(messy, tmp_path, capsys):
    for out in (tmp_path / "prep.zip", tmp_path / "prep"):
        assert main(["prepare", str(messy), "--size", str(SIZE), "--out", str(out)]) == 0
        text = capsys.readouterr().out
        assert "prepared 6 images at 16px" in text and "skipped 2 unreadable files: notimage.jpg, sub/cut.png" in text
        prepared = open_dataset(out, SIZE, cache_dir=tmp_path / "cache")
        direct = open_dataset(messy, SIZE, cache_dir=tmp_path / "cache")
        assert isinstance(prepared.images, np.memmap)
        assert np.array_equal(prepared.images, direct.images)
        assert (prepared.names, prepared.skipped, prepared.fingerprint) == (direct.names, direct.skipped, direct.fingerprint)
    assert sorted(p.name for p in (tmp_path / "prep" / "images").iterdir())[-1] == "000005.png"
    assert np.array_equal(read_image(tmp_path / "prep" / "images" / "000003.png"), direct.images[3])
    with zipfile.ZipFile(tmp_path / "prep.zip") as zf:
        png = zf.read("images/000003.png")
    assert np.array_equal(np.asarray(Image.open(__import__("io").BytesIO(png))), direct.images[3])


def test_prepared_dataset_opens_without_decoding_or_caching(messy, tmp_path, monkeypatch):
    prepare_dataset(messy, SIZE, tmp_path / "p.zip")
    monkeypatch.setattr(dataset_module, "decode_image", lambda *a: pytest.fail("decoded"))
    ds = open_dataset(tmp_path / "p.zip", SIZE, cache_dir=tmp_path / "cache")
    assert len(ds) == 6 and not (tmp_path / "cache").exists()


def test_prepared_dataset_opened_at_another_size_is_resized(messy, tmp_path):
    prepare_dataset(messy, SIZE, tmp_path / "p")
    ds = open_dataset(tmp_path / "p", 8, cache_dir=tmp_path / "cache")
    assert ds.images.shape == (6, 8, 8, 3) and ds.names[0] == "images/000000.png"


def test_prepare_refuses_to_overwrite_without_the_flag(messy, tmp_path, capsys):
    out = tmp_path / "p.zip"
    out.write_bytes(b"mine")
    assert main(["prepare", str(messy), "--size", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert out.read_bytes() == b"mine" and "--overwrite" in err and len(err.splitlines()) == 1
    assert main(["prepare", str(messy), "--size", "8", "--out", str(out), "--overwrite"]) == 0
    assert len(open_dataset(out, 8)) == 6
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_prepare_replaces_only_a_prepared_folder(messy, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "holiday.png").write_bytes(b"precious")
    with pytest.raises(ValueError, match="not a prepared dataset"):
        prepare_dataset(messy, 8, mine, overwrite=True)
    assert (mine / "holiday.png").read_bytes() == b"precious"
    prepare_dataset(messy, 8, tmp_path / "p")
    prepare_dataset(messy, SIZE, tmp_path / "p", overwrite=True)
    assert open_dataset(tmp_path / "p", SIZE).size == SIZE
    with pytest.raises(ValueError, match="inside the source"):
        prepare_dataset(messy, 8, messy / "prepared")


def test_prepare_of_unusable_source_is_a_one_line_cli_error(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.png").write_text("no")
    assert main(["prepare", str(tmp_path / "src"), "--size", "8", "--out", str(tmp_path / "o.zip")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("freezeg: error:") and "no usable images" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.zip").exists() and [p.name for p in tmp_path.iterdir()] == ["src"]
