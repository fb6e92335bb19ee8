"""Synthetic demo domains: one object, the same geometry, rendered in different styles.

A `Scene` holds what FreezeG's frozen coarse layers should keep: where the object is, how
big, its shape (ellipse to rounded box) and pose (rotation), plus a hue. Each domain renders
a scene differently; that rendering is what the trained fine layers must learn:

- blobs:   a glossy, shaded 3-D-looking object with a soft cast shadow on a gradient backdrop
- cartoon: the same outline in a flat colour from a 6-colour palette, two-tone cel shading,
           a dark ink outline, on plain cream paper
- sketch:  a graphite outline with diagonal hatching on the shaded side, on white paper
- star:    the cartoon style, but the object is a five-pointed star (same centre, size, pose
           and colour; its points reach 1.2x the blob's radius, its valleys 0.5x): a large
           change of silhouette, the synthetic counterpart of face2dog or cat2flower, where
           frozen coarse layers are expected to hold the translation back

Scene i of a seed is the same in every domain, so `render_pairs` gives ground-truth
translations (for measuring structure preservation). Training sets of two domains should use
different seeds, so that the GAN never sees paired data. Everything is numpy, deterministic,
and anti-aliased by supersampling, so 32px and 64px images stay clean.
"""

from __future__ import annotations

import colorsys
import os
from dataclasses import dataclass

import numpy as np

from ..models.shipped import shipped_path
from .dataset import ImageDataset, save_dataset

DOMAINS = ("blobs", "cartoon", "sketch", "star")
# The demo's source generator, shipped with the package: a 32px model trained on 2000 blobs by
# `make demo RETRAIN=1` (g_ema and D; its provenance and reference renderings are inside).
DEMO_SOURCE = shipped_path("blobs32")

LIGHT = np.array([-0.55, -0.65, 0.75]) / np.linalg.norm([-0.55, -0.65, 0.75])  # from the upper left (y down)
HALFWAY = (LIGHT + [0, 0, 1]) / np.linalg.norm(LIGHT + [0, 0, 1])  # Blinn half vector for a viewer at +z
PALETTE = np.array(  # cartoon colours: red, orange, yellow, green, blue, purple
    [[0.90, 0.22, 0.20], [0.98, 0.62, 0.12], [0.96, 0.86, 0.22], [0.30, 0.72, 0.30], [0.20, 0.45, 0.85], [0.58, 0.32, 0.75]]
)
PALETTE_HUES = np.array([colorsys.rgb_to_hsv(*c)[0] for c in PALETTE])
CREAM = np.array([0.97, 0.93, 0.83])
PAPER = np.array([0.98, 0.97, 0.94])
INK = np.array([0.10, 0.08, 0.12])
GRAPHITE = np.array([0.28, 0.28, 0.31])
STAR_POINTS = 5
STAR_BASE, STAR_DEPTH = 0.85, 0.35  # star radius / blob radius = BASE + DEPTH cos(POINTS angle): 0.5 to 1.2


@dataclass(frozen=True)
class Scene:
    """One object. Lengths are fractions of the image side; (0, 0) is the top-left corner."""

    cx: float  # centre, x (to the right)
    cy: float  # centre, y (down)
    rx: float  # half-extent along the object's first axis
    ry: float  # half-extent along its second axis
    angle: float  # rotation of the object's axes, radians
    squareness: float  # superellipse exponent: 2 is an ellipse, 5 a rounded box
    hue: float  # object colour hue in [0, 1)
    backdrop: float  # backdrop hue in [0, 1) (used by blobs)


def sample_scene(rng: np.random.Generator) -> Scene:
    """A random scene whose object always lies inside the frame."""
    return Scene(
        cx=float(rng.uniform(0.33, 0.67)),
        cy=float(rng.uniform(0.33, 0.67)),
        rx=float(rng.uniform(0.15, 0.3)),
        ry=float(rng.uniform(0.15, 0.3)),
        angle=float(rng.uniform(0.0, np.pi)),
        squareness=2.0 if rng.random() < 0.5 else float(rng.uniform(2.5, 5.0)),
        hue=float(rng.random()),
        backdrop=float(rng.random()),
    )


def scene(seed: int, index: int) -> Scene:
    """Scene `index` of `seed`: independent of how many scenes are drawn, the same in every domain."""
    return sample_scene(np.random.default_rng([seed, index]))


@dataclass
class _Fields:
    """Per-pixel quantities of a scene on a supersampled grid (arrays [n, n])."""

    inside: np.ndarray  # bool, pixel centre inside the object
    distance: np.ndarray  # signed distance to the outline in output pixels (negative inside)
    shade: np.ndarray  # Lambertian light in [0, 1] on the object's bulging surface
    gloss: np.ndarray  # specular highlight in [0, 1]
    shadow: np.ndarray  # soft cast-shadow strength in [0, 1]
    x: np.ndarray  # pixel centre, in output pixels
    y: np.ndarray


def _supersampling(size: int) -> int:
    return max(1, min(4, 512 // size))


def _object_axes(s: Scene, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets from the centre in the object's own axes, in units of its half-extents."""
    cos, sin = np.cos(s.angle), np.sin(s.angle)
    return (cos * dx + sin * dy) / s.rx, (-sin * dx + cos * dy) / s.ry


def _superellipse(s: Scene, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, tuple | None]:
    """The blob's "radius" at offsets (dx, dy) (< 1 inside, 1 on the outline), and the
    in-plane part of its bulging surface's normal: the offsets in its axes, rotated back."""
    u, v = _object_axes(s, dx, dy)
    r = (np.abs(u) ** s.squareness + np.abs(v) ** s.squareness) ** (1.0 / s.squareness)
    cos, sin = np.cos(s.angle), np.sin(s.angle)
    return r, (cos * u - sin * v, sin * u + cos * v)


def _star(s: Scene, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, tuple | None]:
    """A five-pointed star's "radius" in the blob's axes (< 1 inside, 1 on the outline);
    its normal comes from the radius's gradient (None)."""
    u, v = _object_axes(s, dx, dy)
    return np.hypot(u, v) / (STAR_BASE + STAR_DEPTH * np.cos(STAR_POINTS * np.arctan2(v, u))), None


def _fields(s: Scene, size: int, shape=_superellipse) -> _Fields:
    ss = _supersampling(size)
    n = size * ss
    coords = (np.arange(n) + 0.5) / n
    y, x = np.meshgrid(coords, coords, indexing="ij")
    r, in_plane = shape(s, x - s.cx, y - s.cy)
    gy, gx = np.gradient(r)  # per supersampled pixel
    distance = (r - 1.0) / np.maximum(np.hypot(gx, gy), 1e-6) / ss
    # A bulging surface of height sqrt(1 - r^2); its normal, in image axes.
    z = np.sqrt(np.clip(1.0 - r**2, 0.0, 1.0))
    if in_plane is None:  # along (r grad r, z), grad r in units of the object's mean half-extent
        scale = n * (s.rx + s.ry) / 2
        in_plane = (r * gx * scale, r * gy * scale)
    nx, ny = in_plane
    norm = np.sqrt(nx**2 + ny**2 + z**2) + 1e-9
    normal = np.stack([nx, ny, z], -1) / norm[..., None]
    shade = np.clip(normal @ LIGHT, 0.0, 1.0)
    gloss = np.clip(normal @ HALFWAY, 0.0, 1.0) ** 30
    r_shadow, _ = shape(s, x - s.cx - 0.05, y - s.cy - 0.07)
    shadow = np.clip((1.35 - r_shadow) / 0.5, 0.0, 1.0) ** 2
    return _Fields(r < 1.0, distance, shade, gloss, shadow, x * size, y * size)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def _blobs(s: Scene, f: _Fields, size: int) -> np.ndarray:
    t = (f.y / size)[..., None]
    top, bottom = _hsv(s.backdrop, 0.22, 0.95), _hsv(s.backdrop, 0.35, 0.62)
    backdrop = (1 - t) * top + t * bottom
    backdrop = backdrop * (1.0 - 0.45 * f.shadow[..., None])
    base = _hsv(s.hue, 0.75, 0.92)
    body = base * (0.2 + 0.8 * f.shade[..., None]) + 0.6 * f.gloss[..., None]
    return np.where(f.inside[..., None], body, backdrop)


def _outline(f: _Fields, width: float) -> np.ndarray:
    return (np.abs(f.distance) < width / 2)[..., None]


def _cartoon(s: Scene, f: _Fields, size: int) -> np.ndarray:
    gap = np.abs(PALETTE_HUES - s.hue)
    colour = PALETTE[np.argmin(np.minimum(gap, 1.0 - gap))]  # the palette colour nearest in hue
    cel = np.where((f.shade < 0.3)[..., None], 0.72 * colour, colour)  # two tones, hard edge
    img = np.where(f.inside[..., None], cel, CREAM)
    return np.where(_outline(f, max(1.4, size / 20)), INK, img)


def _sketch(s: Scene, f: _Fields, size: int) -> np.ndarray:
    period = max(3.0, size / 10)
    lines = np.mod(f.x + f.y, period) < 0.4 * period  # 45-degree strokes
    hatched = f.inside & (f.shade < 0.55) & lines
    img = np.where(hatched[..., None], 0.5 * PAPER + 0.5 * GRAPHITE, PAPER)
    return np.where(_outline(f, max(1.0, size / 28)), GRAPHITE, img)


_RENDERERS = {"blobs": _blobs, "cartoon": _cartoon, "sketch": _sketch, "star": _cartoon}
_SHAPES = {"star": _star}  # the object's silhouette where it is not the blob's


def _check_domain(domain: str) -> None:
    if domain not in _RENDERERS:
        raise ValueError(f"unknown synthetic domain {domain!r} (choose from {', '.join(DOMAINS)})")


def _to_uint8(img: np.ndarray, size: int) -> np.ndarray:
    ss = img.shape[0] // size
    img = img.reshape(size, ss, size, ss, 3).mean(axis=(1, 3))  # box-filter the supersamples
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render(s: Scene, domain: str, size: int) -> np.ndarray:
    """Scene `s` in `domain` as uint8 [size, size, 3] RGB."""
    _check_domain(domain)
    fields = _fields(s, size, _SHAPES.get(domain, _superellipse))
    return _to_uint8(_RENDERERS[domain](s, fields, size), size)


def object_mask(s: Scene, size: int) -> np.ndarray:
    """Fraction of each pixel the object covers, float32 [size, size] in [0, 1] (the geometry alone)."""
    f = _fields(s, size)
    ss = _supersampling(size)
    return f.inside.reshape(size, ss, size, ss).mean(axis=(1, 3)).astype(np.float32)


def make_images(domain: str, n: int, size: int, seed: int = 0) -> np.ndarray:
    """Scenes 0..n-1 of `seed` in `domain`: uint8 [n, size, size, 3]."""
    _check_domain(domain)
    _check_counts(n, size)
    return np.stack([render(scene(seed, i), domain, size) for i in range(n)])


def render_pairs(n: int, size: int, seed: int = 0, domains: tuple[str, ...] = ("blobs", "cartoon")) -> tuple[np.ndarray, ...]:
    """Ground-truth translations: scenes 0..n-1 of `seed` rendered in each of `domains` (one array per domain)."""
    return tuple(make_images(d, n, size, seed) for d in domains)


def _check_counts(n: int, size: int) -> None:
    if n < 1:
        raise ValueError(f"number of images must be at least 1, got {n}")
    if size < 8:
        raise ValueError(f"synthetic images must be at least 8px, got {size}")


def write_domain(
    domain: str,  # one of DOMAINS
    n: int,  # number of images
    size: int,  # side in pixels
    out: str | os.PathLike,  # prepared dataset to write: a folder, or a path ending in .zip
    seed: int = 0,  # which scenes (scene i of a seed is the same in every domain)
    overwrite: bool = False,  # replace an existing output
) -> ImageDataset:
    """Render `n` scenes of `domain` and write them as a prepared dataset; returns it opened."""
    images = make_images(domain, n, size, seed)
    names = [f"{domain}-{seed}-{i:06d}" for i in range(n)]
    return save_dataset(images, out, source=f"synthetic {domain} seed {seed}", names=names, overwrite=overwrite)
