"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..devices import DEVICE_CHOICES
from ..ranges import int_range


def add_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--device, --debug and --quiet, on every subcommand."""
    parser.add_argument("--device", default="auto", help=f"{'|'.join(DEVICE_CHOICES)} (default: auto)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    return parser


def parse_seeds(text: str) -> list[int]:
    """'0-15' -> 0..15; '1,5,9' -> [1, 5, 9]; '0-3,10' -> [0, 1, 2, 3, 10]."""
    seeds: list[int] = []
    for part in str(text).split(","):
        bounds = int_range(part)
        if bounds is None:
            raise ValueError(f"--seeds: cannot read {part!r} (use e.g. 0-15 or 1,5,9)")
        a, b = bounds
        if b < a:
            raise ValueError(f"--seeds: range {part.strip()!r} ends before it starts")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise ValueError("--seeds: no seeds given")
    return seeds


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Refuse to replace an existing output unless --overwrite was given."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    return path
