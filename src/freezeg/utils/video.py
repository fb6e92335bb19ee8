"""Reading and writing animations: GIF with Pillow, MP4 (and other ffmpeg formats) with imageio-ffmpeg.

imageio-ffmpeg is an optional dependency (`pip install 'freezeg[video]'`); it ships its own
ffmpeg binary, so nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image, ImageSequence

from .files import atomic_path

GIF_SUFFIXES = (".gif",)
FFMPEG_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
VIDEO_SUFFIXES = GIF_SUFFIXES + FFMPEG_SUFFIXES
MP4_HINT = "install imageio-ffmpeg (pip install 'freezeg[video]'), or write a .gif instead"


def is_video_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ValueError(f"video files other than GIF need imageio-ffmpeg: {MP4_HINT}") from None
    return imageio_ffmpeg


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even width and height: replicate the last row/column when odd."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = 30.0) -> Path:
    """Write uint8 [H, W, 3] frames as a looping GIF or an H.264 MP4 (by suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"{path}: unknown animation format (use {', '.join(VIDEO_SUFFIXES)})")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    writer = _ffmpeg() if suffix in FFMPEG_SUFFIXES else None  # fail before any work
    with atomic_path(path) as tmp:
        if writer is None:
            images = [Image.fromarray(f) for f in frames]
            # GIF delays are in 1/100 s; Pillow takes milliseconds and rounds.
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(20, round(1000 / fps)), loop=0, disposal=1)
        else:
            first = _even(frames[0])
            gen = writer.write_frames(str(tmp), (first.shape[1], first.shape[0]), fps=fps, codec="libx264",
                                      pix_fmt_out="yuv420p", quality=8, macro_block_size=1,
                                      output_params=["-movflags", "+faststart"])
            gen.send(None)
            for f in frames:
                gen.send(np.ascontiguousarray(_even(f)))
            gen.close()
    return path


@dataclass
class Video:
    """A decoded animation: frames (uint8 [H, W, 3]) and the frame rate."""

    path: Path
    fps: float
    frames: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> Video:
    """Decode a GIF or ffmpeg-readable video into RGB frames; ValueError naming the file if it cannot."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such video file")
    suffix = path.suffix.lower()
    frames: list[np.ndarray] = []
    if suffix in GIF_SUFFIXES:
        try:
            with Image.open(path) as img:
                durations = []
                for frame in ImageSequence.Iterator(img):
                    frames.append(np.asarray(frame.convert("RGB"), dtype=np.uint8).copy())
                    durations.append(frame.info.get("duration", 100) or 100)
                    if max_frames and len(frames) >= max_frames:
                        break
        except OSError as e:
            raise ValueError(f"{path}: cannot decode GIF ({e})") from None
        fps = 1000.0 / float(np.median(durations))
    elif suffix in FFMPEG_SUFFIXES:
        reader = _ffmpeg().read_frames(str(path), pix_fmt="rgb24")
        try:
            meta = next(reader)
            w, h = meta["size"]
            for raw in reader:
                frames.append(np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3).copy())
                if max_frames and len(frames) >= max_frames:
                    break
        except (RuntimeError, OSError, StopIteration) as e:
            raise ValueError(f"{path}: cannot decode video ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        finally:
            reader.close()
        fps = float(meta.get("fps") or 30.0)
    else:
        raise ValueError(f"{path}: unknown video format (use {', '.join(VIDEO_SUFFIXES)})")
    if not frames:
        raise ValueError(f"{path}: no frames")
    return Video(path, fps, frames)
