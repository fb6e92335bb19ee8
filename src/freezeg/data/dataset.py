"""Training images as one decoded uint8 array, from a folder, a zip or a prepared dataset.

Images are decoded once. Opening a folder or zip lists its images (by suffix, any depth),
fingerprints that list (names, byte sizes, modification times or CRCs) together with the
target size, and looks for a cache file with that fingerprint; only when there is none are
the images decoded (read -> RGB -> centre crop -> resize) into a .npy array, which later
opens memory-map. A dataset written by `prepare_dataset` (`freezeg prepare`) carries its
array inside, so opening it at its own size decodes nothing and writes no cache.

Where the cache lives: `cache_dir` when given, else $FREEZEG_CACHE_DIR, else runs/cache/
under the current directory. Never beside the package or inside the user's data folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..utils import faults
from ..utils.files import naming_disk_errors, normal_permissions, write_json
from .images import IMAGE_SUFFIXES, ImageReadError, decode_image, fit_square, is_image_file, list_images

log = logging.getLogger("freezeg")

FORMAT = "freezeg-dataset"  # the "format" field of a prepared dataset's description
CACHE_VERSION = 1  # part of every fingerprint: bump when decoding or resizing changes
MARKER = "freezeg-dataset.json"  # description file of a prepared dataset
ARRAY = "images.npy"  # the decoded uint8 [N, size, size, 3] array of a prepared dataset
IMAGES = "images"  # folder of a prepared dataset's PNGs
CACHE_ENV = "FREEZEG_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("runs") / "cache"
SHOWN_NAMES = 3  # file names quoted in a skipped/upscaled message
CHUNK = 64  # images read per step (bytes are read in order, decoded in threads)


class ImageDataset(torch.utils.data.Dataset):
    """Decoded training images; item i is a float32 [3, size, size] tensor in [-1, 1].

    `images` is the uint8 [N, size, size, 3] array itself (memory-mapped when it came from
    a file) for batch sampling without a DataLoader; `batch(indices)` does that sampling.
    """

    def __init__(
        self,
        images: np.ndarray,  # uint8 [N, size, size, 3] RGB
        xflip: bool = False,  # mirror each item left-right with probability 0.5
        source: str = "",  # where the images came from (folder, zip or prepared dataset)
        fingerprint: str | None = None,  # identifies the data; default: a hash of the pixels
        names: Sequence[str] | None = None,  # file name of each image, relative to source
        skipped: Sequence[str] = (),  # files that could not be decoded
        upscaled: int = 0,  # how many images were smaller than size and were upscaled
    ):
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2]:
            raise ValueError(f"expected uint8 images [N, size, size, 3], got {images.dtype} {images.shape}")
        if len(images) == 0:
            raise ValueError(f"{source or 'dataset'}: no images")
        if names is not None and len(names) != len(images):
            raise ValueError(f"{len(names)} names for {len(images)} images")
        self._images = images
        self.size = int(images.shape[1])
        self.xflip = bool(xflip)
        self.source = str(source)
        self.fingerprint = fingerprint or hashlib.sha256(np.ascontiguousarray(images).data).hexdigest()
        self.names = list(names) if names is not None else [f"{i:06d}" for i in range(len(images))]
        self.skipped = list(skipped)
        self.upscaled = int(upscaled)

    @property
    def images(self) -> np.ndarray:
        """The uint8 [N, size, size, 3] array (read-only when memory-mapped)."""
        return self._images

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int) -> torch.Tensor:
        x = torch.from_numpy(np.array(self._images[index])).permute(2, 0, 1).float() / 127.5 - 1.0
        # The coin is drawn from torch's CPU generator, so torch.manual_seed makes runs repeat.
        if self.xflip and bool(torch.rand(()) < 0.5):
            x = x.flip(2)
        return x

    def batch(self, indices: Sequence[int] | np.ndarray | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """Items `indices` as one float32 [B, 3, size, size] tensor on `device` (x-flipped like items)."""
        idx = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices, dtype=np.int64)
        x = torch.from_numpy(self._images[idx]).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        if self.xflip:
            flip = (torch.rand(len(idx)) < 0.5).to(x.device)
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return x

    def __getstate__(self) -> dict:
        # DataLoader workers started by "spawn" pickle the dataset: send the file, not the pixels.
        state = self.__dict__.copy()
        if isinstance(self._images, np.memmap) and self._images.filename:
            a = self._images
            state["_images"] = ("memmap", a.filename, a.offset, a.shape)
        return state

    def __setstate__(self, state: dict) -> None:
        images = state["_images"]
        if isinstance(images, tuple) and images[0] == "memmap":
            _, filename, offset, shape = images
            state["_images"] = np.memmap(filename, dtype=np.uint8, mode="r", offset=offset, shape=shape)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"ImageDataset({len(self)} images, {self.size}px, xflip={self.xflip}, source={self.source!r})"


# ----------------------------------------------------------------------------------------
# Sources: a folder or a zip of image files.


@dataclass
class _Source:
    path: Path
    names: list[str]  # image files, relative, sorted
    stats: list[tuple]  # per name what the fingerprint sees: (bytes, mtime_ns) or (bytes, crc)
    read: Callable[[str], bytes]  # the raw bytes of one name
    close: Callable[[], None] = field(default=lambda: None)

    def fingerprint(self, size: int) -> str:
        key = json.dumps([CACHE_VERSION, int(size), [[n, *s] for n, s in zip(self.names, self.stats)]])
        return hashlib.sha256(key.encode()).hexdigest()


def _zip_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Image members at any depth; hidden files and macOS resource forks (__MACOSX/) skipped."""
    members = []
    for info in zf.infolist():
        parts = info.filename.split("/")
        if info.is_dir() or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        if is_image_file(info.filename):
            members.append(info)
    return sorted(members, key=lambda i: i.filename)


def _open_source(path: Path) -> _Source:
    if path.is_dir():
        files = list_images(path)
        stats = []
        for f in files:
            st = f.stat()
            stats.append((st.st_size, st.st_mtime_ns))
        return _Source(path, [f.relative_to(path).as_posix() for f in files], stats, lambda n: (path / n).read_bytes())
    zf = _open_zip(path)
    members = _zip_members(zf)
    return _Source(path, [m.filename for m in members], [(m.file_size, m.CRC) for m in members], zf.read, zf.close)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path}: cannot read zip file ({e})") from None


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ValueError(f"{path}: no such folder or zip file")
    if not path.is_dir() and not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a folder or a .zip of images")


# ----------------------------------------------------------------------------------------
# Decoding a source once into an array file.


@dataclass
class _Decoded:
    names: list[str]  # images kept, in array order
    skipped: list[str]  # names that could not be decoded
    first_error: str  # the reason for the first skipped file
    upscaled: list[str]  # names of images smaller than the size


def _decode_one(name: str, data: bytes | Exception, size: int) -> tuple[np.ndarray | None, bool, str]:
    """(image or None, was upscaled, error message)."""
    if isinstance(data, Exception):
        return None, False, f"{name}: cannot read file ({data})"
    try:
        image = decode_image(data, name)
    except ImageReadError as e:
        return None, False, str(e)
    return fit_square(image, size), min(image.shape[:2]) < size, ""


def _read_chunks(source: _Source) -> Iterator[list[tuple[str, bytes | Exception]]]:
    for start in range(0, len(source.names), CHUNK):
        chunk = []
        for name in source.names[start : start + CHUNK]:
            try:
                chunk.append((name, source.read(name)))
            except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as e:  # a damaged file or zip member
                chunk.append((name, e))
        yield chunk


def _decode_to_file(source: _Source, size: int, array_path: Path) -> _Decoded:
    """Decode every image of `source` at `size` into the .npy file `array_path` (rows of usable images)."""
    if not source.names:
        raise ValueError(f"{source.path}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} files, in subfolders too)")
    array = np.lib.format.open_memmap(array_path, mode="w+", dtype=np.uint8, shape=(len(source.names), size, size, 3))
    kept, skipped, upscaled, first_error = [], [], [], ""
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(source.names), desc="decoding images", unit="img", disable=None) as bar:
        for chunk in _read_chunks(source):
            results = pool.map(lambda item: _decode_one(item[0], item[1], size), chunk)
            for (name, _), (image, was_small, error) in zip(chunk, results):
                if image is None:
                    skipped.append(name)
                    first_error = first_error or error
                else:
                    array[len(kept)] = image
                    kept.append(name)
                    if was_small:
                        upscaled.append(name)
            bar.update(len(chunk))
    array.flush()
    del array
    if not kept:
        array_path.unlink()
        raise ValueError(
            f"{source.path}: no usable images: all {len(skipped)} image files failed to decode (first: {first_error})"
        )
    if len(kept) < len(source.names):  # drop the unused rows reserved for skipped files
        _truncate_rows(array_path, len(kept))
    return _Decoded(kept, skipped, first_error, upscaled)


def _truncate_rows(array_path: Path, rows: int) -> None:
    full = np.load(array_path, mmap_mode="r")
    tmp = array_path.with_name(array_path.name + ".part")
    part = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(rows, *full.shape[1:]))
    for start in range(0, rows, 1024):
        part[start : start + 1024] = full[start : min(rows, start + 1024)]
    part.flush()
    del part, full
    os.replace(tmp, array_path)


def _description(source: _Source, size: int, decoded: _Decoded) -> dict:
    return {
        "format": FORMAT,
        "version": CACHE_VERSION,
        "size": size,
        "count": len(decoded.names),
        "fingerprint": source.fingerprint(size),
        "source": str(source.path),
        "names": decoded.names,
        "skipped": decoded.skipped,
        "first_error": decoded.first_error,
        "upscaled": len(decoded.upscaled),
        "upscaled_examples": decoded.upscaled[:SHOWN_NAMES],
    }


def _read_description(text: str | bytes, where: str) -> dict:
    try:
        meta = json.loads(text)
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}")
        meta["size"], meta["count"] = int(meta["size"]), int(meta["count"])
        if len(meta["names"]) != meta["count"]:
            raise ValueError(f"{len(meta['names'])} names for {meta['count']} images")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{where}: not a valid freezeg dataset description ({e})") from None
    return meta


def _dataset_from(images: np.ndarray, meta: dict, xflip: bool, where: str) -> ImageDataset:
    expected = (meta["count"], meta["size"], meta["size"], 3)
    if images.dtype != np.uint8 or images.shape != expected:
        raise ValueError(f"{where}: array is {images.dtype} {images.shape}, its description says uint8 {expected}")
    return ImageDataset(
        images,
        xflip=xflip,
        source=meta["source"],
        fingerprint=meta["fingerprint"],
        names=meta["names"],
        skipped=meta["skipped"],
        upscaled=meta["upscaled"],
    )


# ----------------------------------------------------------------------------------------
# Prepared datasets (folder or zip holding MARKER, ARRAY and IMAGES/*.png).


def _prepared_description(path: Path) -> dict | None:
    """The description of a prepared dataset at `path`, or None when `path` is not one."""
    if path.is_dir():
        marker = path / MARKER
        return _read_description(marker.read_text(), str(marker)) if marker.is_file() else None
    with _open_zip(path) as zf:
        if MARKER not in zf.namelist():
            return None
        return _read_description(zf.read(MARKER), f"{path}:{MARKER}")


def _zip_npy(path: Path, member: str) -> np.ndarray:
    """Memory-map a .npy stored uncompressed inside a zip; a compressed one is read into memory."""
    with _open_zip(path) as zf:
        try:
            info = zf.getinfo(member)
        except KeyError:
            raise ValueError(f"{path}: prepared dataset without {member}") from None
        if info.compress_type != zipfile.ZIP_STORED:
            with zf.open(info) as f:
                return np.load(io.BytesIO(f.read()))
    with open(path, "rb") as f:
        # Local file header: 30 fixed bytes, then the name and an extra field of given lengths.
        f.seek(info.header_offset)
        header = f.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: damaged zip entry {member}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if fortran or dtype != np.uint8:
        raise ValueError(f"{path}: {member} must be a C-ordered uint8 array, got {dtype}")
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=shape)


def _open_prepared(path: Path, meta: dict, xflip: bool) -> ImageDataset:
    if path.is_dir():
        try:
            images = np.load(path / ARRAY, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise ValueError(f"{path / ARRAY}: cannot read the prepared array ({e})") from None
        return _dataset_from(images, meta, xflip, str(path / ARRAY))
    return _dataset_from(_zip_npy(path, ARRAY), meta, xflip, f"{path}:{ARRAY}")


# ----------------------------------------------------------------------------------------
# Public entry points.


def default_cache_dir() -> Path:
    """$FREEZEG_CACHE_DIR, else runs/cache under the current directory."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)


def open_dataset(
    path: str | os.PathLike,  # folder (recursive), .zip of images, or a prepared dataset
    size: int,  # side of the square training images, in pixels
    xflip: bool = False,  # mirror items left-right with probability 0.5
    cache_dir: str | os.PathLike | None = None,  # where decoded arrays are kept (default_cache_dir())
) -> ImageDataset:
    """Open training images at `size` x `size`, decoding them only if no cache holds them yet.

    Unreadable files are skipped (listed in `.skipped`, logged with the first names); images
    smaller than `size` are upscaled (counted in `.upscaled`, logged as one warning). Raises
    ValueError naming `path` when it is missing, not a folder or zip, or has no usable image.
    """
    path = Path(path)
    size = _check_size(size)
    _check_path(path)
    meta = _prepared_description(path)
    if meta is not None and meta["size"] == size:
        dataset, where = _open_prepared(path, meta, xflip), "prepared"
    else:
        if meta is not None:
            log.info("%s was prepared at %dpx; resizing its images to %dpx", path, meta["size"], size)
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        meta, array_path, where = _cached_array(path, size, cache)
        dataset = _dataset_from(np.load(array_path, mmap_mode="r"), meta, xflip, str(array_path))
    _report(dataset, meta, path, where)
    return dataset


def _check_size(size: int) -> int:
    if int(size) != size or size < 1:
        raise ValueError(f"image size must be a positive number of pixels, got {size}")
    return int(size)


def _cached_array(path: Path, size: int, cache_dir: Path) -> tuple[dict, Path, str]:
    """(description, .npy path, how it was found) of `path` at `size`, decoding only on a cache miss."""
    source = _open_source(path)
    try:
        fingerprint = source.fingerprint(size)
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.resolve().stem) or "data"
        base = cache_dir / f"{stem}-{size}px-{fingerprint[:16]}"
        array_path, meta_path = base.with_suffix(".npy"), base.with_suffix(".json")
        meta = _valid_cache(array_path, meta_path, fingerprint)
        if meta is not None:
            return meta, array_path, f"cache {array_path}"
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{base.name}.", suffix=".npy", dir=cache_dir)
            os.close(fd)
        except OSError as e:
            raise OSError(f"{cache_dir}: cannot write the dataset cache here ({e.strerror or e}); choose another cache folder") from None
        try:
            decoded = _decode_to_file(source, size, Path(tmp))
            os.replace(tmp, array_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        meta = _description(source, size, decoded)
        write_json(meta_path, meta)  # written last: its presence marks a complete cache entry
        return meta, array_path, f"decoded, cached in {array_path}"
    finally:
        source.close()


def _valid_cache(array_path: Path, meta_path: Path, fingerprint: str) -> dict | None:
    """The cache entry's description if it is complete and matches, else None (decode again)."""
    if not (meta_path.is_file() and array_path.is_file()):
        return None
    try:
        meta = _read_description(meta_path.read_text(), str(meta_path))
        header = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError):
        log.warning("dataset cache %s is damaged; decoding again", array_path)
        return None
    ok = meta["fingerprint"] == fingerprint and header.shape == (meta["count"], meta["size"], meta["size"], 3)
    return meta if ok else None


def _names_line(names: Sequence[str], total: int | None = None) -> str:
    """The first few names, with "..." when there are more than shown."""
    total = len(names) if total is None else total
    return ", ".join(names[:SHOWN_NAMES]) + (", ..." if total > SHOWN_NAMES else "")


def _report(dataset: ImageDataset, meta: dict, path: Path, where: str) -> None:
    log.info("dataset %s: %d images at %dpx (%s)", path, len(dataset), dataset.size, where)
    n = len(dataset.skipped)
    if n:
        log.warning(
            "dataset %s: skipped %d unreadable image file%s: %s (first error: %s)",
            path, n, "s" * (n != 1), _names_line(dataset.skipped), meta.get("first_error", ""),
        )
    if dataset.upscaled:
        log.warning(
            "dataset %s: %d of %d images were smaller than %dpx and were upscaled (e.g. %s)",
            path, dataset.upscaled, len(dataset), dataset.size, _names_line(meta.get("upscaled_examples", []), dataset.upscaled),
        )


def prepare_dataset(
    source: str | os.PathLike,  # folder, zip or prepared dataset to read
    size: int,  # side of the square output images, in pixels
    out: str | os.PathLike,  # output: a path ending in .zip, or a folder
    overwrite: bool = False,  # replace an existing output (only a file or a prepared dataset)
) -> ImageDataset:
    """Decode `source` at `size` and write it as a prepared dataset; returns it opened from `out`.

    The output holds images/NNNNNN.png (the resized RGB images), images.npy (the same pixels
    as one uint8 [N, size, size, 3] array, so training decodes nothing) and freezeg-dataset.json.
    It is written under a temporary name and renamed into place.
    """
    source, out = Path(source), Path(out)
    size = _check_size(size)
    _check_path(source)
    _check_prepare_output(out, overwrite, source)

    def fill(work: Path) -> dict:
        src = _open_source(source)
        try:
            return _description(src, size, _decode_to_file(src, size, work / ARRAY))
        finally:
            src.close()

    return _write_prepared(out, fill)


def save_dataset(
    images: np.ndarray,  # uint8 [N, size, size, 3] RGB
    out: str | os.PathLike,  # output: a path ending in .zip, or a folder
    source: str,  # what made the images, recorded in the description
    names: Sequence[str] | None = None,  # a name per image (default: its index)
    overwrite: bool = False,  # replace an existing output (only a file or a prepared dataset)
) -> ImageDataset:
    """Write an image array as a prepared dataset (as `prepare_dataset` does); returns it opened."""
    dataset = ImageDataset(images, source=source, names=names)  # checks shape and dtype
    out = Path(out)
    _check_prepare_output(out, overwrite)

    def fill(work: Path) -> dict:
        np.save(work / ARRAY, images)
        return {
            "format": FORMAT, "version": CACHE_VERSION, "size": dataset.size, "count": len(dataset),
            "fingerprint": dataset.fingerprint, "source": source, "names": dataset.names,
            "skipped": [], "first_error": "", "upscaled": 0, "upscaled_examples": [],
        }

    return _write_prepared(out, fill)


def _write_prepared(out: Path, fill: Callable[[Path], dict]) -> ImageDataset:
    """Make a work folder beside `out`, let `fill` write ARRAY there and describe it, then write `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with naming_disk_errors(out):  # the half-made work folder goes; an older `out` stays
            meta = fill(work)
            if out.suffix.lower() == ".zip":
                _write_zip(work / ARRAY, meta, work / "out.zip")
                faults.check_write(out, work / "out.zip")
                os.replace(work / "out.zip", out)
            else:
                _write_pngs(work / ARRAY, work / IMAGES)
                write_json(work / MARKER, meta)
                normal_permissions(work)
                _install_folder(work, out)
                work = None
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return _open_prepared(out, _prepared_description(out), xflip=False)


def _check_prepare_output(out: Path, overwrite: bool, source: Path | None = None) -> None:
    if source is not None:
        src, dst = source.resolve(), out.resolve()
        if dst == src or (source.is_dir() and src in dst.parents):
            raise ValueError(f"{out}: the output must not be inside the source {source}")
    if not out.exists():
        return
    if not overwrite:
        raise FileExistsError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.is_dir() and not (out / MARKER).is_file() and any(out.iterdir()):
        raise ValueError(f"{out}: is a folder that is not a prepared dataset; refusing to replace it")
    if out.is_dir() != (out.suffix.lower() != ".zip"):
        raise ValueError(f"{out}: exists as a {'folder' if out.is_dir() else 'file'}; refusing to replace it with the other kind")


def _png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _encoded_pngs(array_path: Path) -> Iterator[tuple[str, bytes]]:
    """(member name, PNG bytes) of every row, encoded in threads, in order."""
    images = np.load(array_path, mmap_mode="r")
    digits = max(6, len(str(len(images) - 1)))
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        for start in tqdm(range(0, len(images), CHUNK), desc="writing images", unit="chunk", disable=None):
            chunk = np.array(images[start : start + CHUNK])
            for i, data in enumerate(pool.map(_png_bytes, chunk), start):
                yield f"{IMAGES}/{i:0{digits}d}.png", data
                faults.reached("item")


def _write_pngs(array_path: Path, folder: Path) -> None:
    folder.mkdir()
    for name, data in _encoded_pngs(array_path):
        (folder.parent / name).write_bytes(data)


def _write_zip(array_path: Path, meta: dict, zip_path: Path) -> None:
    # Stored, not deflated: PNGs are compressed already, and a stored images.npy can be memory-mapped.
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(MARKER, json.dumps(meta, indent=1))
        for name, data in _encoded_pngs(array_path):
            zf.writestr(name, data)
        images = np.load(array_path, mmap_mode="r")
        with zf.open(ARRAY, "w", force_zip64=True) as f:
            np.lib.format.write_array(f, images, allow_pickle=False)
        del images


def _install_folder(work: Path, out: Path) -> None:
    """Move the finished folder `work` to `out`, replacing an old output only after it is complete."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / "x")
    os.replace(work, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
