"""Atomic writes: the old file survives a failed write, no temp files linger, normal permissions."""

import os
import stat

import numpy as np
import pytest

from freezeg.utils.files import atomic_path, write_json
from freezeg.utils.media import save_image


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "report.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".json" and tmp.parent == tmp_path  # same folder: the rename is atomic
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == '{\n "a": 1\n}\n'
    assert os.listdir(tmp_path) == ["report.json"]


def test_written_files_get_normal_permissions_not_mkstemps_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "img.png")
        write_json(tmp_path / "x.json", {})
    finally:
        os.umask(old)
    for name in ("img.png", "x.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
