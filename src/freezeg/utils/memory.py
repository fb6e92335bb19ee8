"""Giving freed memory back to the operating system, for a long-running server.

glibc's malloc keeps freed blocks in per-thread arenas. A server whose requests run on many
worker threads (Gradio's) then stays at its peak long after the visitors leave. Capping the
arenas and trimming after the big allocations (a projection) keeps its size near what one
request needs. Elsewhere than glibc both calls do nothing.
"""

from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (musl has no malloc_trim)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _glibc()


def limit_arenas(n: int = 2) -> None:
    """At most `n` malloc arenas for the whole process (call before the worker threads start)."""
    if _LIBC is not None:
        _LIBC.mallopt(M_ARENA_MAX, n)


def return_free_memory() -> None:
    """Hand the free pages of every arena back to the system (milliseconds)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
