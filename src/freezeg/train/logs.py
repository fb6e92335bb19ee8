"""What a training run writes about itself: a CSV log and TensorBoard scalars.

The TensorBoard writer is our own (no `tensorboard` package needed to train): an event file is
a sequence of TFRecords, each `uint64 length | masked crc32c(length) | data | masked
crc32c(data)`, where data is a serialised `Event` protobuf (tensorflow/core/util/event.proto:
wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5 (Summary);
Summary.value = 1; Summary.Value: tag = 1 (string), simple_value = 2 (float)). The few
protobuf fields needed are encoded by hand below. `tensorboard --logdir runs/` reads them.
"""

from __future__ import annotations

import contextlib
import csv
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import torch

from ..utils.files import atomic_path, naming_disk_errors


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # Castagnoli polynomial, reflected
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of `data`, as TFRecord uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64 values are encoded as their two's complement
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint((number << 3) | wire_type) + payload


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _field(number, 2, _varint(len(payload)) + payload)


def _event(wall_time: float, step: int, *, file_version: str | None = None, summary: bytes | None = None) -> bytes:
    data = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if file_version is not None:
        data += _length_delimited(3, file_version.encode())
    if summary is not None:
        data += _length_delimited(5, summary)
    return data


def _scalar_summary(scalars: Mapping[str, float]) -> bytes:
    values = b""
    for tag, value in scalars.items():
        value_msg = _length_delimited(1, tag.encode()) + _field(2, 5, struct.pack("<f", float(value)))
        values += _length_delimited(1, value_msg)
    return values


class TensorBoardWriter:
    """Appends scalar summaries to one TensorBoard event file in `logdir`."""

    def __init__(self, logdir: str | os.PathLike):
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.path = self.logdir / f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}"
        self._file = open(self.path, "ab")
        self._write(_event(now, 0, file_version="brain.Event:2"))

    def _write(self, data: bytes) -> None:
        header = struct.pack("<Q", len(data))
        with naming_disk_errors(self.path):
            self._file.write(header + struct.pack("<I", _masked_crc(header)) + data + struct.pack("<I", _masked_crc(data)))

    def add_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        """One event at `step` holding every (tag, value) pair; non-finite values are written as they are."""
        if scalars:
            self._write(_event(time.time(), int(step), summary=_scalar_summary(scalars)))
            with naming_disk_errors(self.path):
                self._file.flush()

    def close(self) -> None:
        """Close the file; a flush that fails on a full disk is dropped (the error that stopped the
        run was already raised, and this file is only a viewer's copy of log.csv)."""
        if not self._file.closed:
            with contextlib.suppress(OSError):
                self._file.close()


class CsvLog:
    """A CSV file with one row per logged step; columns are fixed by the first row written.

    Reopening an existing log (a resumed run) appends to it and keeps its columns. Rows from
    steps after `resume_step` (written before a crash, then redone) are dropped on reopening.
    """

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None):
        self.path = Path(path)
        self.columns: list[str] | None = None
        if self.path.exists():
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
                columns = list(rows[0].keys()) if rows else None
            if columns:
                self.columns = columns
                if resume_step is not None:
                    kept = [r for r in rows if _as_int(r.get("step")) <= resume_step]
                    if len(kept) != len(rows):
                        self._rewrite(kept)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _rewrite(self, rows: list[dict]) -> None:
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: Mapping[str, float | int | str]) -> None:
        new = self.columns is None
        if new:
            self.columns = list(row.keys())
        with naming_disk_errors(self.path), open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: _format(row.get(k, "")) for k in self.columns})


def _as_int(text) -> int:
    try:
        return int(float(text))
    except (TypeError, ValueError):
        return -1


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def duration(seconds: float) -> str:
    """H:MM:SS for progress lines."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class IntervalStats:
    """Sums for the averages printed and logged every `log_every` iterations.

    Values stay tensors until `means()`, so logging adds no device synchronisation per step;
    non-finite values (from skipped updates) are left out of the averages.
    """

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    counts: dict[str, torch.Tensor] = field(default_factory=dict)
    skipped: int = 0
    start: float = field(default_factory=time.perf_counter)
    images: int = 0

    def add(self, name: str, value: torch.Tensor) -> None:
        v = value.detach().float().reshape(())
        finite = torch.isfinite(v)
        self.sums[name] = self.sums.get(name, 0) + torch.where(finite, v, torch.zeros_like(v))
        self.counts[name] = self.counts.get(name, 0) + finite.float()

    def means(self) -> dict[str, float]:
        out = {}
        for k, total in self.sums.items():
            n = float(self.counts[k])
            out[k] = float(total) / n if n else float("nan")
        return out

    def row(self, step: int, batch: int) -> dict[str, float]:
        """The interval's log row so far: step, kimg, seconds, images/s and the averages."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        return {"step": step, "kimg": step * batch / 1000, "seconds": elapsed,
                "images_per_s": self.images / elapsed, **self.means()}
