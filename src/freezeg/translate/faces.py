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
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..align import AlignedFace, FaceDetector, align, ffhq_quad, find_faces, paste_back
from ..data.images import ImageReadError, read_image
from ..utils.files import atomic_path
from .inputs import InputItem, Inputs, PhotoFace

log = logging.getLogger("freezeg")

ALIGNED, PASTED = "aligned", "pasted"  # output folders: the crops that were projected, the pasted photos
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # pasted photos keep these formats; others become PNG
JPEG_QUALITY = 95


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


def photo_suffix(photo_path: str | Path) -> str:
    """The suffix a pasted photo is written with: the photo's own where it is a common photo format, else .png."""
    suffix = Path(photo_path).suffix.lower()
    return suffix if suffix in PHOTO_SUFFIXES else ".png"


def save_photo(image: np.ndarray, path: Path) -> Path:
    """Write a pasted photo atomically, in the format its suffix names (JPEG at quality 95)."""
    with atomic_path(path) as tmp:
        options = {"quality": JPEG_QUALITY} if path.suffix in (".jpg", ".jpeg") else {}
        Image.fromarray(image).save(tmp, **options)
    return path


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
        target = out_dir / PASTED / f"{faces[0].photo_face.photo}{photo_suffix(path)}"
        if target.exists() and not overwrite and not any(f.name in fresh for f in faces):
            continue
        photo = read_image(path)
        result = photo
        for item in faces:
            translated = read_image(translations / f"{item.name}.png")
            # The translation stands where its aligned crop was taken: same quad, any resolution.
            placed = AlignedFace(translated, ffhq_quad(item.photo_face.face.landmarks), photo.shape[:2], item.photo_face.face)
            result = paste_back(result, placed, translated)
        save_photo(result, target)
        written.append(target)
    return written
