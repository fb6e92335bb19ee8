"""Pseudo image-to-image translation: project with the source generator, render with the target.

An input (image, latent file or video) is inverted with the *source* generator (freezeg.project)
and its latent rendered with the *fine-tuned target* generator, optionally with the later
layers' latents taken from a style source (layer mixing). Translation is only as good as the
inversion, so every output comes with its reconstruction and fidelity numbers, and poor
inversions are flagged on the summary page.

Folders are processed in batches and resumably. An output folder holds:
    latents/NAME.pt            the projection (freezeg latent file; per-frame files for videos)
    reconstructions/NAME.png   the source generator's rendering of that latent
    translated/NAME.png        the target generator's rendering (translate only)
    panels/NAME.png            source | reconstruction | translation (translate only)
    fidelity.json              one record per input (PSNR, SSIM, distance, notes), the run's
                               settings and the skipped inputs
    summary.html               the panels and a table (translate only)
A rerun skips inputs whose outputs exist and reuses saved latents; --overwrite redoes them.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .blend import check_compatible
from .data.images import IMAGE_SUFFIXES, ImageReadError, fit_square, read_image
from .files import write_text
from .interpolation import lerp
from .media import from_uint8, make_grid, save_image, to_uint8
from .networks import Generator
from .project import (
    Latent,
    LatentStats,
    ProjectionOptions,
    Projector,
    latent_stats,
    load_latent,
    save_latent,
    stack_latents,
)
from .sampling import seed_latent, seed_noise
from .video import VIDEO_SUFFIXES, read_video, write_video

log = logging.getLogger("freezeg")

LATENTS, RECONSTRUCTIONS, TRANSLATED, PANELS = "latents", "reconstructions", "translated", "panels"
FIDELITY_FILE = "fidelity.json"
SUMMARY_FILE = "summary.html"
LATENT_SUFFIXES = (".pt", ".pth")
DEFAULT_POOR_PSNR = 20.0  # dB; below this an inversion is flagged as poor
RENDER_BATCH = 8  # images per synthesis call when only rendering


# --------------------------------------------------------------------------- inputs
@dataclass
class InputItem:
    """One thing to process and the name its outputs get."""

    name: str  # output file stem, unique within a run
    path: Path
    kind: str  # "image" | "latent" | "video"


@dataclass
class Inputs:
    """What a list of paths holds: usable items, and the files skipped with the reason."""

    items: list[InputItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def of_kind(self, kind: str) -> list[InputItem]:
        return [item for item in self.items if item.kind == kind]


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in LATENT_SUFFIXES:
        return "latent"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


_KIND_WORDS = {
    ("image", "latent", "video"): "an image, latent file or video",
    ("image",): "an image file (by its suffix)",
}


def collect_inputs(paths: Iterable[str | os.PathLike], kinds: tuple[str, ...] = ("image", "latent", "video")) -> Inputs:
    """Files and folders (searched recursively, hidden files left out) -> named input items.

    Files of another kind are skipped and listed, not fatal. Names are file stems; files inside a
    folder are named by their path below it ("a/b.png" -> "a__b"); clashes get their suffix added.
    """
    found = Inputs()
    named: list[tuple[str, Path, str]] = []
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            files = sorted(p for p in root.rglob("*")
                           if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
            entries = [(p, "__".join(p.relative_to(root).with_suffix("").parts)) for p in files]
        elif root.is_file():
            entries = [(root, root.stem)]
        else:
            found.skipped.append((str(root), "no such file or folder"))
            continue
        for path, name in entries:
            kind = _kind(path)
            if kind is None or kind not in kinds:
                found.skipped.append((str(path), f"not {_KIND_WORDS[kinds]}" if kinds in _KIND_WORDS
                                      else f"not a usable input ({', '.join(kinds)})"))
                continue
            named.append((name, path, kind))
    used: set[str] = set()
    for name, path, kind in named:
        unique = name
        if unique in used:
            unique = f"{name}_{path.suffix.lstrip('.').lower()}"
        n = 2
        while unique in used:
            unique, n = f"{name}_{n}", n + 1
        used.add(unique)
        found.items.append(InputItem(unique, path, kind))
    return found


def read_target(path: str | os.PathLike, size: int) -> tuple[np.ndarray, str | None]:
    """An input image as uint8 [size, size, 3] and a note when it had to be cropped or resized."""
    image = read_image(path)
    return _fit(image, size, Path(path).name)


def _fit(image: np.ndarray, size: int, name: str) -> tuple[np.ndarray, str | None]:
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image, None
    how = "centre-cropped and resized" if h != w else "resized"
    return fit_square(image, size), f"{name}: {w}x{h} {how} to {size}x{size}"


# --------------------------------------------------------------------------- style mixing
def layer_index(spec: str | int, g: Generator) -> int:
    """`--mix-from`: a latent index L in [0, num_ws] or a resolution "32px" (its first latent)."""
    text = str(spec).strip().lower()
    if text.endswith("px"):
        res = int(text[:-2]) if text[:-2].isdigit() else -1
        if res not in g.config.resolutions:
            raise ValueError(f"--mix-from {spec}: not a resolution of this generator ({', '.join(f'{r}px' for r in g.config.resolutions)})")
        return 0 if res == 4 else next(b.layers[0].w_index for b in g.blocks() if b.resolution == res)
    if not text.lstrip("-").isdigit():
        raise ValueError(f"--mix-from {spec!r}: give a layer index (0-{g.num_ws}) or a resolution such as 32px")
    index = int(text)
    if not 0 <= index <= g.num_ws:
        raise ValueError(f"--mix-from {index}: must be in [0, {g.num_ws}] for this {g.size}px generator")
    return index


def mix_styles(content: torch.Tensor, style: torch.Tensor, mix_from: int, strength: float = 1.0) -> torch.Tensor:
    """Keep content ws[:, :L]; from L on blend towards the style: lerp(content, style, strength).

    content [B, num_ws, D]; style [B or 1, num_ws, D]. strength 1 takes the style's latents
    outright, 0 leaves the content unchanged.
    """
    if content.ndim != 3 or style.ndim != 3 or style.shape[1:] != content.shape[1:]:
        raise ValueError(f"content and style latents must be [B, num_ws, D] alike, got {tuple(content.shape)} and {tuple(style.shape)}")
    out = content.clone()
    out[:, mix_from:] = lerp(content[:, mix_from:], style[:, mix_from:].to(content), strength)
    return out


@dataclass
class StyleMix:
    """Where the later layers' latents come from in a translation."""

    ws: torch.Tensor  # [1, num_ws, D] the style latents
    mix_from: int  # first latent index taken from the style
    strength: float = 1.0  # 1: the style's latents; 0: the content's
    label: str = ""  # what the style is, for records ("seed 5", "image x.png", ...)

    def apply(self, ws: torch.Tensor) -> torch.Tensor:
        return mix_styles(ws, self.ws.to(ws.device), self.mix_from, self.strength)

    def describe(self) -> dict[str, Any]:
        return {"style": self.label, "mix_from": self.mix_from, "mix_strength": self.strength}


@torch.no_grad()
def seed_style(g: Generator, seed: int, truncation: float = 1.0) -> Latent:
    """The latent of a seed through g's mapping (truncated), with that seed's noise maps."""
    device = next(g.parameters()).device
    w = g.truncate(g.mapping(seed_latent(seed, g.style_dim).to(device)), truncation)
    return Latent(ws=g.broadcast(w)[0].cpu(), noise=seed_noise(seed, g), space="w", meta={"seed": seed})


# --------------------------------------------------------------------------- inversion set-up
@dataclass
class Inversion:
    """How inputs are projected into the source generator's latent space."""

    distance: nn.Module  # freezeg.distances.make_distance(...)
    loss: str = "default"  # the distance's name, for records
    options: ProjectionOptions = field(default_factory=ProjectionOptions)
    batch: int = 8  # images optimised together
    warm_steps: int | None = None  # steps for video frames after the first (default: steps // 3)
    stats: LatentStats | None = None  # the source's average w and spread (computed once, lazily)

    def __post_init__(self):
        if self.batch < 1:
            raise ValueError(f"--batch must be at least 1, got {self.batch}")
        if self.warm_steps is not None and self.warm_steps < 1:
            raise ValueError(f"--warm-steps must be at least 1, got {self.warm_steps}")

    def ensure_stats(self, g: Generator) -> LatentStats:
        if self.stats is None:
            self.stats = latent_stats(g)
        return self.stats

    def project(self, g: Generator, targets: torch.Tensor, progress: bool = True, desc: str = "projecting",
                init: Latent | None = None) -> tuple[list[Latent], torch.Tensor]:
        """Project a batch [B, 3, size, size]; with `init`, warm-start from that latent (video frames)."""
        options, init_ws, init_noise = self.options, None, None
        if init is not None:
            steps = self.warm_steps or max(1, options.steps // 3)
            # No latent perturbation: it would jolt a warm start off the previous frame's latent.
            options = dataclasses.replace(options, steps=steps, latent_noise=0.0)
            init_ws, init_noise = init.ws[None], init.noise
        proj = Projector(g, targets, self.distance, options, stats=self.ensure_stats(g),
                         init_ws=init_ws, init_noise=init_noise)
        proj.run(progress, desc=desc)
        return proj.result(self.loss)


def project_style_image(source: Generator, path: str | os.PathLike, inversion: Inversion, progress: bool = True) -> Latent:
    """Project one style image with the source generator (for --style-image)."""
    image, note = read_target(path, source.size)
    if note:
        log.info("%s", note)
    latents, _ = inversion.project(source, from_uint8(image), progress, desc=f"projecting style {Path(path).name}")
    return latents[0]


# --------------------------------------------------------------------------- rendering
@torch.no_grad()
def render(g: Generator, latents: list[Latent], style: StyleMix | None = None, batch: int = RENDER_BATCH) -> np.ndarray:
    """uint8 [N, size, size, 3] renderings of latents by g (layer-mixed with `style` if given)."""
    out = []
    for start in range(0, len(latents), batch):
        ws, noise = stack_latents(latents[start : start + batch], g)
        if style is not None:
            ws = style.apply(ws)
        out.append(to_uint8(g.synthesis(ws, noise=noise)))
    return np.concatenate(out) if out else np.zeros((0, g.size, g.size, 3), np.uint8)


def panel(tiles: list[np.ndarray]) -> np.ndarray:
    """Images side by side (source | reconstruction | translation) with white gaps."""
    return make_grid(np.stack(tiles), ncols=len(tiles))


def flicker(frames: np.ndarray | list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, in 0-255 units (0 for a still)."""
    arr = np.asarray(frames, dtype=np.float32)
    if len(arr) < 2:
        return 0.0
    return float(np.abs(np.diff(arr, axis=0)).mean())


# --------------------------------------------------------------------------- records
def read_records(out_dir: Path) -> dict[str, Any]:
    """fidelity.json of an output folder ({} when there is none yet)."""
    path = Path(out_dir) / FIDELITY_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the records of an earlier run ({e}); move it away or use another --out") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a freezeg record file; move it away or use another --out")
    return data


@dataclass
class RunReport:
    """What a folder run did."""

    out_dir: Path
    done: list[str] = field(default_factory=list)  # names processed in this run
    finished_before: list[str] = field(default_factory=list)  # names skipped as already finished
    reused_latents: list[str] = field(default_factory=list)  # names whose saved latent was reused
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    poor: list[str] = field(default_factory=list)  # names flagged as poor inversions (whole folder)
    summary: Path | None = None
    mean_psnr: float | None = None  # over every record in the folder
    mean_ssim: float | None = None


class FolderRun:
    """Processes input items into an output folder: batches, resumption, records and summary."""

    def __init__(
        self,
        source: Generator,  # inverts the inputs
        out_dir: str | os.PathLike,
        inversion: Inversion,
        target: Generator | None = None,  # renders the translations (None: projection only)
        style: StyleMix | None = None,  # layer mixing applied to the translations
        overwrite: bool = False,  # redo inputs whose outputs exist
        poor_psnr: float = DEFAULT_POOR_PSNR,  # flag inversions below this PSNR (dB)
        source_path: str | None = None,  # recorded in latent files and settings
        target_path: str | None = None,
        progress: bool = True,
    ):
        if target is not None:
            check_compatible(source, target)
        if style is not None and target is None:
            raise ValueError("style mixing needs a target generator to render with")
        self.source, self.target, self.style = source, target, style
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ValueError(f"{self.out_dir}: exists and is not a folder")
        self.inversion = inversion
        self.overwrite = overwrite
        self.poor_psnr = poor_psnr
        self.source_path, self.target_path = source_path, target_path
        self.progress = progress
        self.records = read_records(self.out_dir)
        self.entries: dict[str, Any] = dict(self.records.get("inputs") or {})
        self.report = RunReport(self.out_dir)

    # -- file layout
    def _path(self, folder: str, name: str, suffix: str = ".png") -> Path:
        return self.out_dir / folder / f"{name}{suffix}"

    def _outputs(self, item: InputItem) -> list[Path]:
        suffix = item.path.suffix.lower() if item.kind == "video" else ".png"
        if self.target is not None:
            return [self._path(TRANSLATED, item.name, suffix), self._path(PANELS, item.name, suffix)]
        if item.kind == "video":
            return [self._path(RECONSTRUCTIONS, item.name, suffix)]
        return [self._path(LATENTS, item.name, ".pt"), self._path(RECONSTRUCTIONS, item.name)]

    def _finished(self, item: InputItem) -> bool:
        return not self.overwrite and all(p.exists() for p in self._outputs(item))

    def settings(self) -> dict[str, Any]:
        s: dict[str, Any] = {"source": self.source_path, "loss": self.inversion.loss, "space": self.inversion.options.space}
        if self.target is not None:
            s["target"] = self.target_path
            s["style"] = self.style.describe() if self.style is not None else None
        return s

    def _check_settings(self, items: list[InputItem]) -> None:
        """Refuse to mix translations of another target or style into a folder being resumed."""
        before = self.records.get("settings") or {}
        if self.overwrite or self.target is None or not any(self._finished(i) for i in items):
            return
        now = self.settings()
        for key in ("target", "style"):
            if key in before and before.get(key) != now.get(key):
                raise ValueError(
                    f"{self.out_dir}: holds translations made with {key} {_describe(before.get(key))}, "
                    f"not {_describe(now.get(key))}; use another --out, or --overwrite to redo them"
                )

    # -- main loop
    def run(self, inputs: Inputs) -> RunReport:
        """Process every item; returns what was done, skipped and flagged."""
        self.report.skipped = list(inputs.skipped)
        self._check_settings(inputs.items)
        pending = []
        for item in inputs.items:
            made_from = (self.entries.get(item.name) or {}).get("input")
            if made_from and not self.overwrite and Path(made_from).resolve() != item.path.resolve():
                raise ValueError(
                    f"{self.out_dir}: outputs named {item.name!r} were made from {made_from}, not {item.path}; "
                    "use another --out, rename the input, or --overwrite"
                )
            if self._finished(item):
                self.report.finished_before.append(item.name)
            else:
                pending.append(item)
        if self.report.finished_before:
            log.info("%d input%s already done in %s (skipped; --overwrite redoes them)",
                     len(self.report.finished_before), "" if len(self.report.finished_before) == 1 else "s", self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._save_records()
        images = [i for i in pending if i.kind == "image"]
        latents = [i for i in pending if i.kind == "latent"]
        videos = [i for i in pending if i.kind == "video"]
        batch = self.inversion.batch
        with tqdm(total=len(images) + len(latents), desc="inputs", unit="img", disable=None if self.progress else True) as bar:
            for start in range(0, len(images), batch):
                self._image_batch(images[start : start + batch])
                bar.update(len(images[start : start + batch]))
            for start in range(0, len(latents), RENDER_BATCH):
                self._latent_batch(latents[start : start + RENDER_BATCH])
                bar.update(len(latents[start : start + RENDER_BATCH]))
        for item in videos:
            self._video(item)
        self._finish()
        return self.report

    def _skip(self, item: InputItem, reason: str) -> None:
        log.warning("skipped %s: %s", item.path, reason)
        self.report.skipped.append((str(item.path), reason))

    def _image_batch(self, items: list[InputItem]) -> None:
        loaded, pixels, notes = [], [], {}
        for item in items:
            try:
                image, note = read_target(item.path, self.source.size)
            except ImageReadError as e:
                self._skip(item, str(e).split(": ", 1)[-1])
                continue
            if note:
                log.info("%s", note)
                notes[item.name] = note
            loaded.append(item)
            pixels.append(image)
        if not loaded:
            return
        found: dict[str, Latent] = {}
        to_project = []
        for item in loaded:
            saved = self._path(LATENTS, item.name, ".pt")
            if saved.exists() and not self.overwrite:
                found[item.name] = load_latent(saved, self.source)
                self.report.reused_latents.append(item.name)
            else:
                to_project.append(item)
        if to_project:
            index = {item.name: i for i, item in enumerate(loaded)}
            targets = from_uint8(np.stack([pixels[index[item.name]] for item in to_project]))
            names = ", ".join(item.name for item in to_project[:3]) + (" ..." if len(to_project) > 3 else "")
            latents, _ = self.inversion.project(self.source, targets, self.progress, desc=f"projecting {names}")
            for item, latent in zip(to_project, latents):
                latent.meta.update({"input": str(item.path), "note": notes.get(item.name)})
                save_latent(self._path(LATENTS, item.name, ".pt"), latent, self.source_path, self.source)
                found[item.name] = latent
        ordered = [found[item.name] for item in loaded]
        recon = render(self.source, ordered)
        translated = render(self.target, ordered, self.style) if self.target is not None else None
        for i, item in enumerate(loaded):
            save_image(recon[i], self._path(RECONSTRUCTIONS, item.name))
            outputs = {"latent": f"{LATENTS}/{item.name}.pt", "reconstruction": f"{RECONSTRUCTIONS}/{item.name}.png"}
            if translated is not None:
                save_image(translated[i], self._path(TRANSLATED, item.name))
                save_image(panel([pixels[i], recon[i], translated[i]]), self._path(PANELS, item.name))
                outputs.update({"translation": f"{TRANSLATED}/{item.name}.png", "panel": f"{PANELS}/{item.name}.png"})
            self._record(item, ordered[i], outputs, note=notes.get(item.name))
        self._save_records()

    def _latent_batch(self, items: list[InputItem]) -> None:
        loaded, latents = [], []
        for item in items:
            try:
                latents.append(load_latent(item.path, self.source))
            except ValueError as e:
                self._skip(item, str(e).split(": ", 1)[-1])
                continue
            loaded.append(item)
        if not loaded:
            return
        recon = render(self.source, latents)
        translated = render(self.target, latents, self.style) if self.target is not None else None
        for i, item in enumerate(loaded):
            save_image(recon[i], self._path(RECONSTRUCTIONS, item.name))
            outputs = {"latent": str(item.path), "reconstruction": f"{RECONSTRUCTIONS}/{item.name}.png"}
            if translated is not None:
                save_image(translated[i], self._path(TRANSLATED, item.name))
                save_image(panel([recon[i], translated[i]]), self._path(PANELS, item.name))
                outputs.update({"translation": f"{TRANSLATED}/{item.name}.png", "panel": f"{PANELS}/{item.name}.png"})
            self._record(item, latents[i], outputs, note="a latent file: no source image to compare with")
        self._save_records()

    def _video(self, item: InputItem) -> None:
        try:
            video = read_video(item.path)
        except ValueError as e:
            self._skip(item, str(e).split(": ", 1)[-1])
            return
        size = self.source.size
        frames, note = [], None
        for frame in video.frames:
            fitted, note = _fit(frame, size, item.path.name)
            frames.append(fitted)
        if note:
            note = note.replace(item.path.name, f"{item.path.name} (every frame)")
            log.info("%s", note)
        targets = from_uint8(np.stack(frames))  # [T, 3, size, size]
        frame_dir = self.out_dir / LATENTS / item.name
        latents: list[Latent] = []
        previous = None
        for t in tqdm(range(len(frames)), desc=f"frames of {item.path.name}", unit="frame",
                      disable=None if self.progress else True):
            saved = frame_dir / f"{t:06d}.pt"
            if saved.exists() and not self.overwrite:
                latent = load_latent(saved, self.source)  # resumes a video cut short
            else:
                # Each frame starts from the previous frame's latent and noise: steadier than fresh starts.
                found, _ = self.inversion.project(self.source, targets[t : t + 1], False, init=previous)
                latent = found[0]
                latent.meta.update({"input": str(item.path), "frame": t})
                save_latent(saved, latent, self.source_path, self.source)
            latents.append(latent)
            previous = latent
        recon = render(self.source, latents)
        suffix = item.path.suffix.lower()
        figures = {"input": flicker(frames), "reconstruction": flicker(recon)}
        outputs = {"latents": f"{LATENTS}/{item.name}/", "reconstruction": f"{RECONSTRUCTIONS}/{item.name}{suffix}"}
        write_video(recon, self._path(RECONSTRUCTIONS, item.name, suffix), fps=video.fps)
        if self.target is not None:
            translated = render(self.target, latents, self.style)
            figures["translation"] = flicker(translated)
            write_video(translated, self._path(TRANSLATED, item.name, suffix), fps=video.fps)
            panels = [panel([frames[t], recon[t], translated[t]]) for t in range(len(frames))]
            write_video(panels, self._path(PANELS, item.name, suffix), fps=video.fps)
            outputs.update({"translation": f"{TRANSLATED}/{item.name}{suffix}", "panel": f"{PANELS}/{item.name}{suffix}"})
        fid = {k: float(np.mean([lat.fidelity.get(k, float("nan")) for lat in latents])) for k in ("psnr", "ssim", "distance")}
        merged = Latent(ws=latents[0].ws, noise=None, space=latents[0].space,
                        fidelity={**fid, "loss": latents[0].fidelity.get("loss")}, meta={"steps": latents[0].meta.get("steps")})
        self._record(item, merged, outputs, note=note, extra={"frames": len(frames), "fps": video.fps,
                                                              "flicker": figures})
        log.info("%s: %d frames; flicker (mean |frame change|, 0-255): input %.2f, reconstruction %.2f%s",
                 item.path.name, len(frames), figures["input"], figures["reconstruction"],
                 f", translation {figures['translation']:.2f}" if "translation" in figures else "")
        self._save_records()

    def _record(self, item: InputItem, latent: Latent, outputs: dict, note: str | None = None, extra: dict | None = None) -> None:
        f = latent.fidelity
        self.entries[item.name] = {
            "input": str(item.path),
            "kind": item.kind,
            "psnr": f.get("psnr"),
            "ssim": f.get("ssim"),
            "distance": f.get("distance"),
            "loss": f.get("loss"),
            "space": latent.space,
            "steps": latent.meta.get("steps"),
            "note": note,
            "outputs": outputs,
            **(extra or {}),
        }
        self.report.done.append(item.name)
        if isinstance(f.get("psnr"), (int, float)):
            flag = "  << poor inversion" if f["psnr"] < self.poor_psnr else ""
            log.info("%s: PSNR %.2f dB, SSIM %.3f, %s distance %.4f%s", item.name, f["psnr"], f.get("ssim", float("nan")),
                     f.get("loss"), f.get("distance", float("nan")), flag)

    def _save_records(self) -> None:
        data = {
            # A projection-only run into a translation folder keeps the translations' settings.
            "settings": {**(self.records.get("settings") or {}), **self.settings()},
            "poor_psnr": self.poor_psnr,
            "inputs": self.entries,
            "skipped": [{"path": p, "reason": r} for p, r in self.report.skipped],
        }
        psnrs = [e["psnr"] for e in self.entries.values() if isinstance(e.get("psnr"), (int, float))]
        if psnrs:
            data["mean_psnr"] = float(np.mean(psnrs))
        write_text(self.out_dir / FIDELITY_FILE, json.dumps(data, indent=1))

    def is_poor(self, entry: dict) -> bool:
        p = entry.get("psnr")
        return isinstance(p, (int, float)) and p < self.poor_psnr

    def _finish(self) -> None:
        self._save_records()
        self.report.poor = [name for name, e in self.entries.items() if self.is_poor(e)]
        for key in ("psnr", "ssim"):
            values = [e[key] for e in self.entries.values() if isinstance(e.get(key), (int, float))]
            setattr(self.report, f"mean_{key}", float(np.mean(values)) if values else None)
        if self.target is not None:
            self.report.summary = write_summary(self.out_dir, self.entries, self.report.skipped, self.poor_psnr, self.settings())
        if self.report.poor:
            log.warning("%d poor inversion%s (PSNR < %g dB): %s; translations of poor inversions are unreliable",
                        len(self.report.poor), "" if len(self.report.poor) == 1 else "s", self.poor_psnr,
                        ", ".join(self.report.poor[:5]) + (" ..." if len(self.report.poor) > 5 else ""))
        if self.report.skipped:
            log.warning("skipped %d input%s: %s", len(self.report.skipped), "" if len(self.report.skipped) == 1 else "s",
                        "; ".join(f"{p} ({r})" for p, r in self.report.skipped[:5]) + (" ..." if len(self.report.skipped) > 5 else ""))


def _describe(setting: Any) -> str:
    if setting is None:
        return "none"
    if isinstance(setting, dict):
        return "(" + ", ".join(f"{k} {v}" for k, v in setting.items()) + ")"
    return repr(setting)


def write_summary(out_dir: Path, entries: dict[str, Any], skipped: list[tuple[str, str]], poor_psnr: float,
                  settings: dict[str, Any]) -> Path:
    """summary.html: one row per input with its panel, fidelity numbers and a poor-inversion flag."""
    esc = html.escape

    def num(v, fmt):
        return format(v, fmt) if isinstance(v, (int, float)) and v == v else "-"

    def media(rel: str | None) -> str:
        if not rel:
            return ""
        src = esc(rel)
        if Path(rel).suffix.lower() in (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"):
            return f'<video src="{src}" controls loop muted></video>'
        return f'<img src="{src}" alt="">'

    rows = []
    poor_count = 0
    for name, e in sorted(entries.items()):
        poor = isinstance(e.get("psnr"), (int, float)) and e["psnr"] < poor_psnr
        poor_count += poor
        status = '<span class="flag">poor inversion</span>' if poor else ("ok" if e.get("psnr") is not None else "latent input")
        fl = e.get("flicker")
        extra = ""
        if fl:
            extra = "<br>flicker " + ", ".join(f"{k} {v:.2f}" for k, v in fl.items())
        rows.append(
            f'<tr class="{"poor" if poor else "ok"}"><td>{media((e.get("outputs") or {}).get("panel"))}</td>'
            f"<td>{esc(name)}<br><small>{esc(str(e.get('input', '')))}</small></td>"
            f"<td>{num(e.get('psnr'), '.2f')}</td><td>{num(e.get('ssim'), '.3f')}</td>"
            f"<td>{num(e.get('distance'), '.4f')} <small>{esc(str(e.get('loss') or ''))}</small></td>"
            f"<td>{status}{extra}</td><td><small>{esc(e.get('note') or '')}</small></td></tr>"
        )
    skipped_html = ""
    if skipped:
        items = "".join(f"<li>{esc(p)}: {esc(r)}</li>" for p, r in skipped)
        skipped_html = f"<h2>Skipped ({len(skipped)})</h2><ul>{items}</ul>"
    setting_text = esc(", ".join(f"{k}: {v}" for k, v in settings.items()))
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>freezeg translation summary</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: middle; }}
img, video {{ image-rendering: pixelated; min-height: 96px; }}
tr.poor {{ background: #fde8e8; }}
.flag {{ color: #b00; font-weight: bold; }}
</style></head><body>
<h1>Translation summary</h1>
<p>{len(entries)} input{'' if len(entries) == 1 else 's'}; {poor_count} flagged as poor inversions
(PSNR below {poor_psnr:g} dB): a translation is only as good as the projection it starts from.
Panels: source | reconstruction by the source generator | translation by the target generator.</p>
<p><small>{setting_text}</small></p>
<table><tr><th>panel</th><th>input</th><th>PSNR (dB)</th><th>SSIM</th><th>distance</th><th>status</th><th>note</th></tr>
{chr(10).join(rows)}
</table>
{skipped_html}
</body></html>
"""
    path = Path(out_dir) / SUMMARY_FILE
    write_text(path, page)
    return path


# --------------------------------------------------------------------------- style-mixing grids
@torch.no_grad()
def mix_grid(g: Generator, contents: list[Latent], styles: list[Latent], mix_from: int, strength: float = 1.0) -> np.ndarray:
    """A uint8 grid: top row the styles, left column the contents, each cell content rows
    ws[:, :L] with the style's ws[:, L:] (blended by `strength`), rendered by g with the content's noise."""
    if not contents or not styles:
        raise ValueError("a mixing grid needs at least one content and one style")
    style_images = render(g, styles)
    content_images = render(g, contents)
    style_ws = torch.stack([style.ws for style in styles])  # [C, num_ws, D]
    tiles = [np.full((g.size, g.size, 3), 255, np.uint8), *style_images]
    for r, content in enumerate(contents):
        ws, noise = stack_latents([content] * len(styles), g)  # the content's noise in every cell
        ws = mix_styles(ws, style_ws.to(ws.device), mix_from, strength)
        tiles += [content_images[r], *to_uint8(g.synthesis(ws, noise=noise))]
    return make_grid(np.stack(tiles), ncols=len(styles) + 1)
