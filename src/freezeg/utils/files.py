"""Writing the files users keep: to a temporary name beside the target, then one atomic rename.

A crash or Ctrl-C never leaves a half-written image, checkpoint or report under the real
name, and a file that existed stays intact until its replacement is complete. The temporary
name keeps the target's suffix, so writers that pick a format from it (Pillow, ffmpeg) work.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from . import faults

# Errors of the storage itself, which the user fixes by freeing space or changing disks.
DISK_ERRORS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit reached",
    errno.EIO: "input/output error (a failing disk?)",
}


class WriteFailed(OSError):
    """A file could not be written because of the disk; nothing is left under its real name.

    The message is one line: the file, the cause and how far the write got. `note` adds what
    is still intact (e.g. the previous checkpoint) or how to go on.
    """

    def __init__(self, path: str | os.PathLike, code: int, written: int | None = None,
                 expected: int | None = None, note: str = ""):
        super().__init__(code, DISK_ERRORS.get(code, os.strerror(code)))
        self.path, self.written, self.expected, self.note = Path(path), written, expected, note

    def __str__(self) -> str:
        progress = ""
        if self.written is not None:
            progress = f" (wrote {_size(self.written, self.expected)})"
        note = f"; {self.note}" if self.note else ""
        return f"{self.path}: {self.strerror}{progress}{note}"

    def with_note(self, note: str) -> "WriteFailed":
        return WriteFailed(self.path, self.errno, self.written, self.expected, note)


def _size(written: int, expected: int | None) -> str:
    unit, scale = ("MB", 1e6) if max(written, expected or 0) >= 1e5 else ("kB", 1e3)
    if expected:
        return f"{written / scale:.1f} of {expected / scale:.1f} {unit}"
    return f"{written / scale:.1f} {unit}"


def disk_error(error: BaseException) -> OSError | None:
    """The OSError of the disk behind `error` (itself, or what it was raised from), if any.

    torch.save reports a short write as a RuntimeError ("unexpected pos"); when it writes to a
    file object, the OSError of that write is its __context__.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, WriteFailed):
            return None
        if isinstance(error, OSError) and error.errno in DISK_ERRORS:
            return error
        error = error.__cause__ or error.__context__
    return None


def normal_permissions(path: str | os.PathLike) -> None:
    """Give a file or folder made by mkstemp/mkdtemp (private: 0600/0700) a normal one's permissions."""
    path = Path(path)
    umask = os.umask(0)
    os.umask(umask)
    path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def naming_disk_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn a disk error in the block into WriteFailed naming `path` (for files appended to, like logs)."""
    try:
        yield
    except OSError as e:
        if isinstance(e, WriteFailed) or e.errno not in DISK_ERRORS:
            raise
        raise WriteFailed(path, e.errno) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = False, expected_bytes: int | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on any error it is removed.

    `durable`: fsync the file and its folder, so the new file survives a power cut (checkpoints).
    A full or failing disk raises WriteFailed naming `path` and how much was written (of
    `expected_bytes` when the caller knows it).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    except OSError as e:
        if e.errno in DISK_ERRORS:
            raise WriteFailed(path, e.errno) from None
        raise
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        faults.check_write(path, tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        normal_permissions(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        cause = disk_error(e)
        written = tmp.stat().st_size if cause is not None and tmp.exists() else None
        tmp.unlink(missing_ok=True)
        if cause is not None:
            expected = getattr(cause, "expected_bytes", None) or expected_bytes
            raise WriteFailed(path, cause.errno, written, expected) from None
        raise
    if durable:
        _fsync_folder(path.parent)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON atomically."""
    return write_text(path, json.dumps(obj, indent=1) + "\n")
