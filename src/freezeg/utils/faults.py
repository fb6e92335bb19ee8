"""Fault injection for tests: the FREEZEG_FAULTS environment variable makes chosen steps, writes
or points of a long command fail, so that tests can drive recovery end to end.

Inert when the variable is unset or empty (every check is then one `is None` test). Rules are
separated by ';':

    nan@step=K         training iteration K (1-based, as logged) gets NaN gradients;
    nan@step=K-M       iterations K to M do
    fail@write=GLOB    files whose name matches GLOB fail to write with ENOSPC ("disk full") after
                       half their bytes are on disk; fail@write=GLOB:EFBIG or :EIO picks the error
    kill@POINT=N       SIGKILL this process the N-th time POINT is reached (counted per process)

Points: `step` (a training, encoder-training or pivotal-tuning iteration finished), `item` (one
image of a folder translation or a dataset preparation written), `write` (a file's bytes are
written but it is not yet renamed to its real name), `setting` (a sweep setting finished).
Tests set the variable in a subprocess's environment; users never need it.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ENV = "FREEZEG_FAULTS"
POINTS = ("step", "item", "write", "setting")
ERRNOS = {"ENOSPC": errno.ENOSPC, "EFBIG": errno.EFBIG, "EIO": errno.EIO}


@dataclass
class Faults:
    """The parsed rules of FREEZEG_FAULTS, and how often each point was reached."""

    nan_steps: set[int] = field(default_factory=set)
    failing_writes: list[tuple[str, int]] = field(default_factory=list)  # (glob, errno)
    kills: dict[str, int] = field(default_factory=dict)  # point -> the hit that kills
    hits: Counter = field(default_factory=Counter)

    @classmethod
    def parse(cls, text: str) -> "Faults":
        faults = cls()
        for rule in filter(None, (r.strip() for r in text.split(";"))):
            try:
                action, target = rule.split("@", 1)
                where, value = target.split("=", 1)
                if action == "nan" and where == "step":
                    first, _, last = value.partition("-")
                    faults.nan_steps.update(range(int(first), int(last or first) + 1))
                elif action == "fail" and where == "write":
                    glob, _, code = value.partition(":")
                    faults.failing_writes.append((glob, ERRNOS[code or "ENOSPC"]))
                elif action == "kill" and where in POINTS:
                    faults.kills[where] = int(value)
                else:
                    raise ValueError
            except (ValueError, KeyError):
                raise ValueError(f"{ENV}: cannot read the rule {rule!r} (see freezeg.utils.faults)") from None
        return faults


def _load() -> Faults | None:
    text = os.environ.get(ENV, "").strip()
    try:
        return Faults.parse(text) if text else None
    except ValueError as e:  # a test's typo: stop before anything runs, in one line
        sys.exit(f"freezeg: error: {e}")


ACTIVE: Faults | None = _load()


def reload() -> None:
    """Read FREEZEG_FAULTS again (tests that set it in this process)."""
    global ACTIVE
    ACTIVE = _load()


def reached(point: str) -> None:
    """Mark that `point` was reached; SIGKILL here when a kill rule says so."""
    if ACTIVE is None:
        return
    ACTIVE.hits[point] += 1
    if ACTIVE.kills.get(point) == ACTIVE.hits[point]:
        os.kill(os.getpid(), signal.SIGKILL)


def nan_at(step: int) -> bool:
    """True when training iteration `step` (1-based) should get NaN gradients."""
    return ACTIVE is not None and step in ACTIVE.nan_steps


def check_write(path: Path, tmp: Path) -> None:
    """Between writing `tmp` and renaming it to `path`: a kill point, and an injected write error
    (half of the written bytes kept, as a disk that filled up mid-write leaves them)."""
    if ACTIVE is None:
        return
    for glob, code in ACTIVE.failing_writes:
        if fnmatch.fnmatch(path.name, glob):
            size = tmp.stat().st_size
            with open(tmp, "rb+") as f:
                f.truncate(size // 2)
            error = OSError(code, os.strerror(code), str(tmp))
            error.expected_bytes = size  # what the write would have been
            raise error
    reached("write")
