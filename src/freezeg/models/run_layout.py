"""Where a run folder (runs/NAME) keeps its files, and how its checkpoints are found.

    runs/NAME/
      run.json                      options of the run (what --resume continues with)
      checkpoints/step-NNNNNNN.pt   the last K periodic checkpoints (the step is also inside)
      checkpoints/best.pt           the checkpoint with the best evaluation score, when evaluated
      samples/step-NNNNNNN.png      sample grids (fine-tuning: source row above current row)
      log.csv                       one row per logged step
      tensorboard/                  TensorBoard scalars

This module sits below both checkpoint loading (a run folder stands for its newest
checkpoint wherever a checkpoint is expected) and training (which writes the folder), so
loading a model never imports the training package.
"""

from __future__ import annotations

import re
from pathlib import Path

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
LOG_FILE = "log.csv"
TENSORBOARD = "tensorboard"
BEST = "best.pt"
RUN_ENTRIES = (RUN_FILE, CHECKPOINTS, SAMPLES, LOG_FILE, TENSORBOARD)  # what --overwrite may remove
_STEP_FILE = re.compile(r"step-(\d+)\.pt")


def step_file_name(step: int, suffix: str = ".pt") -> str:
    """step-0001000.pt: periodic checkpoints and sample grids are named by their step."""
    return f"step-{step:07d}{suffix}"


def periodic_checkpoints(run_folder: str | Path) -> list[tuple[int, Path]]:
    """(step in the name, path) of a run folder's periodic checkpoints, oldest first."""
    folder = Path(run_folder) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _STEP_FILE.fullmatch(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)
