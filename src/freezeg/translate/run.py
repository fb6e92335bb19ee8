"""FolderTranslation: inputs -> an output folder of latents, reconstructions, translations, panels and records.

Images are projected in batches, latent files only rendered, videos done frame by frame. Each
batch's records are saved as soon as it is done, so a rerun skips finished inputs and reuses
saved latents; --overwrite redoes them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..data.images import ImageReadError
from ..generate.blend import check_compatible
from ..inversion.latents import Latent, load_latent, save_latent
from ..inversion.pipeline import Inversion
from ..inversion.pivotal import PivotalTuner, Tuning
from ..models.networks import Generator
from ..utils import faults
from ..utils.media import from_uint8, save_image
from ..utils.video import read_video, write_video
from .faces import ALIGNED, aligned_crop, paste_faces
from .frames import fit_frames, mean_fidelity, project_frames
from .inputs import InputItem, Inputs, read_target
from .records import (
    DEFAULT_POOR_PSNR,
    LATENTS,
    PANELS,
    RECONSTRUCTIONS,
    TRANSLATED,
    OutputLayout,
    RunRecords,
    RunReport,
    describe_setting,
)
from .render import RENDER_BATCH, flicker, panel, render
from .style import StyleMix
from .summary import write_summary
from .tuning import RunTuning, tuned_record

log = logging.getLogger("freezeg")


class FolderTranslation:
    """Processes input items into an output folder: batches, resumption, records and summary."""

    def __init__(
        self,
        source: Generator,  # inverts the inputs
        out_dir: str | os.PathLike,
        inversion: Inversion,
        target: Generator | None = None,  # renders the translations (None: projection only)
        style: StyleMix | None = None,  # layer mixing applied to the translations
        tuner: PivotalTuner | None = None,  # pivotal tuning of the shared blocks (needs a target)
        overwrite: bool = False,  # redo inputs whose outputs exist
        poor_psnr: float = DEFAULT_POOR_PSNR,  # flag inversions below this PSNR (dB)
        source_path: str | None = None,  # recorded in latent files and settings
        target_path: str | None = None,
        progress: bool = True,
        paste: bool = False,  # --paste-back: write pasted/PHOTO for photos whose faces were translated
    ):
        if target is not None:
            check_compatible(source, target)
        if style is not None and target is None:
            raise ValueError("style mixing needs a target generator to render with")
        if tuner is not None and target is None:
            raise ValueError("pivotal tuning needs a target generator that shares blocks with the source")
        if paste and target is None:
            raise ValueError("--paste-back needs a translation (freezeg translate)")
        self.tuning = RunTuning(tuner, source_path) if tuner is not None else None
        self.source, self.target, self.style = source, target, style
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ValueError(f"{self.out_dir}: exists and is not a folder")
        self.layout = OutputLayout(self.out_dir, translating=target is not None)
        self.inversion = inversion
        self.overwrite = overwrite
        self.poor_psnr = poor_psnr
        self.source_path, self.target_path = source_path, target_path
        self.progress = progress
        self.paste = paste
        self.items: list[InputItem] = []
        self.records = RunRecords(self.out_dir, poor_psnr)
        self.report = RunReport(self.out_dir)

    def settings(self) -> dict[str, Any]:
        s: dict[str, Any] = {"source": self.source_path, "loss": self.inversion.loss, **self.inversion.describe()}
        if self.target is not None:
            s["target"] = self.target_path
            s["style"] = self.style.describe() if self.style is not None else None
            s["pivotal_tuning"] = self.tuning.describe() if self.tuning is not None else None
        return s

    def _finished(self, item: InputItem) -> bool:
        return not self.overwrite and self.layout.finished(item)

    def _check_resumable(self, items: list[InputItem]) -> None:
        """Refuse to mix outputs of other inputs, targets or styles into a folder being resumed."""
        if self.overwrite:
            return
        for item in items:
            made_from = self.records.made_from(item.name)
            if made_from and Path(made_from).resolve() != item.path.resolve():
                raise ValueError(
                    f"{self.out_dir}: outputs named {item.name!r} were made from {made_from}, not {item.path}; "
                    "use another --out, rename the input, or --overwrite"
                )
        if self.target is None or not any(self._finished(i) for i in items):
            return
        before, now = self.records.previous_settings, self.settings()
        for key in ("target", "style", "pivotal_tuning"):
            if key in before and before.get(key) != now.get(key):
                raise ValueError(
                    f"{self.out_dir}: holds translations made with {key} {describe_setting(before.get(key))}, "
                    f"not {describe_setting(now.get(key))}; use another --out, or --overwrite to redo them"
                )

    # -- main loop
    def run(self, inputs: Inputs) -> RunReport:
        """Process every item; returns what was done, skipped and flagged."""
        self.report.skipped = list(inputs.skipped)
        self.items = list(inputs.items)
        self._check_resumable(inputs.items)
        pending = []
        for item in inputs.items:
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
                faults.reached("item")
            for start in range(0, len(latents), RENDER_BATCH):
                self._latent_batch(latents[start : start + RENDER_BATCH])
                bar.update(len(latents[start : start + RENDER_BATCH]))
                faults.reached("item")
        for item in videos:
            self._video(item)
        self._finish()
        return self.report

    def _skip(self, item: InputItem, reason: str) -> None:
        log.warning("skipped %s: %s", item.path, reason)
        self.report.skipped.append((str(item.path), reason))

    def _record(self, item: InputItem, latent: Latent, outputs: dict, note: str | None = None, extra: dict | None = None) -> None:
        self.records.add(item, latent, outputs, note, extra)
        self.report.done.append(item.name)

    def _save_records(self) -> None:
        self.records.save(self.settings(), self.report.skipped)

    def _save_latent(self, path: Path, latent: Latent) -> None:
        save_latent(path, latent, self.source_path, self.source)

    # -- the three kinds of input
    def _read(self, item: InputItem, photos: dict[Path, np.ndarray]) -> tuple[np.ndarray, str | None]:
        """An image input at the model's size: a face's aligned crop (also saved to aligned/), or the fitted image."""
        if item.photo_face is None:
            return read_target(item.path, self.source.size)
        crop = aligned_crop(item, self.source.size, photos)
        save_image(crop, self.layout.path(ALIGNED, item.name))
        return crop, None

    def _image_batch(self, items: list[InputItem]) -> None:
        loaded, pixels, notes = [], [], {}
        photos: dict[Path, np.ndarray] = {}  # decoded once for all its faces in the batch
        for item in items:
            try:
                image, note = self._read(item, photos)
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
        fresh: set[str] = set()  # names projected now (their tunings are redone too)
        to_project = []
        for item in loaded:
            saved = self.layout.path(LATENTS, item.name, ".pt")
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
                self._save_latent(self.layout.path(LATENTS, item.name, ".pt"), latent)
                found[item.name] = latent
                fresh.add(item.name)
        ordered = [found[item.name] for item in loaded]
        tunings = None
        if self.tuning is not None:
            tunings = self.tuning.for_images([self.layout.path(LATENTS, item.name, ".pt") for item in loaded], ordered,
                                             from_uint8(np.stack(pixels)), [item.name in fresh or self.overwrite for item in loaded],
                                             self.progress)
        self._write_renderings(loaded, ordered, pixels, tunings)
        for i, (item, latent) in enumerate(zip(loaded, ordered)):
            outputs = self._outputs_of(item, f"{LATENTS}/{item.name}.pt")
            shown, extra = tuned_record(latent, tunings[i] if tunings else None)
            if extra:
                outputs["tuning"] = f"{LATENTS}/{item.name}.pti"
            if item.photo_face is not None:
                extra["face"] = item.photo_face.record(self.source.size)
            self._record(item, shown, outputs, note=notes.get(item.name), extra=extra or None)
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
        tunings = [self.tuning.beside(item.path) for item in loaded] if self.tuning is not None else None
        self._write_renderings(loaded, latents, None, tunings)
        for i, (item, latent) in enumerate(zip(loaded, latents)):
            note = "a latent file: no source image to compare with"
            if self.tuning is not None:
                note += "; with the tuning file beside it" if tunings[i] is not None else "; no tuning file beside it (not tuned)"
            self._record(item, latent, self._outputs_of(item, str(item.path)), note=note)
        self._save_records()

    def _outputs_of(self, item: InputItem, latent: str, suffix: str = ".png") -> dict[str, str]:
        """The record's relative paths of an item's outputs."""
        outputs = {"latent": latent, "reconstruction": f"{RECONSTRUCTIONS}/{item.name}{suffix}"}
        if item.photo_face is not None:
            outputs["aligned"] = f"{ALIGNED}/{item.name}{suffix}"
        if self.target is not None:
            outputs.update({"translation": f"{TRANSLATED}/{item.name}{suffix}", "panel": f"{PANELS}/{item.name}{suffix}"})
        return outputs

    def _write_renderings(self, items: list[InputItem], latents: list[Latent], pixels: list[np.ndarray] | None,
                          tunings: list[Tuning | None] | None = None) -> None:
        """Reconstructions, and with a target translations and panels (with the input when there is one);
        with `tunings`, each latent is rendered with its tuned shared blocks."""
        recon = render(self.source, latents, tunings=tunings)
        translated = render(self.target, latents, self.style, tunings=tunings) if self.target is not None else None
        for i, item in enumerate(items):
            save_image(recon[i], self.layout.path(RECONSTRUCTIONS, item.name))
            if translated is not None:
                save_image(translated[i], self.layout.path(TRANSLATED, item.name))
                tiles = [recon[i], translated[i]] if pixels is None else [pixels[i], recon[i], translated[i]]
                save_image(panel(tiles), self.layout.path(PANELS, item.name))

    def _video(self, item: InputItem) -> None:
        try:
            video = read_video(item.path)
        except ValueError as e:
            self._skip(item, str(e).split(": ", 1)[-1])
            return
        frames, note = fit_frames(video.frames, self.source.size, item.path.name)
        meta = {"input": str(item.path)}

        def save(path: Path, latent: Latent) -> None:
            latent.meta.update(meta)
            self._save_latent(path, latent)

        latents = project_frames(self.source, frames, self.inversion, self.out_dir / LATENTS / item.name, save,
                                 overwrite=self.overwrite, progress=self.progress, desc=f"frames of {item.path.name}")
        suffix = item.path.suffix.lower()
        recon = render(self.source, latents)
        figures = {"input": flicker(frames), "reconstruction": flicker(recon)}
        write_video(recon, self.layout.path(RECONSTRUCTIONS, item.name, suffix), fps=video.fps)
        if self.target is not None:
            translated = render(self.target, latents, self.style)
            figures["translation"] = flicker(translated)
            write_video(translated, self.layout.path(TRANSLATED, item.name, suffix), fps=video.fps)
            panels = [panel([frames[t], recon[t], translated[t]]) for t in range(len(frames))]
            write_video(panels, self.layout.path(PANELS, item.name, suffix), fps=video.fps)
        if self.tuning is not None:
            note = "; ".join(filter(None, [note, "videos are translated without pivotal tuning"]))
        self._record(item, mean_fidelity(latents), self._outputs_of(item, f"{LATENTS}/{item.name}/", suffix), note=note,
                     extra={"frames": len(frames), "fps": video.fps, "flicker": figures})
        log.info("%s: %d frames; flicker (mean |frame change|, 0-255): input %.2f, reconstruction %.2f%s",
                 item.path.name, len(frames), figures["input"], figures["reconstruction"],
                 f", translation {figures['translation']:.2f}" if "translation" in figures else "")
        self._save_records()

    def _finish(self) -> None:
        self._save_records()
        if self.paste:
            self.report.pasted = paste_faces(self.items, self.out_dir, self.out_dir / TRANSLATED, set(self.report.done),
                                             overwrite=self.overwrite, progress=self.progress)
        self.report.poor = self.records.poor_names()
        self.report.mean_psnr, self.report.mean_ssim = self.records.mean("psnr"), self.records.mean("ssim")
        if self.target is not None:
            self.report.summary = write_summary(self.out_dir, self.records.entries, self.report.skipped,
                                                self.poor_psnr, self.settings())
        if self.report.poor:
            log.warning("%d poor inversion%s (PSNR < %g dB): %s; translations of poor inversions are unreliable",
                        len(self.report.poor), "" if len(self.report.poor) == 1 else "s", self.poor_psnr,
                        ", ".join(self.report.poor[:5]) + (" ..." if len(self.report.poor) > 5 else ""))
        if self.report.skipped:
            log.warning("skipped %d input%s: %s", len(self.report.skipped), "" if len(self.report.skipped) == 1 else "s",
                        "; ".join(f"{p} ({r})" for p, r in self.report.skipped[:5]) + (" ..." if len(self.report.skipped) > 5 else ""))
