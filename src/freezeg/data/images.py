"""Reading one image file as 8-bit RGB, whatever its mode, and fitting it to a square size.

Used by datasets (training images) and by projection/translation (user inputs) alike.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class ImageReadError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under `folder` (by suffix), sorted for a stable order; hidden files skipped."""
    folder = Path(folder)
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    files = [
        p for p in pattern
        if p.is_file() and is_image_file(p) and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: scale the full range to 8 bits instead of clipping at 255.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Composite transparency over white rather than dropping alpha (black fringes).
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, P, CMYK, YCbCr, RGB, 1


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode `path` to uint8 [H, W, 3] RGB (EXIF orientation applied); ImageReadError if it cannot."""
    return _decode(path, path)


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Like read_image, for the bytes of an image held elsewhere (a zip member); `name` is used in errors."""
    return _decode(io.BytesIO(data), name)


def _decode(source: str | os.PathLike | io.BytesIO, name: str | os.PathLike) -> np.ndarray:
    try:
        with Image.open(source) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return np.asarray(_to_rgb(img), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not a recognised image format") from None
    except Image.DecompressionBombError as e:  # not an OSError, but just as unusable
        raise ImageReadError(f"{name}: image too large to decode safely ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"{name}: cannot decode image ({e})") from None


def fit_square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square, then resize to size x size (Lanczos); uint8 [size, size, 3]."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    return np.asarray(Image.fromarray(square).resize((size, size), Image.LANCZOS), dtype=np.uint8)
