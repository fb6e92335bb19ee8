"""Metric results as readable tables and as JSON files."""

from __future__ import annotations


def format_realism(result: dict) -> str:
    """Table of a realism result (metrics.realism.realism plus 'real'/'fake' descriptions)."""
    n = result["images"]
    lines = [f"realism at {result['size']}px: {n['real']} real images ({result.get('real', 'real')}) "
             f"vs {n['fake']} generated ({result.get('fake', 'fake')})"]
    swd = result["swd"]
    levels = [k for k in swd if k != "avg"]
    lines.append("  SWD x1e3   " + "  ".join(f"{k + 'px':>7}" for k in levels) + "      avg")
    lines.append("             " + "  ".join(f"{swd[k]:7.2f}" for k in levels) + f"  {swd['avg']:7.2f}")
    if result["fid"] is not None:
        k = result["kid"]
        network = f"  ({result['inception']})" if result.get("inception") else ""
        lines.append(f"  FID        {result['fid']:.3f}{network}")
        lines.append(f"  KID        {k['mean']:.5f} +- {k['std']:.5f}  ({k['subsets']} subsets of {k['subset_size']})")
    else:
        lines.append("  FID, KID   not computed (no Inception network)")
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def format_structure(result: dict, source: str, translated: str, lowest: int = 3) -> str:
    """Table of a structure report (StructureReport.as_dict plus 'fitted')."""
    lines = [f"structure of {result['pairs']} pairs ({source} -> {translated})"]
    baseline = result["shuffled_baseline"]
    chance = f"; shuffled pairs score {baseline:.3f}" if baseline is not None else ""
    lines.append(f"  score      {result['mean']:.3f} +- {result['std']:.3f}  (1: same edges, 0: unrelated{chance})")
    lines.append("  per level  " + "  ".join(f"{side}px {v:.3f}" for side, v in result["levels"].items()))
    worst = sorted(result["per_pair"].items(), key=lambda kv: kv[1])[:lowest]
    if len(result["per_pair"]) > lowest:
        lines.append("  lowest     " + ", ".join(f"{name} {v:.3f}" for name, v in worst))
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def format_lpips(result: dict, source: str, translated: str, lowest: int = 3) -> str:
    """Table of paired LPIPS distances ({'pairs', 'mean', 'std', 'per_pair', 'notes'})."""
    lines = [f"LPIPS (VGG, v0.1) of {result['pairs']} pairs ({source} -> {translated})",
             f"  distance   {result['mean']:.4f} +- {result['std']:.4f}  (0: identical; lower is closer)"]
    worst = sorted(result["per_pair"].items(), key=lambda kv: -kv[1])[:lowest]
    if len(result["per_pair"]) > lowest:
        lines.append("  farthest   " + ", ".join(f"{name} {v:.4f}" for name, v in worst))
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)
