"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..utils.devices import DEVICE_CHOICES
from ..utils.ranges import parse_seeds  # noqa: F401 (the subcommands import it from here)


def add_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--device, --debug and --quiet, on every subcommand."""
    parser.add_argument("--device", default="auto", help=f"{'|'.join(DEVICE_CHOICES)} (default: auto)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    return parser


def check_output(path: str | Path, overwrite: bool) -> Path:
    """Refuse to replace an existing output unless --overwrite was given."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass --overwrite to replace it)")
    return path
