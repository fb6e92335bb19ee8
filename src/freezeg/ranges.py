"""Integer ranges as users type them on the command line: '5' or '3-7'."""

from __future__ import annotations

import re

_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def int_range(text: str) -> tuple[int, int] | None:
    """'3-7' -> (3, 7); '5' -> (5, 5); None when `text` has neither form.

    A range that ends before it starts is returned as typed: the caller's message says why
    that is wrong in its context.
    """
    m = _RANGE.fullmatch(text)
    if not m:
        return None
    a = int(m.group(1))
    return a, int(m.group(2)) if m.group(2) is not None else a
