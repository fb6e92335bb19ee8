"""The web app's behaviour without the web: models, one visitor's session, and every callback.

A `Studio` holds what all visitors share (the source generator, the target generators, the
projection set-up) and answers callbacks that take and return a visitor's `Session`. Nothing
a visitor uploads or makes is kept on the Studio: it lives in their Session and in their own
private download folder, so one visitor never sees another's images or latents.

Every callback goes through the same library functions as the CLI: projection
(translate.Inversion -> project.Projector), rendering and style mixing (translate.render,
StyleMix, seed_style), layer blending (blend.blend_blocks), pairs and interpolation loops
(compare), latent files (project.save_latent). A latent is found once; changing a render
setting only renders it again.

An uploaded photo is kept whole in the session (`Photo`) and becomes the model's input in
`prepare_input`: centre-cropped, or with 'Align faces' the FFHQ crop of one of its faces
(freezeg.align, as `--align faces`); `rerender` then pastes the translation back into the photo
when asked (as `--paste-back`). The face detector is shared; the photo, the chosen face's
transform (AlignedFace) and the latent are the session's.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image

from ..align import (
    AlignedFace,
    FaceDetector,
    PhotoFaces,
    align,
    ffhq_quad,
    find_faces,
    make_detector,
    min_face_side,
    paste_back,
)
from ..align.dlib_detector import EXTRA as ALIGN_EXTRA
from ..align.geometry import quad_side
from ..generate.blend import blend_blocks, check_compatible
from ..generate.compare import interpolation_frames, pair_grid, seed_ws
from ..generate.sampling import seed_latent, seed_noise
from ..inversion.latents import Latent, save_latent
from ..inversion.pipeline import Inversion
from ..models.checkpoint import load_checkpoint, load_discriminator, load_generator
from ..models.networks import Discriminator, Generator
from ..stylize import StyleLoss, StylizeOptions, stylize_generator
from ..stylize.run import MAX_REFERENCES
from ..translate import DEFAULT_POOR_PSNR, StyleMix, fit_to_model, layer_index, panel, render, seed_style
from ..translate.faces import photo_suffix, save_photo
from ..utils.media import from_uint8, save_image
from ..utils.memory import return_free_memory
from ..utils.precision import autocast
from ..utils.ranges import parse_seeds
from ..utils.video import write_video
from .uploads import DEFAULT_MAX_UPLOAD_MB, UploadError, read_upload

log = logging.getLogger("freezeg")

Progress = Callable[[float, str], None]  # (fraction done, what is happening)
ShouldStop = Callable[[], bool]

MAX_PAIR_SEEDS = 64
MAX_FRAMES = 240
MAX_STEPS = 5000  # projection steps a visitor may ask for
MAX_STYLE_STEPS = 1000  # few-shot steps a visitor may ask for (New style tab)
MAX_STYLES = 3  # new styles one session may hold (each is a whole generator)
STYLE_SEEDS = list(range(6))  # the sample grid shown while a style trains
BLENDS_KEPT = 2  # blended generators cached (each is a copy of the model)
PREVIEW_SIDE = 1024  # the pasted photo is shown at most this large (downloaded at full resolution)
ALIGN_MISSING = f"Align faces needs dlib and its face landmark model on the server: {ALIGN_EXTRA}"
NO_ALIGN_HINT = "untick 'Align faces' to translate the whole image"


def _no_progress(fraction: float, text: str) -> None:
    pass


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Photo:
    """An uploaded image at full resolution, kept so that its input can be made again (alignment
    switched on or off, another face chosen) and a translated face pasted back into it."""

    image: np.ndarray = field(repr=False)  # uint8 [H, W, 3], as uploaded
    name: str  # safe stem for download names
    filename: str  # as the visitor called it, for messages
    faces: PhotoFaces | None = None  # its usable faces, once looked for (left to right)


@dataclass
class Session:
    """One visitor's state (one browser tab). Created per visit, never shared."""

    folder: Path  # private download folder, removed when the session ends
    name: str = ""  # what the content is called in download names ("photo", "seed-42")
    origin: str = ""  # how the latent was made: "image" | "latent" | "seed"
    input: np.ndarray | None = None  # the uploaded image as the model sees it, uint8 [size, size, 3]
    photo: Photo | None = None  # the uploaded image in full, while the content comes from one
    face: int | None = None  # with 'Align faces': which of photo.faces the input is
    aligned: AlignedFace | None = field(default=None, repr=False)  # that face's crop and its place in the photo
    latent: Latent | None = None  # the content latent
    note: str | None = None  # what happened to the upload (resized, a latent file without fidelity, ...)
    stopped: str | None = None  # set when the visitor stopped the projection early
    style: Latent | None = None  # the projected style image, if one was uploaded
    style_name: str | None = None
    latent_file: Path | None = None  # the content latent, saved for download
    # The last reconstruction and its truncation: style, blend and target changes do not alter it,
    # so they draw only the translation (filled in by rerender; a new latent starts without one).
    reconstruction: tuple[float, np.ndarray] | None = field(default=None, repr=False)
    styles: dict[str, Generator] = field(default_factory=dict, repr=False)  # New style tab: label -> generator


@dataclass
class RenderSettings:
    """Everything that changes a translation without projecting again."""

    target: str  # label of the target generator
    truncation: float = 1.0  # 1: the latent as is; lower pulls it towards the average w
    style_strength: float = 0.0  # 0: no style mixing; 1: the style's latents outright
    mix_from: str = ""  # first resolution taken from the style, e.g. "16px" ("": the middle one)
    style_source: str = "seed"  # "seed" | "image"
    style_seed: int = 0
    blend: tuple[float, ...] = ()  # target share per block from 4px up (empty: the target, unblended)
    paste_back: bool = False  # also paste the translated face back into the photo (aligned uploads)


@dataclass
class View:
    """What the page shows for a session: input | reconstruction | translation, a report, downloads."""

    input: np.ndarray | None
    reconstruction: np.ndarray
    translation: np.ndarray
    report: str  # Markdown: fidelity numbers, the poor-inversion flag, notes
    files: list[str] = field(default_factory=list)  # translation PNG, panel PNG, latent file (, pasted photo)
    pasted: np.ndarray | None = None  # with paste-back: the photo with the translated face in it (a preview)


class StopFlags:
    """Stop requests per session key, set by the Stop button and read by a running projection."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _flag(self, key: str) -> threading.Event:
        with self._lock:
            return self._flags.setdefault(key, threading.Event())

    def request(self, key: str) -> None:
        self._flag(key).set()

    def clear(self, key: str) -> None:
        self._flag(key).clear()

    def is_set(self, key: str) -> bool:
        return self._flag(key).is_set()

    def forget(self, key: str) -> None:
        with self._lock:
            self._flags.pop(key, None)


class Studio:
    """The shared models and settings of one `freezeg serve`, and the app's callbacks."""

    def __init__(
        self,
        source: Generator,  # inverts uploads, maps seeds
        targets: dict[str, Generator],  # label -> fine-tuned generator (the dropdown)
        inversion: Inversion,  # how uploads are projected
        poor_psnr: float = DEFAULT_POOR_PSNR,  # flag reconstructions below this PSNR (dB)
        max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
        work_dir: str | Path | None = None,  # parent of the sessions' download folders (default: a temp folder)
        source_label: str = "source",
        face_detector: FaceDetector | None = None,  # for 'Align faces' (default: dlib's, loaded when first needed)
        discriminator: Discriminator | None = None,  # the source's, for the New style tab's loss (else pixels)
    ):
        if not targets:
            raise ValueError("need at least one target generator")
        for label, g in targets.items():
            check_compatible(source, g, "source", f"target {label}")
        self.source = source.eval()
        self.targets = {label: g.eval() for label, g in targets.items()}
        self.inversion = inversion
        self.poor_psnr = poor_psnr
        self.max_upload_mb = max_upload_mb
        self.source_label = source_label
        self.discriminator = discriminator.eval() if discriminator is not None else None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="freezeg-serve-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.stops = StopFlags()
        self._face_detector = face_detector
        self._blends: OrderedDict[tuple, Generator] = OrderedDict()
        self._blend_lock = threading.Lock()
        inversion.ensure_stats(self.source)  # the average w: once, before the first visitor waits for it
        if self.source.w_avg is None:
            self.source.w_avg = inversion.stats.mean.to(next(self.source.parameters()).device)

    @classmethod
    def from_files(cls, source: str, targets: list[str], inversion: Inversion, device: torch.device | str = "cpu",
                   **options) -> "Studio":
        """Load the source and target checkpoints (run folders stand for their newest checkpoint)."""
        if len(set(targets)) != len(targets):
            raise ValueError("a --target is given twice")
        ckpt = load_checkpoint(source)
        src = load_generator(ckpt, device=device)
        d = load_discriminator(ckpt, device=device) if ckpt.has("d") else None
        return cls(src, {t: load_generator(t, device=device) for t in targets}, inversion, source_label=source,
                   discriminator=d, **options)

    # ------------------------------------------------------------------ what the page offers
    @property
    def target_labels(self) -> list[str]:
        return list(self.targets)

    @property
    def resolutions(self) -> list[int]:
        return list(self.source.config.resolutions)

    def mix_choices(self) -> list[str]:
        """Resolutions a style can take over from, as the page shows them."""
        return [f"{r}px" for r in self.resolutions]

    def default_mix_from(self) -> str:
        return self.mix_choices()[len(self.resolutions) // 2]

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> Session:
        return Session(folder=Path(tempfile.mkdtemp(prefix="session-", dir=self.work_dir)))

    def end_session(self, session: Session | None) -> None:
        """Remove a session's files (called when the visitor's tab closes)."""
        if session is not None:
            shutil.rmtree(session.folder, ignore_errors=True)

    def close(self) -> None:
        """Remove every session's files (server shutdown)."""
        shutil.rmtree(self.work_dir, ignore_errors=True)

    # ------------------------------------------------------------------ inputs
    def receive_upload(self, session: Session, path: str, align_faces: bool = False) -> Session:
        """Check and read a visitor's file: a latent file is ready to render; an image becomes the
        session's photo and input (see prepare_input), waiting for `project` (the page shows it meanwhile)."""
        upload = read_upload(path, self.source, self.max_upload_mb)
        if upload.kind == "latent":
            fid = upload.latent.fidelity
            note = f"{upload.filename}: a latent file" + ("" if isinstance(fid.get("psnr"), (int, float))
                                                            else " (no source image to compare with)")
            return self._with_latent(session, upload.latent, upload.name, "latent", None, note)
        photo = Photo(upload.image, upload.name, upload.filename)
        return self.prepare_input(dataclasses.replace(session, photo=photo), align_faces)

    def prepare_input(self, session: Session, align_faces: bool = False, face: int | None = None) -> Session:
        """The session's photo as the source generator's input, waiting for `project`: a centred square,
        or with `align_faces` the FFHQ crop of face number `face` (in face_choices; default: the largest)."""
        photo = session.photo
        if photo is None:
            raise UploadError("no photo to crop: upload one first")
        cleared = {"origin": "image", "latent": None, "stopped": None, "latent_file": None, "reconstruction": None}
        if not align_faces:
            image, note = fit_to_model(photo.image, self.source.size, photo.filename)
            return dataclasses.replace(session, input=np.array(image), name=photo.name, note=note, face=None,
                                       aligned=None, **cleared)  # a writable copy (torch warns about read-only arrays)
        photo = self.find_faces(photo)
        faces = photo.faces.faces
        largest = _largest(photo.faces)
        index = largest if face is None else int(face)
        if not 0 <= index < len(faces):
            raise UploadError(f"{photo.filename}: there is no face {face} to choose (it has {len(faces)})")
        name, found = faces[index]
        aligned = align(photo.image, found, self.source.size)
        if len(faces) == 1:
            what = (f"{photo.filename}: the face, FFHQ-aligned ({aligned.side_in_photo:.0f} px of the photo "
                    f"to {aligned.size} px)")
        else:
            what = (f"{photo.filename}: {len(faces)} faces; this is {_face_label(photo, index, largest)}"
                    + (", chosen as the largest; 'Face' picks another" if face is None else ""))
        note = "; ".join([what] + [n.split(": ", 1)[-1] for n in photo.faces.notes])
        return dataclasses.replace(session, photo=photo, input=aligned.image, name=name, note=note, face=index,
                                   aligned=aligned, **cleared)

    def find_faces(self, photo: Photo) -> Photo:
        """The photo with its usable faces found (looked for once); UploadError when it has none."""
        if photo.faces is None:
            found = find_faces(photo.image, photo.name, self.source.size, self.face_detector(), label=photo.filename)
            photo = dataclasses.replace(photo, faces=found)
        found = photo.faces
        if found.tiny and not found.faces:
            raise UploadError(f"{photo.filename}: {_count(len(found.tiny), 'face')} found, too small for this "
                              f"{self.source.size} px model (a face must span at least "
                              f"{min_face_side(self.source.size):.0f} px of the photo); {NO_ALIGN_HINT}")
        if not found.faces:
            raise UploadError(f"{photo.filename}: no face found; {NO_ALIGN_HINT}")
        return photo

    def face_choices(self, session: Session | None) -> list[tuple[str, int]]:
        """(label, number) of each usable face of the session's aligned photo, left to right; [] otherwise."""
        if session is None or session.aligned is None:
            return []
        largest = _largest(session.photo.faces)
        return [(_face_label(session.photo, i, largest), i) for i in range(len(session.photo.faces.faces))]

    def face_detector(self) -> FaceDetector:
        """The detector for 'Align faces' (loaded once); UploadError saying what to install when it is missing."""
        if self._face_detector is None:
            try:
                self._face_detector = make_detector()
            except ValueError as e:
                log.info("the page's 'Align faces' is off: %s", e)
                raise UploadError(ALIGN_MISSING) from None
        return self._face_detector

    def alignment_unavailable(self) -> str | None:
        """None when 'Align faces' works on this server; otherwise the line saying what to install."""
        try:
            self.face_detector()
        except UploadError as e:
            return str(e)
        return None

    def open_upload(self, session: Session, path: str, progress: Progress = _no_progress,
                    should_stop: ShouldStop = _never, steps: int | None = None, space: str | None = None,
                    align_faces: bool = False) -> Session:
        """receive_upload, then project an image (progress reported, stoppable)."""
        session = self.receive_upload(session, path, align_faces)
        if session.latent is not None:
            return session
        return self.project(session, progress, should_stop, steps, space)

    def project(self, session: Session, progress: Progress = _no_progress, should_stop: ShouldStop = _never,
                steps: int | None = None, space: str | None = None) -> Session:
        """Project the session's input image with the source generator (`steps`, `space`: this visitor's
        choice instead of the server's)."""
        if session.input is None:
            raise UploadError("no image to project: upload one first")
        try:
            latent, stopped = self._invert(session.input, progress, should_stop, "projecting", steps, space)
        finally:
            return_free_memory()  # a projection's buffers, freed on a worker thread's arena
        session = self._with_latent(session, latent, session.name, "image", session.input, session.note)
        return dataclasses.replace(session, stopped=stopped)

    def use_seed(self, session: Session, seed: int) -> Session:
        """A sample of the source generator as content (its latent and noise maps)."""
        seed = int(seed)
        if seed < 0:
            raise UploadError(f"seed must be 0 or more, got {seed}")
        latent = seed_style(self.source, seed)  # untruncated: truncation is a render setting
        return self._with_latent(session, latent, f"seed-{seed}", "seed", None, None)

    def open_style_image(self, session: Session, path: str, progress: Progress = _no_progress,
                         should_stop: ShouldStop = _never, steps: int | None = None, space: str | None = None,
                         align_faces: bool = False) -> Session:
        """Project an uploaded style image (with `align_faces`: its largest face); its later layers'
        latents can then be mixed in."""
        upload = read_upload(path, self.source, self.max_upload_mb, kinds=("image",))
        photo = Photo(upload.image, upload.name, upload.filename)
        style = self.prepare_input(Session(folder=session.folder, photo=photo), align_faces)
        latent, stopped = self._invert(style.input, progress, should_stop, "projecting the style image", steps, space)
        face = f", {style.name.rsplit('_', 1)[-1]}" if style.aligned is not None else ""
        return dataclasses.replace(session, style=latent,
                                   style_name=upload.filename + face + (f" ({stopped})" if stopped else ""))

    def inversion_for(self, steps: int | None = None, space: str | None = None) -> Inversion:
        """The server's projection set-up with one visitor's steps and space (the shared one is never changed)."""
        changes = {k: v for k, v in (("steps", steps), ("space", space)) if v is not None}
        if not changes:
            return self.inversion
        if changes.get("steps", 1) > MAX_STEPS:
            raise UploadError(f"Steps: at most {MAX_STEPS} on this page, got {changes['steps']}")
        options = dataclasses.replace(self.inversion.options, **{k: (int(v) if k == "steps" else v)
                                                                 for k, v in changes.items()})
        return dataclasses.replace(self.inversion, options=options)

    def _invert(self, image: np.ndarray, progress: Progress, should_stop: ShouldStop, what: str,
                steps: int | None = None, space: str | None = None) -> tuple[Latent, str | None]:
        """One projection; stoppable, progress reported every 1% of the steps."""
        inversion = self.inversion_for(steps, space)
        state = {"reported": -1.0}

        def each_step(proj) -> bool:
            done = proj.step_index / proj.options.steps
            if done - state["reported"] >= 0.01 or done >= 1:
                state["reported"] = done
                progress(done, f"{what}: step {proj.step_index}/{proj.options.steps}, "
                               f"distance {proj.last_distance.mean().item():.4f}")
            return should_stop()

        latents, _ = inversion.project(self.source, from_uint8(image), progress=False, callback=each_step)
        latent = latents[0]
        steps, planned = latent.meta.get("steps"), inversion.options.steps
        stopped = f"stopped after {steps} of {planned} steps" if steps is not None and steps < planned else None
        return latent, stopped

    def _with_latent(self, session: Session, latent: Latent, name: str, origin: str, image: np.ndarray | None,
                     note: str | None) -> Session:
        latent_file = session.folder / f"{name}-latent.pt"
        save_latent(latent_file, latent, self.source_label, self.source)
        if origin != "image":  # a seed or a latent file: no photo behind it
            session = dataclasses.replace(session, photo=None, face=None, aligned=None)
        return dataclasses.replace(session, latent=latent, name=name, origin=origin, input=image, note=note,
                                   stopped=None, latent_file=latent_file, reconstruction=None)

    # ------------------------------------------------------------------ rendering
    def generator_for(self, settings: RenderSettings, session: Session | None = None) -> Generator:
        """The target generator (a served one, or one of the session's new styles), or its per-block
        blend with the source (made once per setting, kept)."""
        own = session.styles if session is not None else {}
        if settings.target not in self.targets and settings.target not in own:
            raise UploadError(f"unknown target model {settings.target!r}; choose one of "
                              f"{', '.join([*self.targets, *own])}")
        target = own.get(settings.target) or self.targets[settings.target]
        shares = tuple(float(a) for a in settings.blend) or (1.0,) * len(self.resolutions)
        if len(shares) != len(self.resolutions):
            raise UploadError(f"need a blend share for each of the {len(self.resolutions)} blocks, got {len(shares)}")
        if all(a == 1.0 for a in shares):
            return target  # the latents are given, so the target's own mapping never matters
        key = (settings.target if settings.target in self.targets else id(target), shares)
        with self._blend_lock:
            if key not in self._blends:
                self._blends[key] = blend_blocks(self.source, target, dict(zip(self.resolutions, shares))).eval()
                while len(self._blends) > BLENDS_KEPT:
                    self._blends.popitem(last=False)
            self._blends.move_to_end(key)
            return self._blends[key]

    def style_mix(self, session: Session, settings: RenderSettings) -> StyleMix | None:
        """The layer mixing the settings ask for (None when strength is 0 or no style image exists)."""
        if settings.style_strength <= 0:
            return None
        if not 0 <= settings.style_strength <= 1:
            raise UploadError(f"style strength must be in [0, 1], got {settings.style_strength}")
        mix_from = layer_index(settings.mix_from or self.default_mix_from(), self.source)
        if settings.style_source == "image":
            if session.style is None:
                return None
            ws = self.source.truncate(session.style.ws, settings.truncation)
            label = f"image {session.style_name}"
        else:
            ws = seed_style(self.source, int(settings.style_seed), settings.truncation).ws
            label = f"seed {int(settings.style_seed)}"
        return StyleMix(ws[None], mix_from, float(settings.style_strength), label)

    def rendering(self):
        """The precision the page draws in: the projection's (bf16 where `auto` found native bf16)."""
        return autocast(self.inversion.precision, next(self.source.parameters()).device)

    @torch.no_grad()
    def rerender(self, session: Session, settings: RenderSettings) -> View | None:
        """Render the session's latent with the settings (no projection); None before there is a latent."""
        if session is None or session.latent is None:
            return None
        with self.rendering():
            return self._rerender(session, settings)

    def _rerender(self, session: Session, settings: RenderSettings) -> View:
        latent = session.latent
        if settings.truncation != 1:
            latent = dataclasses.replace(latent, ws=self.source.truncate(latent.ws, float(settings.truncation)))
        style = self.style_mix(session, settings)
        if session.reconstruction is None or session.reconstruction[0] != settings.truncation:
            session.reconstruction = (settings.truncation, render(self.source, [latent])[0])
        reconstruction = session.reconstruction[1]
        translation = render(self.generator_for(settings, session), [latent], style)[0]
        tiles = [reconstruction, translation] if session.input is None else [session.input, reconstruction, translation]
        files = [
            save_image(translation, session.folder / f"{session.name}-translation.png"),
            save_image(panel(tiles), session.folder / f"{session.name}-panel.png"),
        ]
        if session.latent_file is not None:
            files.append(session.latent_file)
        pasted = None
        if settings.paste_back and session.aligned is not None:
            photo = session.photo
            pasted = paste_back(photo.image, session.aligned, translation)
            files.append(save_photo(pasted, session.folder / f"{photo.name}-pasted{photo_suffix(photo.filename)}"))
            pasted = fit_within(pasted, PREVIEW_SIDE)
        return View(session.input, reconstruction, translation, self.report(session, settings, style),
                    [str(f) for f in files], pasted)

    def report(self, session: Session, settings: RenderSettings, style: StyleMix | None) -> str:
        """The text under the images: how good the reconstruction is, and what the translation used."""
        lines = []
        fid = session.latent.fidelity
        psnr, ssim = fid.get("psnr"), fid.get("ssim")
        if session.origin == "seed":
            lines.append(f"**{session.name}**: a sample of the source generator (nothing to invert).")
        elif isinstance(psnr, (int, float)):
            how = f"{session.latent.space.upper()}, {session.latent.meta.get('steps', '?')} steps"
            numbers = f"PSNR {psnr:.2f} dB, SSIM {ssim:.3f}" if isinstance(ssim, (int, float)) else f"PSNR {psnr:.2f} dB"
            if psnr < self.poor_psnr:
                lines.append(f"**Poor inversion**: {numbers} ({how}), below {self.poor_psnr:g} dB. The source "
                             "generator cannot reproduce this image well, so the translation is unreliable. "
                             "Try more steps, W+, or an image closer to what the source generator makes.")
            else:
                lines.append(f"**Reconstruction**: {numbers} ({how}); good enough to translate "
                             f"(flagged below {self.poor_psnr:g} dB).")
        if session.stopped:
            lines.append(f"Projection {session.stopped} (Stop was pressed): this is the latent found so far.")
        if session.note:
            lines.append(f"Note: {session.note}.")
        if settings.truncation != 1:
            lines.append(f"Truncation {settings.truncation:g}: both images use the latent pulled towards the average"
                         + ("; the numbers above are for the projection itself." if session.origin == "image" else "."))
        if style is not None:
            lines.append(f"Style: {style.label}, from {settings.mix_from or self.default_mix_from()} on, "
                         f"strength {style.strength:g}.")
        elif settings.style_strength > 0 and settings.style_source == "image":
            lines.append("Style image: none uploaded yet, so no style is mixed in.")
        if settings.paste_back and session.aligned is not None:
            h, w = session.photo.image.shape[:2]
            lines.append(f"Pasted back into {session.photo.filename} ({w}x{h}); the full-size photo is under "
                         "Downloads.")
        elif settings.paste_back:
            lines.append("Paste back: only for photos uploaded with 'Align faces' on.")
        if settings.blend and any(a != 1.0 for a in settings.blend):
            shares = ", ".join(f"{r}px {a:g}" for r, a in zip(self.resolutions, settings.blend))
            lines.append(f"Layer blend (target share per block): {shares}.")
        return "\n\n".join(lines)

    # ------------------------------------------------------------------ new styles (few-shot)
    def new_style(self, session: Session, paths: list[str], steps: int = StylizeOptions.steps,
                  should_stop: ShouldStop = _never) -> Iterator[tuple[Session, np.ndarray, str]]:
        """`freezeg stylize` for this session: yields (session, sample grid, status) as the style
        trains; the last yield holds the session with the new style among its targets."""
        paths = [p for p in (paths or []) if p]
        if not 1 <= len(paths) <= MAX_REFERENCES:
            raise UploadError(f"New style: drop 1 to {MAX_REFERENCES} pictures of one style (got {len(paths)})")
        if len(session.styles) >= MAX_STYLES:
            raise UploadError(f"New style: this page keeps at most {MAX_STYLES} new styles per visit")
        steps = int(steps)
        if not 1 <= steps <= MAX_STYLE_STEPS:
            raise UploadError(f"New style: steps between 1 and {MAX_STYLE_STEPS}, got {steps}")
        pictures = []
        for path in paths:
            upload = read_upload(path, self.source, self.max_upload_mb, kinds=("image",))
            pictures.append(fit_to_model(upload.image, self.source.size, upload.filename)[0])
        device = next(self.source.parameters()).device
        references = from_uint8(np.stack(pictures)).to(device)
        latents, _ = self.inversion.project(self.source, references, progress=False)
        return_free_memory()
        poor = [Path(p).name for p, lat in zip(paths, latents) if lat.fidelity.get("psnr", 99) < self.poor_psnr]
        ws = torch.stack([lat.ws for lat in latents]).to(device)
        loss = StyleLoss("d-features", self.discriminator) if self.discriminator is not None else StyleLoss("pixel")
        options = StylizeOptions(steps=steps, loss=loss.kind, precision=self.inversion.precision)
        g, state, done, label = None, None, 0, f"new style {len(session.styles) + 1}"
        while done < steps and not should_stop():
            end = min(steps, done + max(1, steps // 6))
            g, optimizer = stylize_generator(self.source, ws, references, loss, dataclasses.replace(options, steps=end),
                                             start=g, start_step=done, optimizer_state=state)
            state, done = optimizer.state_dict(), end
            with torch.no_grad(), self.rendering():
                grid = pair_grid(self.source, g, STYLE_SEEDS)
            yield session, grid, f"Training the style: step {done} of {steps}."
        if g is None:
            raise UploadError("New style: stopped before the first step")
        session = dataclasses.replace(session, styles={**session.styles, label: g})
        warning = (f" Poor reconstructions ({', '.join(poor)}): the source cannot draw them well, so their style "
                   "is learnt from something else." if poor else "")
        yield session, grid, (f"**{label}** is ready ({done} steps, {len(paths)} reference"
                              f"{'s' if len(paths) > 1 else ''}, {loss.kind} loss): choose it as the target model "
                              f"above.{warning}")

    # ------------------------------------------------------------------ the program API (gradio_client)
    def api_translate(self, path: str, progress: Progress = _no_progress,
                      should_stop: ShouldStop = _never) -> tuple[np.ndarray, np.ndarray, float | None]:
        """/translate: one image (or latent) file -> (translation, reconstruction, reconstruction PSNR in dB).

        Projected with the server's settings and drawn by the first target; nothing is kept after
        the call (PSNR is None for a latent file that carries none)."""
        session = self.new_session()
        try:
            session = self.open_upload(session, path, progress, should_stop)
            view = self.rerender(session, RenderSettings(target=self.target_labels[0]))
            psnr = session.latent.fidelity.get("psnr")
            return view.translation, view.reconstruction, float(psnr) if isinstance(psnr, (int, float)) else None
        finally:
            self.end_session(session)

    def api_render(self, seed: int, truncation: float = 1.0, target: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """/render: a seed -> (the source's image, the target's image), at `truncation`."""
        if not 0.0 <= float(truncation) <= 1.0:
            raise UploadError(f"truncation: between 0 and 1, got {truncation}")
        session = self.new_session()
        try:
            session = self.use_seed(session, seed)
            view = self.rerender(session, RenderSettings(target=self._target(target), truncation=float(truncation)))
            return view.reconstruction, view.translation
        finally:
            self.end_session(session)

    def api_pairs(self, seeds: str, truncation: float = 1.0, target: str | None = None) -> np.ndarray:
        """/pairs: seeds such as "0-7" -> the pair grid (source row above target row)."""
        session = self.new_session()
        try:
            grid, _ = self.pairs(session, RenderSettings(target=self._target(target), truncation=float(truncation)),
                                 seeds)
            return grid
        finally:
            self.end_session(session)

    def _target(self, label: str | None) -> str:
        if not label:
            return self.target_labels[0]
        if label not in self.targets:
            raise UploadError(f"target: {label!r} is not served here (choose from {', '.join(self.target_labels)})")
        return label

    def pairs(self, session: Session, settings: RenderSettings, seeds: str) -> tuple[np.ndarray, str]:
        """A grid of seeds through the source (upper rows) and the target (lower rows); PNG saved for download."""
        chosen = parse_seeds(seeds, "Seeds")
        if len(chosen) > MAX_PAIR_SEEDS:
            raise UploadError(f"Seeds: {len(chosen)} seeds; this page draws at most {MAX_PAIR_SEEDS}")
        with torch.no_grad(), self.rendering():
            grid = pair_grid(self.source, self.generator_for(settings, session), chosen, truncation=settings.truncation)
        return grid, str(save_image(grid, session.folder / "pairs.png"))

    @torch.no_grad()
    def interpolation(self, session: Session, settings: RenderSettings, seeds: str, frames: int, fps: float,
                      fmt: str = "gif", with_latent: bool = False) -> str:
        """A looping source | target animation through seeds (and the session's latent first, if asked)."""
        frames, fps, fmt = int(frames), float(fps), fmt.lower().lstrip(".")
        if not 2 <= frames <= MAX_FRAMES:
            raise UploadError(f"Frames: between 2 and {MAX_FRAMES}, got {frames}")
        if fps <= 0:
            raise UploadError(f"Frames per second must be positive, got {fps:g}")
        if fmt not in ("gif", "mp4"):
            raise UploadError(f"Format: gif or mp4, got {fmt}")
        chosen = parse_seeds(seeds, "Seeds") if str(seeds).strip() else []
        if len(chosen) > MAX_PAIR_SEEDS:
            raise UploadError(f"Seeds: {len(chosen)} seeds; at most {MAX_PAIR_SEEDS}")
        target = self.generator_for(settings, session)
        if with_latent:
            if session.latent is None:
                raise UploadError("no image or latent yet: upload one on the Translate tab, or untick "
                                  "'Start from my image'")
            if not chosen:
                raise UploadError("Seeds: give at least one seed to move to from your image")
            keys = torch.cat([session.latent.ws[None], seed_ws(self.source, chosen).cpu()])  # [K, num_ws, D]
            keys = self.source.truncate(keys, settings.truncation)
            maps = [session.latent.noise or [n.cpu() for n in self.source.stored_noise()]]
            maps += [seed_noise(s, self.source) for s in chosen]
            key_noise = [torch.cat(layer) for layer in zip(*maps)]
            video = interpolation_frames(self.source, target, keys, frames, space="w", key_noise=key_noise)
        else:
            if len(chosen) < 2:
                raise UploadError("Seeds: give at least two seeds to move between")
            keys = torch.cat([seed_latent(s, self.source.style_dim) for s in chosen])
            video = interpolation_frames(self.source, target, keys, frames, space="z", truncation=settings.truncation)
        return str(write_video(video, session.folder / f"interpolation.{fmt}", fps=fps))



def _largest(faces: PhotoFaces) -> int:
    """Which usable face has the largest crop in the photo (the one a visitor most likely means)."""
    return int(np.argmax([quad_side(ffhq_quad(face.landmarks)) for _, face in faces.faces]))


def _face_label(photo: Photo, index: int, largest: int) -> str:
    """How the page names a face: its number as in download names, where it is, whether it is the largest."""
    name, face = photo.faces.faces[index]
    centre = (face.box[0] + face.box[2]) / 2 / photo.image.shape[1]
    where = ("left", "middle", "right")[min(max(int(centre * 3), 0), 2)]
    return f"face {name.rsplit('_face', 1)[-1]} ({where}{', largest' if index == largest else ''})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fit_within(image: np.ndarray, side: int) -> np.ndarray:
    """The image shrunk (Lanczos) so that neither side exceeds `side`; unchanged when it fits."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS, reducing_gap=3.0))
