"""`--align faces`: photos become one input per FFHQ-aligned face; `--paste-back` returns them.

A photo named NAME becomes the inputs NAME_face0, NAME_face1, ... (left to right), each
carrying its face's landmarks in the photo. Detection runs up front for every photo (so names
are known and a rerun can skip finished faces); the crop itself is cut when its batch is
projected, from the photo at full resolution. Photos without a face, and faces too small to
be worth it, are skipped with one line each and counted.

With --paste-back, every photo whose faces were translated is written to pasted/NAME with
each translated face blended back in through the inverse warp (freezeg.align.paste_back), at
the photo's full resolution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..align import AlignedFace, Face, FaceDetector, align, ffhq_quad, find_faces, paste_back
from ..data.images import ImageReadError, read_image
from ..files import atomic_path
from .inputs import InputItem, Inputs

log = logging.getLogger("freezeg")

ALIGNED, PASTED = "aligned", "pasted"  # output folders: the crops that were projected, the pasted photos
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # pasted photos keep these formats; others become PNG
JPEG_QUALITY = 95


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


def expand_faces(
    inputs: Inputs,
    size: int,  # crop side (the model's)
    detector: FaceDetector | None = None,  # default: dlib's
    progress: bool = True,
) -> Inputs:
    """Image inputs -> one input per usable face; latent files pass through; videos are skipped."""
    out = Inputs(skipped=list(inputs.skipped))
    used = {item.name for item in inputs.items}
    photos = [item for item in inputs.items if item.kind == "image"]
    for item in inputs.items:
        if item.kind == "latent":
            out.items.append(item)
        elif item.kind == "video":
            out.skipped.append((str(item.path), "--align faces takes photos, not videos"))
    for item in tqdm(photos, desc="finding faces", unit="photo", disable=None if progress else True):
        try:
            photo = read_image(item.path)
        except ImageReadError as e:
            log.warning("skipped %s", e)
            out.skipped.append((str(item.path), str(e).split(": ", 1)[-1]))
            continue
        found = find_faces(photo, item.name, size, detector, label=str(item.path))
        for note in found.notes:
            log.warning("%s", note)
        if found.found == 0:
            log.warning("%s: no face found; skipped", item.path)
            out.skipped.append((str(item.path), "no face found"))
            continue
        for name in found.tiny:
            out.skipped.append((f"{item.path} ({name.rsplit('_', 1)[-1]})", "face too small"))
        for name, face in found.faces:
            index = int(name.rsplit("_face", 1)[-1])
            unique, n = name, 2
            while unique in used:  # another input is literally called NAME_faceK
                unique, n = f"{name}_{n}", n + 1
            used.add(unique)
            out.items.append(InputItem(unique, item.path, "image", photo_face=PhotoFace(item.name, index, face)))
    return out


def aligned_crop(item: InputItem, size: int, photos: dict[Path, np.ndarray]) -> np.ndarray:
    """The size x size FFHQ crop of a face input; `photos` caches decoded photos (faces of one photo share it)."""
    if item.path not in photos:
        photos[item.path] = read_image(item.path)
    return align(photos[item.path], item.photo_face.face, size).image


def _pasted_path(out_dir: Path, photo_name: str, photo_path: Path) -> Path:
    suffix = photo_path.suffix.lower()
    return out_dir / PASTED / f"{photo_name}{suffix if suffix in PHOTO_SUFFIXES else '.png'}"


def _save_photo(image: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        options = {"quality": JPEG_QUALITY} if path.suffix in (".jpg", ".jpeg") else {}
        Image.fromarray(image).save(tmp, **options)


def paste_faces(
    items: list[InputItem],  # the run's inputs; face inputs are pasted, others ignored
    out_dir: Path,
    translations: Path,  # folder of the translated crops, NAME.png
    fresh: set[str],  # names translated in this run: their photos are pasted again
    overwrite: bool = False,  # paste every photo again
    progress: bool = True,
) -> list[Path]:
    """Write pasted/PHOTO for every photo with translated faces; returns the files written."""
    by_photo: dict[Path, list[InputItem]] = {}
    for item in items:
        if item.photo_face is not None and (translations / f"{item.name}.png").exists():
            by_photo.setdefault(item.path, []).append(item)
    written = []
    for path, faces in tqdm(by_photo.items(), desc="pasting back", unit="photo", disable=None if progress else True):
        target = _pasted_path(out_dir, faces[0].photo_face.photo, path)
        if target.exists() and not overwrite and not any(f.name in fresh for f in faces):
            continue
        photo = read_image(path)
        result = photo
        for item in faces:
            translated = read_image(translations / f"{item.name}.png")
            # The translation stands where its aligned crop was taken: same quad, any resolution.
            placed = AlignedFace(translated, ffhq_quad(item.photo_face.face.landmarks), photo.shape[:2], item.photo_face.face)
            result = paste_back(result, placed, translated)
        _save_photo(result, target)
        written.append(target)
    return written
