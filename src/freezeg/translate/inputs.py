"""What a translation run reads: input discovery (images, latent files, videos) and image fitting."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from ..align.detect import Face
from ..align.geometry import ffhq_quad
from ..data.images import IMAGE_SUFFIXES, fit_square, read_image
from ..inversion.pivotal import TUNING_SUFFIX  # tuning files travel with the latent file beside them
from ..utils.video import VIDEO_SUFFIXES

LATENT_SUFFIXES = (".pt", ".pth")
KINDS = ("image", "latent", "video")


@dataclass(frozen=True)
class PhotoFace:
    """Which face of which photo an input is."""

    photo: str  # the photo's output name (pasted/PHOTO)
    index: int  # K in PHOTO_faceK: position among the detected faces, left to right
    face: Face  # landmarks in the photo's pixel coordinates

    def record(self, size: int) -> dict:
        """What fidelity.json keeps about the face: enough to find it in the photo again."""
        quad = ffhq_quad(self.face.landmarks)
        return {"photo": self.photo, "index": self.index, "quad": np.round(quad, 2).tolist(), "size": size}


@dataclass
class InputItem:
    """One thing to process and the name its outputs get."""

    name: str  # output file stem, unique within a run
    path: Path
    kind: str  # "image" | "latent" | "video"
    photo_face: PhotoFace | None = None  # with --align faces: which face of the photo at `path` this is


@dataclass
class Inputs:
    """What a list of paths holds: usable items, and the files skipped with the reason."""

    items: list[InputItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def of_kind(self, kind: str) -> list[InputItem]:
        return [item for item in self.items if item.kind == kind]


def input_kind(path: Path) -> str | None:
    """"image", "latent" or "video" by the file's suffix; None for anything else."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in LATENT_SUFFIXES:
        return "latent"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


_KIND_WORDS = {
    KINDS: "an image, latent file or video",
    ("image",): "an image file (by its suffix)",
}


def _files_with_names(root: Path) -> list[tuple[Path, str]]:
    """A file as itself; a folder's files recursively (hidden ones left out), named by their path below it."""
    if root.is_file():
        return [(root, root.stem)]
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    return [(p, "__".join(p.relative_to(root).with_suffix("").parts)) for p in files]


def _unique(name: str, path: Path, used: set[str]) -> str:
    unique = name
    if unique in used:
        unique = f"{name}_{path.suffix.lstrip('.').lower()}"
    n = 2
    while unique in used:
        unique, n = f"{name}_{n}", n + 1
    used.add(unique)
    return unique


def collect_inputs(paths: Iterable[str | os.PathLike], kinds: tuple[str, ...] = KINDS) -> Inputs:
    """Files and folders (searched recursively, hidden files left out) -> named input items.

    Files of another kind are skipped and listed, not fatal. Names are file stems; files inside a
    folder are named by their path below it ("a/b.png" -> "a__b"); clashes get their suffix added.
    """
    found = Inputs()
    named: list[tuple[str, Path, str]] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            found.skipped.append((str(root), "no such file or folder"))
            continue
        for path, name in _files_with_names(root):
            kind = input_kind(path)
            if path.suffix.lower() == TUNING_SUFFIX and "latent" in kinds:
                if root.is_file():  # in a folder it is used with its latent file, not on its own
                    found.skipped.append((str(path), "a pivotal-tuning file: give the latent file (.pt) beside it"))
                continue
            if kind is None or kind not in kinds:
                found.skipped.append((str(path), f"not {_KIND_WORDS[kinds]}" if kinds in _KIND_WORDS
                                      else f"not a usable input ({', '.join(kinds)})"))
                continue
            named.append((name, path, kind))
    used: set[str] = set()
    for name, path, kind in named:
        found.items.append(InputItem(_unique(name, path, used), path, kind))
    return found


def read_target(path: str | os.PathLike, size: int) -> tuple[np.ndarray, str | None]:
    """An input image as uint8 [size, size, 3] and a note when it had to be cropped or resized."""
    image = read_image(path)
    return fit_to_model(image, size, Path(path).name)


def fit_to_model(image: np.ndarray, size: int, name: str) -> tuple[np.ndarray, str | None]:
    """uint8 [H, W, 3] -> [size, size, 3] (centre crop + resize) and a note saying what was done."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image, None
    how = "centre-cropped and resized" if h != w else "resized"
    return fit_square(image, size), f"{name}: {w}x{h} {how} to {size}x{size}"
