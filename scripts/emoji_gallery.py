"""The emoji walk-through's picture for README: held-out emoji, their true counterparts, the
source generator's reconstruction and the translations by several fine-tunes, one row each.

    python scripts/emoji_gallery.py OUT.png SRC_DIR [LABEL=]TRUTH_DIR RECON_DIR LABEL=TRANSLATED_DIR...

SRC_DIR and TRUTH_DIR hold the paired test images (same names; the truth row is labelled
"Apple (truth)" unless LABEL= says otherwise); RECON_DIR and each
TRANSLATED_DIR are a `freezeg translate` run's reconstructions/ and translated/ folders. Images
are shown at their own size (64 px) and only arranged, nothing else.
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
    if len(argv) < 5:
        sys.exit(__doc__)
    out, src, truth, recon, *translated = argv
    names = sorted(p.name for p in Path(src).glob("*.png"))
    truth_label, _, truth = truth.rpartition("=")
    rows = [("OpenMoji", Path(src)), (truth_label or "Apple (truth)", Path(truth)), ("reconstruction", Path(recon))]
    rows += [(label, Path(folder)) for label, _, folder in (t.partition("=") for t in translated)]
    save_image(labelled_rows([row(folder, names) for _, folder in rows], [label for label, _ in rows]), out)
    print(f"wrote {out} ({len(names)} emoji, {len(rows)} rows)")


if __name__ == "__main__":
    main(sys.argv[1:])
