"""summary.html of a translation folder: every input's panel, fidelity numbers and poor-inversion flag."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..utils.files import write_text
from ..utils.video import FFMPEG_SUFFIXES

SUMMARY_FILE = "summary.html"


def write_summary(out_dir: Path, entries: dict[str, Any], skipped: list[tuple[str, str]], poor_psnr: float,
                  settings: dict[str, Any]) -> Path:
    """summary.html: one row per input with its panel, fidelity numbers and a poor-inversion flag."""
    esc = html.escape

    def num(v, fmt):
        return format(v, fmt) if isinstance(v, (int, float)) and v == v else "-"

    def media(rel: str | None) -> str:
        if not rel:
            return ""
        src = esc(rel)
        if Path(rel).suffix.lower() in FFMPEG_SUFFIXES:  # GIFs play in <img>
            return f'<video src="{src}" controls loop muted></video>'
        return f'<img src="{src}" alt="">'

    rows = []
    poor_count = 0
    for name, e in sorted(entries.items()):
        poor = isinstance(e.get("psnr"), (int, float)) and e["psnr"] < poor_psnr
        poor_count += poor
        status = '<span class="flag">poor inversion</span>' if poor else ("ok" if e.get("psnr") is not None else "latent input")
        fl = e.get("flicker")
        extra = ""
        if fl:
            extra = "<br>flicker " + ", ".join(f"{k} {v:.2f}" for k, v in fl.items())
        before = e.get("before_tuning") or {}
        tuned_from = lambda key, fmt: f"{num(before.get(key), fmt)} &rarr; " if before else ""  # noqa: E731
        rows.append(
            f'<tr class="{"poor" if poor else "ok"}"><td>{media((e.get("outputs") or {}).get("panel"))}</td>'
            f"<td>{esc(name)}<br><small>{esc(str(e.get('input', '')))}</small></td>"
            f"<td>{tuned_from('psnr', '.2f')}{num(e.get('psnr'), '.2f')}</td>"
            f"<td>{tuned_from('ssim', '.3f')}{num(e.get('ssim'), '.3f')}</td>"
            f"<td>{num(e.get('distance'), '.4f')} <small>{esc(str(e.get('loss') or ''))}</small></td>"
            f"<td>{status}{extra}</td><td><small>{esc(e.get('note') or '')}</small></td></tr>"
        )
    skipped_html = ""
    if skipped:
        items = "".join(f"<li>{esc(p)}: {esc(r)}</li>" for p, r in skipped)
        skipped_html = f"<h2>Skipped ({len(skipped)})</h2><ul>{items}</ul>"
    setting_text = esc(", ".join(f"{k}: {v}" for k, v in settings.items()))
    tuning_text = ""
    if settings.get("pivotal_tuning"):
        tuning_text = ("With pivotal tuning: PSNR and SSIM show the reconstruction before &rarr; after tuning the "
                       "shared blocks; reconstructions and translations are rendered with the tuned blocks.")
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>freezeg translation summary</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: middle; }}
img, video {{ image-rendering: pixelated; min-height: 96px; }}
tr.poor {{ background: #fde8e8; }}
.flag {{ color: #b00; font-weight: bold; }}
</style></head><body>
<h1>Translation summary</h1>
<p>{len(entries)} input{'' if len(entries) == 1 else 's'}; {poor_count} flagged as poor inversions
(PSNR below {poor_psnr:g} dB): a translation is only as good as the projection it starts from.
Panels: source | reconstruction by the source generator | translation by the target generator.
{tuning_text}</p>
<p><small>{setting_text}</small></p>
<table><tr><th>panel</th><th>input</th><th>PSNR (dB)</th><th>SSIM</th><th>distance</th><th>status</th><th>note</th></tr>
{chr(10).join(rows)}
</table>
{skipped_html}
</body></html>
"""
    path = Path(out_dir) / SUMMARY_FILE
    write_text(path, page)
    return path
