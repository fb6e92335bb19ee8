"""The Reliability table: faults injected into real commands on tiny models, and what happened.

Every row runs `python -m freezeg ...` in a child process with FREEZEG_FAULTS set
(freezeg/utils/faults.py), then checks the outcome the way a user would see it:

- disk full (ENOSPC, or EFBIG/EIO) at each kind of file a user keeps: exit code 2, one line on
  stderr naming the file, no traceback, nothing half-written under the real name, and the same
  command (with --resume where it has one) finishing afterwards;
- NaN gradients at training steps: the run skips, reloads, and ends with finite weights;
- SIGKILL at 10 random points of train, finetune, sweep, translate and encoder train: the
  rerun finishes and ends bit-identical to an uninterrupted run (weights, pictures);
- hostile files given to the CLI: refused with one line.

    python scripts/fault_table.py --out runs/faults      # about 10 minutes on 2 cores

Prints a Markdown table and writes runs/faults/faults.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

QUICK = ["--batch", "4", "--augment", "none", "--eval-images", "0", "--device", "cpu", "-q"]
TINY = ["--size", "16", "--style-dim", "16", "--n-mlp", "2", "--channels", "4:16,8:16,16:8"]


def freezeg(args, faults: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FREEZEG_FAULTS"}
    env["OMP_NUM_THREADS"] = "1"
    if faults:
        env["FREEZEG_FAULTS"] = faults
    return subprocess.run([sys.executable, "-m", "freezeg", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def files(folder: Path) -> dict[str, bytes]:
    """Every finished file under `folder` (dot-named temporaries left by a kill excluded) with its bytes."""
    if folder.is_file():
        return {folder.name: folder.read_bytes()}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def weights(path: Path) -> dict[str, torch.Tensor]:
    data = torch.load(path, map_location="cpu", weights_only=True)
    if "state" in data:  # an encoder file
        return data["state"]
    return {f"{part}.{k}": v for part in ("g", "d", "g_ema") if part in data for k, v in data[part].items()}


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def error_line(done: subprocess.CompletedProcess) -> str | None:
    """The error line when the command refused its input (exit 2, no traceback); warnings may come first."""
    lines = done.stderr.strip().splitlines()
    if done.returncode == 2 and "Traceback" not in done.stderr and lines and lines[-1].startswith("freezeg: error: "):
        return lines[-1][len("freezeg: error: "):]
    return None


def one_line_error(done: subprocess.CompletedProcess) -> str | None:
    """The error line when the command failed as it should (exit 2, one line, no traceback)."""
    err = done.stderr.strip()
    if done.returncode == 2 and err.count("\n") == 0 and "Traceback" not in err and err.startswith("freezeg: error: "):
        return err[len("freezeg: error: "):]
    return None


class Table:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, fault: str, command: str, ok: bool, what: str) -> None:
        self.rows.append({"fault": fault, "command": command, "ok": ok, "what": what})
        print(f"{'ok  ' if ok else 'FAIL'} {fault} | {command} | {what}", flush=True)

    def markdown(self) -> str:
        lines = ["| fault | command | result | what happened |", "|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['fault']} | `{r['command']}` | {'ok' if r['ok'] else '**failed**'} | {r['what']} |")
        return "\n".join(lines)


def setup(work: Path) -> dict:
    """Tiny data, a source with D, a fine-tune (a target), a photo folder, a video."""
    from PIL import Image

    from freezeg.data.synthetic import write_domain

    write_domain("cartoon", 12, 16, work / "cartoon", seed=1)
    write_domain("blobs", 3, 16, work / "photos", seed=2)
    assert freezeg(["train", work / "cartoon", "--out", work / "src", *TINY, *QUICK, "--steps", "2",
                    "--sample-seeds", "0", "--cache-dir", work / "cache"]).returncode == 0
    frames = [Image.open(p).convert("RGB") for p in sorted((work / "photos").rglob("*.png"))][:3]
    frames[0].save(work / "clip.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {"src": work / "src", "cartoon": work / "cartoon", "photos": work / "photos", "gif": work / "clip.gif",
            "cache": work / "cache"}


# ---------------------------------------------------------------------------- disk full
def disk_rows(t: Table, w: dict, out: Path) -> None:
    finetune = ["finetune", w["cartoon"], "--from", w["src"], "--steps", "4", "--ckpt-every", "2", "--sample-every", "2",
                "--sample-seeds", "4", "--cache-dir", w["cache"], *QUICK]
    translate = ["translate", w["photos"], "--source", w["src"], "--target", w["src"], "--steps", "3", "--device", "cpu", "-q"]
    cases = [
        ("checkpoint (step-*.pt)", finetune, "step-0000002.pt", ["--resume"], "ENOSPC"),
        ("checkpoint, file size limit", finetune, "step-0000004.pt", ["--resume"], "EFBIG"),
        ("run options (run.json)", finetune, "run.json", [], "ENOSPC"),
        ("sample grid (samples/*.png)", finetune, "step-0000002.png", ["--resume"], "EIO"),
        ("latent file (latents/*.pt)", translate, "*.pt", [], "ENOSPC"),
        ("translated picture (*000001.png)", translate, "*000001.png", [], "ENOSPC"),
        ("pivotal tuning (.pti)", [*translate, "--pivotal-tuning", "--pt-steps", "2"], "*.pti", [], "ENOSPC"),
        ("translation records (fidelity.json)", translate, "fidelity.json", [], "ENOSPC"),
        ("video frames (.gif)", ["translate", w["gif"], "--source", w["src"], "--target", w["src"], "--steps", "2",
                                 "--device", "cpu", "-q"], "*.gif", [], "ENOSPC"),
        ("encoder file", ["encoder", "train", "--ckpt", w["src"], "--steps", "4", "--batch", "4", "--width", "8",
                          "--save-every", "2", "--device", "cpu", "-q"], "enc.pt", ["--resume"], "ENOSPC"),
        ("sweep summary (sweep.json)", ["sweep", w["cartoon"], "--from", w["src"], "--freeze-g", "0,1", "--steps", "2",
                                        "--batch", "4", "--augment", "none", "--structure-seeds", "4", "--grid-seeds", "2",
                                        "--cache-dir", w["cache"], "--device", "cpu", "-q"], "sweep.json", [], "ENOSPC"),
        ("prepared dataset (.zip)", ["prepare", w["cartoon"], "--size", "16"], "data.zip", [], "ENOSPC"),
    ]
    for i, (what, cmd, glob, again, code) in enumerate(cases):
        target = out / f"disk{i}"
        dest = target / "enc.pt" if cmd[:2] == ["encoder", "train"] else target / "data.zip" if cmd[0] == "prepare" else target
        args = [*cmd, "--out", dest]
        done = freezeg(args, faults=f"fail@write={glob}:{code}")
        line = one_line_error(done)
        leftovers = [p.name for p in (target.rglob(glob) if target.is_dir() else [])]
        rerun = freezeg([*args, *again])
        ok = line is not None and not leftovers and rerun.returncode == 0
        shown = line if line else f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
        t.add(f"{code} writing the {what}", "encoder train" if cmd[0] == "encoder" else cmd[0], ok,
              f"{shown.replace(str(out) + '/', '')}; rerun{' ' + ' '.join(again) if again else ''}: exit {rerun.returncode}")


# ---------------------------------------------------------------------------- NaN
def nan_rows(t: Table, w: dict, out: Path) -> None:
    for steps in ("3", "3-5", "2-30"):
        run = out / f"nan{steps}"
        done = freezeg(["finetune", w["cartoon"], "--from", w["src"], "--steps", "8", "--ckpt-every", "2",
                        "--nan-patience", "3", "--sample-seeds", "0", "--cache-dir", w["cache"], "--out", run,
                        *[a for a in QUICK if a != "-q"]], faults=f"nan@step={steps}")
        last = sorted((run / "checkpoints").glob("step-*.pt"))
        finite = bool(last) and all(torch.isfinite(v).all() for v in weights(last[-1]).values())
        state = torch.load(last[-1], weights_only=True)["freezeg"]["train_state"] if last else {}
        if steps == "2-30":  # every step from 2 on: nothing can train, and the run must say so
            warned = "skipped as non-finite" in done.stderr
            ok = done.returncode == 0 and "Traceback" not in done.stderr and finite and warned
            what = (f"exit {done.returncode}, finite weights, {state.get('recoveries')} reloads; it ends saying "
                    f"\"{next((l.strip() for l in done.stderr.splitlines() if 'skipped as non-finite' in l), '(nothing)')[:90]}...\"")
        else:
            ok = done.returncode == 0 and finite
            what = (f"finished at step 8 with finite weights; {state.get('recoveries')} reload(s), "
                    f"lr scale {state.get('lr_scale')}")
        t.add(f"NaN gradients at step {steps}", "finetune --nan-patience 3", ok, what)


# ---------------------------------------------------------------------------- kills
def kill_rows(t: Table, w: dict, out: Path, kills: int, rng: random.Random) -> None:
    train = ["train", w["cartoon"], *TINY, "--steps", "8", "--ckpt-every", "2", "--deterministic", "--sample-seeds", "2",
             "--sample-every", "4", "--cache-dir", w["cache"], *QUICK]
    finetune = ["finetune", w["cartoon"], "--from", w["src"], "--freeze-g", "1", "--steps", "8", "--ckpt-every", "2",
                "--deterministic", "--sample-seeds", "2", "--sample-every", "4", "--cache-dir", w["cache"], *QUICK]
    sweep = ["sweep", w["cartoon"], "--from", w["src"], "--freeze-g", "0,1", "--steps", "3", "--batch", "4",
             "--augment", "none", "--structure-seeds", "4", "--grid-seeds", "2", "--deterministic",
             "--cache-dir", w["cache"], "--device", "cpu", "-q"]
    translate = ["translate", w["photos"], "--source", w["src"], "--target", w["src"], "--steps", "3", "--batch", "1",
                 "--device", "cpu", "-q"]
    encoder = ["encoder", "train", "--ckpt", w["src"], "--steps", "8", "--batch", "4", "--width", "8",
               "--save-every", "2", "--device", "cpu", "-q"]
    plans = [  # command, points with how often they are reached, how to go on, what must match
        ("train", train, {"step": 8, "write": 12}, ["--resume"], "checkpoints/step-0000008.pt"),
        ("finetune", finetune, {"step": 8, "write": 12}, ["--resume"], "checkpoints/step-0000008.pt"),
        ("sweep", sweep, {"step": 6, "write": 20, "setting": 3}, [], "g1/checkpoints/step-0000003.pt"),
        ("translate", translate, {"item": 3, "write": 12}, [], None),
        ("encoder train", encoder, {"step": 8, "write": 4}, ["--resume"], "enc.pt"),
    ]
    for name, cmd, points, again, compare in plans:
        file_out = name == "encoder train"
        whole = out / f"kill-{name.replace(' ', '-')}-whole"
        assert freezeg([*cmd, "--out", whole / "enc.pt" if file_out else whole]).returncode == 0
        for k in range(kills):
            point = rng.choice(sorted(points))
            n = rng.randint(1, points[point])
            cut = out / f"kill-{name.replace(' ', '-')}-{k}"
            dest = cut / "enc.pt" if file_out else cut
            done = freezeg([*cmd, "--out", dest], faults=f"kill@{point}={n}")
            was_killed = done.returncode == -signal.SIGKILL
            rerun = freezeg([*cmd, "--out", dest, *again])
            if compare:
                same = rerun.returncode == 0 and same_weights(whole / compare, cut / compare)
                how = "weights bit-identical to the uninterrupted run"
            else:
                a, b = files(whole), files(cut)
                pictures = [k for k in a if k.endswith(".png")]
                same = rerun.returncode == 0 and all(a[k] == b.get(k) for k in pictures) and set(a) == set(b)
                how = f"all {len(pictures)} pictures byte-identical to the uninterrupted run"
            state = "killed" if was_killed else f"not reached (exit {done.returncode})"
            t.add(f"SIGKILL at {point} #{n}", name, was_killed and same if was_killed else same,
                  f"{state}; rerun{' ' + ' '.join(again) if again else ''}: exit {rerun.returncode}, "
                  f"{how if same else 'DIFFERENT from the uninterrupted run'}")


# ---------------------------------------------------------------------------- hostile files
class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo owned > /tmp/freezeg-fault-owned",))


def hostile_rows(t: Table, w: dict, out: Path) -> None:
    bad = out / "hostile"
    bad.mkdir(parents=True, exist_ok=True)
    with open(bad / "code.pt", "wb") as f:
        pickle.dump({"g_ema": _RunsCode()}, f)
    with open(bad / "code.pkl", "wb") as f:
        pickle.dump({"G_ema": _RunsCode()}, f)
    torch.save({"ws": torch.full((6, 16), float("nan"))}, bad / "nan-latent.pt")
    torch.save({"ws": torch.zeros(9, 3, 2)}, bad / "shape-latent.pt")
    (bad / "text.png").write_text("no picture\n")
    (bad / "empty.pt").write_bytes(b"")
    cases = [
        ("a checkpoint that is a pickle with code", ["inspect", bad / "code.pt"]),
        ("an NVlabs .pkl with code", ["convert", bad / "code.pkl", "--out", out / "converted.pt"]),
        ("a latent full of NaN", ["translate", bad / "nan-latent.pt", "--source", w["src"], "--target", w["src"],
                                  "--out", out / "h1", "--device", "cpu"]),
        ("a latent of the wrong shape", ["translate", bad / "shape-latent.pt", "--source", w["src"], "--target", w["src"],
                                         "--out", out / "h2", "--device", "cpu"]),
        ("text named .png", ["project", bad / "text.png", "--ckpt", w["src"], "--out", out / "h3", "--device", "cpu"]),
        ("an empty checkpoint", ["generate", "--ckpt", bad / "empty.pt", "--seeds", "0", "--out", out / "h4"]),
    ]
    for what, cmd in cases:
        Path("/tmp/freezeg-fault-owned").unlink(missing_ok=True)
        done = freezeg(cmd)
        line = error_line(done)
        ran = Path("/tmp/freezeg-fault-owned").exists()
        t.add(f"hostile file: {what}", cmd[0], line is not None and not ran,
              (line or f"exit {done.returncode}: {done.stderr.strip()[-160:]}").replace(str(out) + "/", "")
              + ("; ITS CODE RAN" if ran else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/faults", help="work folder (made fresh; the table goes to faults.json)")
    ap.add_argument("--kills", type=int, default=10, help="random kill points per command")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="comma list of: disk,nan,kill,hostile")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out}: exists and is not empty; give a fresh --out")
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    w = setup(out / "setup")
    t = Table()
    parts = {"disk": lambda: disk_rows(t, w, out), "nan": lambda: nan_rows(t, w, out),
             "kill": lambda: kill_rows(t, w, out, args.kills, random.Random(args.seed)),
             "hostile": lambda: hostile_rows(t, w, out)}
    for name in (args.only.split(",") if args.only else parts):
        parts[name]()
    print()
    print(t.markdown())
    failed = sum(not r["ok"] for r in t.rows)
    print(f"\n{len(t.rows)} faults tried, {failed} not handled, {time.time() - start:.0f} s")
    (out / "faults.json").write_text(json.dumps({"rows": t.rows, "seconds": time.time() - start}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
