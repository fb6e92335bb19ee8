"""The table and recommendation of every setting in a sweep folder, including settings that
separate `freezeg sweep` calls added (e.g. `--freeze-g 0,1`, then `--freeze-g 2 --coarse-rgb
train`, then `--freeze-g 1 --freeze-d 2` into the same --out: one call covers only the grid
of its own levels).

    python scripts/sweep_table.py SWEEP_DIR [--best]

Prints the table with the recommendation and its rule (the sweep's own rule, over all the
settings found); --best prints only the recommended setting's name (for scripts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from freezeg.sweep.report import fine_tuned, format_table, recommend


def main(argv: list[str]) -> None:
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    folder = Path(argv[0])
    rows = [json.loads(p.read_text()) for p in sorted(folder.glob("*/result.json"))]
    if not fine_tuned(rows):
        sys.exit(f"sweep_table: {folder}: no measured fine-tuned setting (no */result.json)")
    rows.sort(key=lambda r: (r["setting"] != "source", r["setting"]))  # the baseline row first
    rec = recommend(rows)
    if "--best" in argv[1:]:
        print(rec["setting"])
        return
    print(format_table(rows))
    print(f"recommended: {rec['setting']} ({rec['rule']})")


if __name__ == "__main__":
    main(sys.argv[1:])
