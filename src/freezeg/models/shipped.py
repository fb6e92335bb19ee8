"""Models that ship inside the package, usable by name wherever a checkpoint path is taken.

`freezeg translate x.png --source blobs32 --target runs/x` or `freezeg.load("blobs32")`: a name
is looked up here only when no file or folder of that name exists, so a user's own `blobs32`
folder still wins.
"""

from __future__ import annotations

import os
from pathlib import Path

PRETRAINED = Path(__file__).resolve().parent.parent / "data" / "pretrained"

# name -> file under freezeg/data/pretrained (fp16 weights with provenance inside)
SHIPPED: dict[str, str] = {
    "blobs32": "blobs32.pt",  # the demo's 32 px source (synthetic blobs), `make demo RETRAIN=1`
    "emoji": "emoji.pt",  # 64 px OpenMoji source with its discriminator (CC BY-SA 4.0), `make emoji`
    # its frozen Fluent Emoji 3D fine-tune, blended with it (a fifth of the fine-tune), `make emoji`
    "emoji-fluent3d": "emoji-fluent3d.pt",
    "emoji-fluent3d-full": "emoji-fluent3d-full.pt",  # that fine-tune unblended: `freezeg blend --share` for others
}


def shipped_path(name: str) -> Path:
    """The file of a shipped model, by name."""
    return PRETRAINED / SHIPPED[name]


def resolve_model(path_or_name: str | os.PathLike) -> Path:
    """A checkpoint path as given, or the shipped file when it names a shipped model."""
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in SHIPPED:
        return shipped_path(str(path_or_name))
    return path
