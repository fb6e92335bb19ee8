"""A sweep's results for people and programs: the recommendation and its rule, a table,
sweep.json, sweep.csv, a realism-vs-structure plot (plain SVG) and labelled image grids.

Rows are dicts as `run.run_sweep` makes them: {"setting", "freeze_g", "freeze_d",
"g_trains", "d_trains", "frozen_blocks", "realism": {swd, kid, kid_std, fid, ...},
"structure": {mean, lpips, ...}, "truth": {structure, l1, lpips} (with --pairs), "seconds":
{train, eval}}. The first row may be the baseline, setting "source": the source generator
itself (no fine-tuning), whose "truth" compares the untranslated inputs with the ground truth.
"""

from __future__ import annotations

import csv
import html
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..utils.files import write_json, write_text
from ..utils.media import make_grid, save_image

BASELINE = "source"
NOT_COMPUTED = "n/c"
GAP = 2  # white pixels between tiles in grids


def fine_tuned(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["setting"] != BASELINE]


def realism_metric(rows: list[dict]) -> str:
    """KID when every fine-tuned setting has it (unbiased on small sets), else SWD."""
    return "kid" if all(r["realism"].get("kid") is not None for r in fine_tuned(rows)) else "swd"


def recommendation_metric(rows: list[dict]) -> str:
    """What the recommendation ranks by: with --pairs the error against the truth (LPIPS when
    every setting has it, else pixel error), else realism (`realism_metric`). Lower is better."""
    rows = fine_tuned(rows)
    if rows and all(r.get("truth") for r in rows):
        return "truth_lpips" if all(r["truth"].get("lpips") is not None for r in rows) else "truth_l1"
    return realism_metric(rows)


def _value(row: dict, metric: str) -> float:
    if metric.startswith("truth_"):
        return row["truth"][metric[len("truth_"):]]
    return row["realism"][metric]


def recommend(rows: list[dict], tolerance: float = 0.10) -> dict:
    """The most frozen setting whose score is within `tolerance` of the best one's.

    Freezing more keeps more of the source's structure, so among the settings that do about
    as well as the best one, the most frozen translates most faithfully. The score
    (`recommendation_metric`) is, with --pairs, how far the translations are from their true
    targets; without, realism (KID, where one KID standard deviation of the best also counts
    as "about as well", or SWD). Ties in frozen blocks go to the better score.
    Returns {"setting", "metric", "best", "threshold", "rule"}; "rule" is one line.
    """
    rows = fine_tuned(rows)
    if not rows:
        raise ValueError("no fine-tuned settings to recommend from")
    metric = recommendation_metric(rows)
    values = {r["setting"]: _value(r, metric) for r in rows}
    best_row = min(rows, key=lambda r: values[r["setting"]])
    best = values[best_row["setting"]]
    margin = tolerance * abs(best)
    slack = ""
    if metric == "kid" and best_row["realism"].get("kid_std") is not None:
        margin = max(margin, best_row["realism"]["kid_std"])
        slack = " or one KID std"
    threshold = best + margin
    candidates = [r for r in rows if values[r["setting"]] <= threshold]
    chosen = max(candidates, key=lambda r: (tuple(r["frozen_blocks"]), -values[r["setting"]]))
    shown = _metric_value(metric, best), _metric_value(metric, threshold)
    rule = (f"rule: the most frozen setting whose {_METRIC_NAMES[metric]} is within {tolerance:.0%}{slack} of the "
            f"best ({best_row['setting']} {shown[0]}, so <= {shown[1]})")
    return {"setting": chosen["setting"], "metric": metric, "best": best, "threshold": threshold, "rule": rule}


_METRIC_NAMES = {"kid": "KID", "swd": "SWD", "truth_l1": "pixel error against the --pairs truth",
                 "truth_lpips": "LPIPS against the --pairs truth"}


def _metric_value(metric: str, value: float) -> str:
    if metric == "kid":
        return f"{value * 1e3:.2f}e-3"
    return f"{value:.4f}" if metric == "truth_lpips" else f"{value:.2f}"


# --------------------------------------------------------------------------- table
def _num(value, fmt: str, scale: float = 1.0) -> str:
    return NOT_COMPUTED if value is None else format(value * scale, fmt)


def _cells(row: dict, pairs: bool) -> list[str]:
    r, s = row["realism"], row["structure"]
    kid = NOT_COMPUTED if r.get("kid") is None else f"{r['kid'] * 1e3:.2f}+-{r['kid_std'] * 1e3:.2f}"
    cells = [row["setting"], row.get("g_trains", ""), row.get("d_trains", ""), kid, _num(r.get("fid"), ".1f"),
             _num(r["swd"], ".1f"), _num(s["mean"], ".3f"), _num(s.get("lpips"), ".3f")]
    if pairs:
        t = row.get("truth") or {}
        cells += [_num(t.get("structure"), ".3f"), _num(t.get("l1"), ".1f"), _num(t.get("lpips"), ".3f")]
    sec = row.get("seconds") or {}
    cells += [_num(sec.get("train"), ".0f"), _num(sec.get("eval"), ".0f")]
    return cells


def format_table(rows: list[dict], not_computed: dict[str, str] | None = None) -> str:
    """The sweep as a fixed-width table, with what the columns mean and what was not computed."""
    pairs = any(r.get("truth") for r in rows)
    head = ["setting", "G trains", "D trains", "KID x1e3", "FID", "SWD", "struct", "LPIPS"]
    if pairs:
        head += ["truth struct", "truth L1", "truth LPIPS"]
    head += ["train s", "eval s"]
    table = [head] + [_cells(r, pairs) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("realism (KID, FID, SWD x1e3; lower is better) against the target images; struct and LPIPS: source vs "
                 "fine-tuned renderings of the same latents (struct 1 = same edges; LPIPS 0 = same image)")
    if pairs:
        lines.append("truth: translations of the --pairs source images (projected once with the source generator) "
                     "against their true targets: structure (higher is better), mean |pixel error| 0-255, LPIPS")
    if any(r["setting"] == BASELINE for r in rows):
        lines.append("source: the source generator, not fine-tuned; its truth columns compare the untranslated inputs")
    reasons: dict[str, list[str]] = {}
    for metric, why in (not_computed or {}).items():
        reasons.setdefault(why, []).append(metric.upper())
    for why, metrics in reasons.items():
        lines.append(f"{' and '.join(sorted(metrics, reverse=True))} not computed: {why}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- files
CSV_FIELDS = ["setting", "freeze_g", "freeze_d", "g_trains", "d_trains", "kid", "kid_std", "fid", "swd",
              "structure", "lpips", "truth_structure", "truth_l1", "truth_lpips", "train_seconds", "eval_seconds"]


def csv_text(rows: list[dict]) -> str:
    """One line per row; empty cells for what was not computed."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        t, sec = r.get("truth") or {}, r.get("seconds") or {}
        writer.writerow({
            "setting": r["setting"], "freeze_g": r.get("freeze_g"), "freeze_d": r.get("freeze_d"),
            "g_trains": r.get("g_trains"), "d_trains": r.get("d_trains"),
            "kid": r["realism"].get("kid"), "kid_std": r["realism"].get("kid_std"), "fid": r["realism"].get("fid"),
            "swd": r["realism"]["swd"], "structure": r["structure"]["mean"], "lpips": r["structure"].get("lpips"),
            "truth_structure": t.get("structure"), "truth_l1": t.get("l1"), "truth_lpips": t.get("lpips"),
            "train_seconds": sec.get("train"), "eval_seconds": sec.get("eval"),
        })
    return buf.getvalue()


def plot_svg(rows: list[dict], metric: str, recommended: str | None = None, width: int = 640, height: int = 420) -> str:
    """Realism (y, lower is better) against structure preservation (x, higher is better), one
    labelled point per row (rows at the same spot share a label); the baseline hollow, the
    recommended setting red."""
    points: dict[tuple[float, float], list[str]] = {}
    for r in rows:
        if r["realism"].get(metric) is not None:
            key = (round(r["structure"]["mean"], 4), round(r["realism"][metric], 6))
            points.setdefault(key, []).append(r["setting"])
    if not points:
        raise ValueError(f"no {metric.upper()} values to plot")
    left, right, top, bottom = 70, 30, 40, 60
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x0, x1 = _axis_range(min(xs), max(xs))
    y0, y1 = _axis_range(min(ys), max(ys))
    if min(ys) >= 0:
        y0 = max(y0, 0.0)  # distances: the axis starts at 0 when it can
    px = lambda x: left + (x - x0) / (x1 - x0) * (width - left - right)  # noqa: E731
    py = lambda y: height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)  # noqa: E731
    scale = 1e3 if metric == "kid" else 1.0
    unit = " x1e3" if metric == "kid" else ""
    x_decimals, y_decimals = (max(0, 1 - math.floor(math.log10(max(span, 1e-12)))) for span in (x1 - x0, (y1 - y0) * scale))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">realism vs structure, one point per setting</text>']
    for i in range(6):
        x = x0 + (x1 - x0) * i / 5
        y = y0 + (y1 - y0) * i / 5
        out.append(f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<line x1="{left}" y1="{py(y):.1f}" x2="{width - right}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:.{x_decimals}f}</text>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y * scale:.{y_decimals}f}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
               'fill="none" stroke="#333"/>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 18}" text-anchor="middle">structure preservation '
               '(source vs fine-tuned renderings; higher keeps more)</text>')
    out.append(f'<text transform="translate(18 {(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">'
               f'{_METRIC_NAMES[metric]}{unit} to the target images (lower is more realistic)</text>')
    # The recommended point last, so that it is drawn on top.
    for (x, y), labels in sorted(points.items(), key=lambda kv: recommended in kv[1]):
        chosen = recommended in labels
        colour = "#c00" if chosen else "#246"
        fill = "none" if labels == [BASELINE] else colour
        text = ", ".join(f"{label} (recommended)" if label == recommended else label for label in labels)
        anchor, dx = ("end", -8) if px(x) > width / 2 else ("start", 8)  # labels stay inside the plot
        out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="5" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>')
        out.append(f'<text x="{px(x) + dx:.1f}" y="{py(y) - 8:.1f}" text-anchor="{anchor}" fill="{colour}">'
                   f'{html.escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _axis_range(lo: float, hi: float) -> tuple[float, float]:
    """A padded [lo, hi] that is never empty."""
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.1
    pad = span * 0.12
    return lo - pad, hi + pad


# --------------------------------------------------------------------------- grids
def labelled_rows(rows: list[np.ndarray], labels: list[str], gap: int = GAP) -> np.ndarray:
    """Rows from `tile_row` (uint8 [H, W, 3], equal sizes) stacked, each labelled on its left."""
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max(math.ceil(probe.textbbox((0, 0), label, font=font)[2]) for label in labels) + 6
    h, w = rows[0].shape[:2]
    canvas = Image.new("RGB", (text_w + w, len(rows) * h + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (row, label) in enumerate(zip(rows, labels)):
        y = i * h
        canvas.paste(Image.fromarray(row), (text_w, y))
        box = draw.textbbox((0, 0), label, font=font)
        draw.text((2, y + gap + (h - gap - (box[3] - box[1])) / 2 - box[1]), label, fill="black", font=font)
    return np.asarray(canvas)


def tile_row(images: list[np.ndarray] | np.ndarray, gap: int = GAP) -> np.ndarray:
    """Images side by side with white gaps left, right, between and above (not below: the next row's gap)."""
    return make_grid(np.stack(list(images)), ncols=len(images), pad=gap)[:-gap]


def write_outputs(out: Path, summary: dict, rows: list[dict], recommendation: dict, grid_rows: list[np.ndarray],
                  translation_rows: list[tuple[str, np.ndarray]] | None) -> dict[str, Path]:
    """sweep.json, sweep.csv, sweep.svg, pairs.png and (with pairs) translations.png in `out`."""
    paths = {"json": out / "sweep.json", "csv": out / "sweep.csv", "plot": out / "sweep.svg", "pairs": out / "pairs.png"}
    write_json(paths["json"], {**summary, "rows": rows, "recommendation": recommendation})
    write_text(paths["csv"], csv_text(rows))
    write_text(paths["plot"], plot_svg(rows, realism_metric(rows), recommendation["setting"]))
    save_image(labelled_rows(grid_rows, [r["setting"] for r in rows]), paths["pairs"])
    if translation_rows:
        paths["translations"] = out / "translations.png"
        save_image(labelled_rows([row for _, row in translation_rows], [label for label, _ in translation_rows]),
                   paths["translations"])
    return paths
