"""A source generator's training curve: realism and held-out reconstruction against images seen.

    python scripts/training_curve.py RUN --held-out DIR [--n 40] [--steps 100] [--every 1]
        [--real DIR] [--out RUN/curve.csv]

For each periodic checkpoint of the training run RUN (every `--every`-th): the SWD the trainer
logged at that step (x1e3, against its training images), KID x1e3 of 1000 samples against
`--real` (held-out images; needs the fid extra, else left empty), and the mean and worst PSNR
of the first `--n` images of `--held-out` projected with the default recipe for `--steps`
steps. Rows already in the CSV are kept, so a rerun after more training adds the new
checkpoints only. Writes CSV and an SVG plot beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

FIELDS = ["step", "kimg", "swd_x1e3", "kid_x1e3", "psnr_mean", "psnr_min", "below_20db"]


def logged_swd(run: Path) -> dict[int, float]:
    """step -> the SWD the trainer measured at that step (its log.csv row of that step)."""
    with open(run / "log.csv") as f:
        return {int(row["step"]): float(row["swd"]) for row in csv.DictReader(f) if row.get("swd")}


def freezeg_json(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "freezeg", *args, "--json", "-q"], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"training_curve: freezeg {' '.join(args[:1])} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def measure(ckpt: Path, a: argparse.Namespace) -> dict:
    harness = freezeg_json("bench-inversion", "--ckpt", str(ckpt), "--images", a.held_out, "--n", str(a.n),
                           "--runs", f"default:{a.steps}", "--swd-only")
    r = next(iter(harness["runs"].values()))["real"]["reconstruction"]
    row = {"psnr_mean": round(r["psnr"], 3), "psnr_min": round(r["psnr_min"], 3), "below_20db": r["below_20db"]}
    if a.real:
        realism = freezeg_json("metrics", "realism", "--real", a.real, "--ckpt", str(ckpt), "--n", "1000")
        kid = realism.get("kid")
        row["kid_x1e3"] = round(1e3 * kid["mean"], 3) if isinstance(kid, dict) else ""
    return row


def plot(rows: list[dict], path: Path) -> None:
    """Two stacked line charts (realism; held-out PSNR) against thousands of images seen."""
    w, h, left, top, gap = 640, 200, 60, 20, 50
    xs = [float(r["kimg"]) for r in rows]
    panels = [("SWD x1e3 (lower is better)", "swd_x1e3"), ("held-out PSNR dB (higher is better)", "psnr_mean")]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + left + 20}" height="{2 * (h + gap) + top}" '
             'font-family="sans-serif" font-size="12">']
    for i, (title, key) in enumerate(panels):
        pts = [(float(r["kimg"]), float(r[key])) for r in rows if r.get(key) not in ("", None)]
        if not pts:
            continue
        y0 = top + i * (h + gap)
        lo, hi = min(y for _, y in pts), max(y for _, y in pts)
        lo, hi = (lo - 1, hi + 1) if hi == lo else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        xmax = max(xs) or 1.0

        def px(x: float) -> float:
            return left + w * x / xmax

        def py(y: float) -> float:
            return y0 + h - h * (y - lo) / (hi - lo)

        parts.append(f'<rect x="{left}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
        parts.append(f'<text x="{left}" y="{y0 - 5}">{title}</text>')
        parts.append(f'<text x="{left - 5}" y="{py(hi) + 10:.0f}" text-anchor="end">{hi:.1f}</text>')
        parts.append(f'<text x="{left - 5}" y="{py(lo):.0f}" text-anchor="end">{lo:.1f}</text>')
        parts.append(f'<text x="{left + w}" y="{y0 + h + 15}" text-anchor="end">{xmax:.0f} k images</text>')
        line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#246" stroke-width="2"/>')
        parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#246"/>' for x, y in pts]
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--held-out", required=True, help="held-out images of the training domain (folder)")
    p.add_argument("--real", help="held-out images for KID (needs the fid extra)")
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--every", type=int, default=1, help="measure every N-th checkpoint (the newest always)")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    out = a.out or a.run / "curve.csv"
    from freezeg.models.run_layout import periodic_checkpoints

    done = {}
    if out.exists():
        with open(out) as f:
            done = {int(r["step"]): r for r in csv.DictReader(f)}
    swd = logged_swd(a.run)
    batch = json.loads((a.run / "run.json").read_text())["batch"]
    checkpoints = periodic_checkpoints(a.run)
    chosen = [c for i, c in enumerate(checkpoints) if i % a.every == 0 or i == len(checkpoints) - 1]
    for step, path in chosen:
        if step in done or step == 0:
            continue
        s = swd.get(step)  # a checkpoint saved on a stop, between evaluations, has none
        done[step] = {"step": step, "kimg": step * batch / 1000, "swd_x1e3": "" if s is None else round(s, 3),
                      "kid_x1e3": "", **measure(path, a)}
        print(", ".join(f"{k} {v}" for k, v in done[step].items()), flush=True)
        rows = [done[k] for k in sorted(done)]
        with open(out, "w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        plot(rows, out.with_suffix(".svg"))
    print(f"{out} ({len(done)} checkpoints)")


if __name__ == "__main__":
    main()
