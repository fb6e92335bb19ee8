"""The run folder of a training run: claiming it, its options, checkpoint bookkeeping.

The layout itself (file names, how periodic checkpoints are found) lives in
freezeg.models.run_layout, which checkpoint loading shares. Nothing in an existing run folder is
replaced unless the run resumes or --overwrite is given; --overwrite removes only the run's
own entries, never other files a user put there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from ..models.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from ..models.run_layout import (
    BEST,
    CHECKPOINTS,
    LOG_FILE,
    RUN_ENTRIES,
    RUN_FILE,
    SAMPLES,
    TENSORBOARD,
    periodic_checkpoints,
    step_file_name,
)
from ..utils.files import atomic_path, write_json

log = logging.getLogger("freezeg")


class RunFolder:
    """Paths and checkpoint bookkeeping of one run folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def log_file(self) -> Path:
        return self.path / LOG_FILE

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def best(self) -> Path:
        return self.checkpoints / BEST

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / step_file_name(step)

    def sample_path(self, step: int) -> Path:
        return self.samples / step_file_name(step, ".png")

    # ------------------------------------------------------------------ starting
    def has_run(self) -> bool:
        return any((self.path / name).exists() for name in RUN_ENTRIES)

    def claim(self, resume: bool, overwrite: bool) -> None:
        """Check that a new run may start here (or that there is one to resume); make the folder."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{self.path}: exists and is not a folder")
        if resume:
            if not (self.path / RUN_FILE).is_file():
                raise ValueError(f"{self.path}: no run to resume here (no {RUN_FILE})")
            return
        if self.has_run():
            if not overwrite:
                raise FileExistsError(
                    f"{self.path}: already holds a run (pass --resume to continue it or --overwrite to start over)"
                )
            for name in RUN_ENTRIES:
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        self.path.mkdir(parents=True, exist_ok=True)

    def write_options(self, options: dict) -> None:
        write_json(self.path / RUN_FILE, options)

    def read_options(self) -> dict:
        path = self.path / RUN_FILE
        if not path.is_file():
            raise ValueError(f"{self.path}: no run to resume here (no {RUN_FILE})")
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: cannot read the run's options ({e})") from None

    # ------------------------------------------------------------------ checkpoints
    def periodic_checkpoints(self) -> list[tuple[int, Path]]:
        """(step in the name, path) of the periodic checkpoints, oldest first."""
        return periodic_checkpoints(self.path)

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest periodic checkpoint that loads (an unreadable one is reported and skipped)."""
        for _, path in reversed(self.periodic_checkpoints()):
            try:
                ckpt = load_checkpoint(path)
            except CheckpointError as e:
                log.warning("skipping %s", e)
                continue
            if ckpt.step is None:
                log.warning("skipping %s: no step in its metadata", path)
                continue
            return ckpt
        return None

    def mark_best(self, checkpoint: Path) -> None:
        """Make best.pt a copy of `checkpoint` (a hard link where the file system allows; atomic)."""
        with atomic_path(self.best) as tmp:
            tmp.unlink()
            try:
                os.link(checkpoint, tmp)
            except OSError:
                shutil.copyfile(checkpoint, tmp)

    def resume_note(self) -> str:
        """What a run stopped by a failed write can go on from (for the one-line error)."""
        done = self.periodic_checkpoints()
        if not done:
            return "no checkpoint yet; free space and run with --resume to start again"
        return f"the previous checkpoint {done[-1][1].name} is intact; free space and continue with --resume"

    def prune(self, keep: int) -> None:
        """Delete all but the newest `keep` periodic checkpoints (best.pt is kept apart)."""
        for _, path in self.periodic_checkpoints()[:-keep]:
            path.unlink(missing_ok=True)
