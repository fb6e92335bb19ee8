"""Paired image folders: sources and their translations (or reconstructions), matched by file name.

Pair keys are paths relative to each folder without the suffix, so `in/cat/01.jpg` pairs with
`out/cat/01.png`. A source whose size differs from its translation is fitted to it the way
translation fits inputs (data.images.fit_square: centre crop to a square, Lanczos resize),
so each pair is compared pixel for pixel on the same grid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..data.images import fit_square, list_images, read_image
from ..utils.media import from_uint8


@dataclass
class Pairs:
    """Matched image pairs of two folders, read as uint8 [H, W, 3] arrays of one size per pair."""

    names: list[str] = field(default_factory=list)  # pair keys (relative path without suffix)
    sources: list[np.ndarray] = field(default_factory=list)
    translations: list[np.ndarray] = field(default_factory=list)
    fitted: int = 0  # sources cropped/resized to their translation's size
    only_source: list[str] = field(default_factory=list)  # keys without a translation
    only_translation: list[str] = field(default_factory=list)  # keys without a source



def pixel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a - b| of two uint8 image sets of one shape, in 0-255 units (`truth L1` in sweeps and the harness)."""
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())

def _keyed(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder")
    keyed: dict[str, Path] = {}
    for path in list_images(folder):
        key = path.relative_to(folder).with_suffix("").as_posix()
        if key in keyed:
            raise ValueError(f"{folder}: {keyed[key].name} and {path.name} have the same name; pairs are matched by name")
        keyed[key] = path
    if not keyed:
        raise ValueError(f"{folder}: no images (PNG, JPEG, WebP or BMP)")
    return keyed


def fit_to(source: np.ndarray, target_shape: tuple[int, ...], name: str) -> np.ndarray:
    """`source` uint8 [H, W, 3] on the grid of an image of `target_shape` (H', W', 3)."""
    h, w = source.shape[:2]
    th, tw = target_shape[:2]
    if (h, w) == (th, tw):
        return source
    if th == tw:
        return fit_square(source, th)
    if h * tw != th * w:
        raise ValueError(f"{name}: source is {w}x{h}, its translation {tw}x{th}: different aspect ratios")
    return np.asarray(Image.fromarray(source).resize((tw, th), Image.LANCZOS), dtype=np.uint8)


def read_pairs(
    source_dir: str | os.PathLike,  # folder of source images (any depth)
    translated_dir: str | os.PathLike,  # folder of their translations, same relative names
) -> Pairs:
    """Read every pair of images the two folders share by name; ValueError when they share none."""
    source_dir, translated_dir = Path(source_dir), Path(translated_dir)
    sources, translations = _keyed(source_dir), _keyed(translated_dir)
    shared = sorted(set(sources) & set(translations))
    if not shared:
        raise ValueError(f"{source_dir} and {translated_dir}: no file names in common "
                         f"(e.g. {next(iter(sources))} vs {next(iter(translations))})")
    pairs = Pairs(only_source=sorted(set(sources) - set(translations)),
                  only_translation=sorted(set(translations) - set(sources)))
    for key in tqdm(shared, desc="reading pairs", unit="pair", disable=None):
        source, translated = read_image(sources[key]), read_image(translations[key])
        fitted = fit_to(source, translated.shape, str(sources[key]))
        pairs.fitted += fitted is not source
        pairs.names.append(key)
        pairs.sources.append(fitted)
        pairs.translations.append(translated)
    return pairs


def pair_notes(pairs: Pairs, shown: int = 3) -> list[str]:
    """What a reader of paired scores should know: fitted sources, names without a partner."""
    notes = []
    if pairs.fitted:
        notes.append(f"{pairs.fitted} source image{'s' * (pairs.fitted != 1)} centre-cropped/resized to "
                     "the translation's size")
    for label, keys in (("without a translation", pairs.only_source), ("without a source", pairs.only_translation)):
        if keys:
            more = ", ..." if len(keys) > shown else ""
            notes.append(f"{len(keys)} image{'s' * (len(keys) != 1)} {label} skipped: {', '.join(keys[:shown])}{more}")
    return notes


def paired_scores(
    score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],  # (x [B,3,H,W], y [B,3,H,W]) in [-1, 1] -> [B]
    pairs: Pairs,
    batch: int = 8,  # pairs per call
    device: torch.device | str = "cpu",  # where the inputs go (the scoring module's device)
    desc: str = "scoring pairs",  # progress bar label
) -> list[float]:
    """`score` of every pair, batching neighbouring pairs of one size."""
    out: list[float] = []
    with torch.no_grad(), tqdm(total=len(pairs.names), desc=desc, unit="pair", disable=None) as bar:
        i = 0
        while i < len(pairs.names):
            shape = pairs.translations[i].shape
            j = i
            while j < len(pairs.names) and j - i < batch and pairs.translations[j].shape == shape:
                j += 1
            x = from_uint8(np.stack(pairs.sources[i:j])).to(device)
            y = from_uint8(np.stack(pairs.translations[i:j])).to(device)
            out.extend(float(v) for v in score(x, y))
            bar.update(j - i)
            i = j
    return out


def paired_summary(names: list[str], scores: list[float]) -> dict:
    """{'pairs', 'mean', 'std', 'per_pair'} of per-pair scores (std over pairs, not of the mean)."""
    if not scores:
        raise ValueError("no pairs to summarise")
    t = torch.tensor(scores, dtype=torch.float64)
    return {"pairs": len(scores), "mean": float(t.mean()), "std": float(t.std(unbiased=False)),
            "per_pair": dict(zip(names, scores))}
