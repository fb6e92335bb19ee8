"""What a visitor may upload to `freezeg serve`, checked before anything decodes it.

Uploads come from strangers: each one is checked for size and type, an image's pixel count is
read from its header before it is decoded (a small compressed file can expand to gigabytes),
and latent files are read with torch.load(weights_only=True) as everywhere else. Every problem
is an UploadError whose message names the file as the visitor called it, not the server's
temporary path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..data.images import IMAGE_SUFFIXES, ImageReadError, read_image
from ..inversion.latents import Latent, load_latent
from ..models.networks import Generator

LATENT_SUFFIXES = (".pt", ".pth")
DEFAULT_MAX_UPLOAD_MB = 20.0
MAX_PIXELS = 25_000_000  # larger photos are refused before decoding (75 MB of RGB each)
IMAGE_KINDS = ", ".join(s.lstrip(".").upper() for s in IMAGE_SUFFIXES)


class UploadError(ValueError):
    """An upload the app cannot use; the message is shown on the page."""


@dataclass
class Upload:
    """A checked upload: an image (uint8 [H, W, 3], as uploaded) or a latent fitting the source."""

    name: str  # the visitor's file name without suffix, made safe for download names
    filename: str  # the visitor's file name, for messages
    kind: str  # "image" | "latent"
    image: np.ndarray | None = None
    latent: Latent | None = None


def safe_stem(name: str, fallback: str = "upload") -> str:
    """A file stem that is safe in download names: letters, digits, '-', '_' (at most 40)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(name).stem).strip("-_")[:40]
    return stem or fallback


def upload_kind(path: str | os.PathLike, kinds: tuple[str, ...] = ("image", "latent")) -> str:
    """"image" or "latent" by suffix; UploadError naming what is accepted otherwise."""
    suffix = Path(path).suffix.lower()
    if "image" in kinds and suffix in IMAGE_SUFFIXES:
        return "image"
    if "latent" in kinds and suffix in LATENT_SUFFIXES:
        return "latent"
    accepted = f"an image ({IMAGE_KINDS})" + (" or a latent file (.pt)" if "latent" in kinds else "")
    raise UploadError(f"{Path(path).name}: not {accepted}")


def check_size(path: str | os.PathLike, max_mb: float) -> None:
    """UploadError when the file is empty or larger than `max_mb` megabytes."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise UploadError(f"{path.name}: the upload did not arrive; try again") from None
    if size == 0:
        raise UploadError(f"{path.name}: the file is empty")
    if size > max_mb * 1e6:
        raise UploadError(f"{path.name}: {size / 1e6:.1f} MB is over this server's limit of {max_mb:g} MB")


def read_photo(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an uploaded image to uint8 [H, W, 3] after checking its pixel count in the header."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UploadError(f"{path.name}: not a readable image (expected {IMAGE_KINDS})") from None
    if w * h > max_pixels:
        raise UploadError(f"{path.name}: {w}x{h} pixels is more than this app takes ({max_pixels / 1e6:g} megapixels)")
    try:
        return read_image(path)
    except ImageReadError as e:
        raise UploadError(f"{path.name}: {str(e).split(': ', 1)[-1]}") from None


def read_upload(path: str | os.PathLike, source: Generator, max_mb: float = DEFAULT_MAX_UPLOAD_MB,
                kinds: tuple[str, ...] = ("image", "latent")) -> Upload:
    """Check and read one uploaded file: an image, or a latent file that fits `source`."""
    path = Path(path)
    kind = upload_kind(path, kinds)
    check_size(path, max_mb)
    name = safe_stem(path.name)
    if kind == "image":
        return Upload(name, path.name, kind, image=read_photo(path))
    try:
        latent = load_latent(path, source)
    except ValueError as e:  # the message starts with the server's path: name the visitor's file instead
        raise UploadError(f"{path.name}: {str(e).split(': ', 1)[-1]}") from None
    return Upload(name, path.name, kind, latent=latent)
