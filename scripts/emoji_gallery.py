"""A picture of emoji translations: one labelled row per folder, one column per emoji.

    python scripts/emoji_gallery.py OUT.png LABEL=DIR [LABEL=DIR ...]

The columns are the PNG names of the first DIR (e.g. the held-out OpenMoji inputs); every other
DIR must hold the same names: the true drawings of another vendor, or a `freezeg translate`
run's reconstructions/ and translated/ folders. `make demo` draws input | reconstruction |
translation | truth this way. Images are shown at their own size (64 px) and only arranged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from freezeg.data.images import read_image
from freezeg.sweep.report import labelled_rows, tile_row
from freezeg.utils.media import save_image


def row(folder: Path, names: list[str]) -> np.ndarray:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        sys.exit(f"emoji_gallery: {folder}: no {missing[0]}")
    return tile_row([read_image(folder / n) for n in names])


def main(argv: list[str]) -> None:
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        sys.exit(__doc__)
    out, *specs = argv
    rows = [(label, Path(folder)) for label, _, folder in (s.partition("=") for s in specs)]
    names = sorted(p.name for p in rows[0][1].glob("*.png"))
    if not names:
        sys.exit(f"emoji_gallery: {rows[0][1]}: no PNG images")
    save_image(labelled_rows([row(folder, names) for _, folder in rows], [label for label, _ in rows]), out)
    print(f"wrote {out} ({len(names)} emoji, {len(rows)} rows)")


if __name__ == "__main__":
    main(sys.argv[1:])
