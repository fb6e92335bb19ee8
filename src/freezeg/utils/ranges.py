"""Integer ranges as users type them on the command line or in the web app: '5', '3-7', '0-3,10'."""

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


def parse_seeds(text: str, what: str = "--seeds") -> list[int]:
    """'0-15' -> 0..15; '1,5,9' -> [1, 5, 9]; '0-3,10' -> [0, 1, 2, 3, 10]; `what` names the field in errors."""
    seeds: list[int] = []
    for part in str(text).split(","):
        bounds = int_range(part)
        if bounds is None:
            raise ValueError(f"{what}: cannot read {part!r} (use e.g. 0-15 or 1,5,9)")
        a, b = bounds
        if b < a:
            raise ValueError(f"{what}: range {part.strip()!r} ends before it starts")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise ValueError(f"{what}: no seeds given")
    return seeds
