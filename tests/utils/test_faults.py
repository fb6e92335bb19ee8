"""Fault injection (FREEZEG_FAULTS) and what a full or failing disk does to the files users keep."""

from __future__ import annotations

import errno

import pytest
import torch

from freezeg.models.checkpoint import atomic_torch_save
from freezeg.utils import faults
from freezeg.utils.files import WriteFailed, atomic_path, naming_disk_errors, write_json


def test_rules_parse_and_anything_else_is_refused():
    f = faults.Faults.parse("nan@step=3-5; fail@write=step-*.pt:EFBIG;kill@item=2")
    assert f.nan_steps == {3, 4, 5} and f.failing_writes == [("step-*.pt", errno.EFBIG)] and f.kills == {"item": 2}
    for bad in ("nan@step=x", "kill@lunch=2", "fail@write=a:ENOMEM", "boom"):
        with pytest.raises(ValueError, match="cannot read the rule"):
            faults.Faults.parse(bad)


def test_without_the_variable_nothing_is_injected(monkeypatch):
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.reload()
    assert faults.ACTIVE is None and not faults.nan_at(1)
    faults.reached("step")  # no kill, no counting


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, inject_faults):
    inject_faults("fail@write=run.json")
    target = tmp_path / "run.json"
    write_json(tmp_path / "other.json", {"a": 1})  # a name the rule does not match
    target.write_text("old")
    with pytest.raises(WriteFailed) as caught:
        write_json(target, {"x": "y" * 5000})
    message = str(caught.value)
    assert message.startswith(f"{target}: disk full (wrote 2.5 of 5.0 kB)") and "\n" not in message
    assert caught.value.errno == errno.ENOSPC
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json", "run.json"]


def test_torch_saves_report_the_bytes_written_of_about_the_total(tmp_path, inject_faults):
    inject_faults("fail@write=*.pt:EIO")
    with pytest.raises(WriteFailed, match=r"big\.pt: input/output error \(a failing disk\?\) \(wrote 2\.\d of 4\.\d MB\)"):
        atomic_torch_save({"w": torch.zeros(1_000_000)}, tmp_path / "big.pt")
    assert list(tmp_path.iterdir()) == []


def test_the_oserror_behind_torchs_short_write_is_found(tmp_path):
    """torch.save to a file object reports a short write as RuntimeError; its context is the OSError."""
    class FullDisk:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

    with pytest.raises(WriteFailed, match="x.pt: disk full"):
        with atomic_path(tmp_path / "x.pt"):
            try:
                torch.save({"w": torch.zeros(10)}, FullDisk())
            except RuntimeError as e:
                assert isinstance(e.__context__, OSError)
                raise


def test_other_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(KeyError):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise KeyError("not a disk problem")
    with pytest.raises(PermissionError):
        with naming_disk_errors(tmp_path / "log.csv"):
            raise PermissionError(errno.EACCES, "denied")
    assert list(tmp_path.iterdir()) == []


def test_appended_files_name_themselves_when_the_disk_fills(tmp_path):
    with pytest.raises(WriteFailed, match=r"log\.csv: disk quota exceeded$"):
        with naming_disk_errors(tmp_path / "log.csv"):
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
