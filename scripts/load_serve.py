"""Load test of `freezeg serve`: N concurrent visitors for a while, through its program API.

Each visitor is a gradio_client.Client of its own and loops until the time is up: it translates
its own picture (/translate), renders its own seed (/render), or uploads something hostile (a PNG
whose header claims 100k x 100k pixels, a 6000 x 6000 decompression bomb, a latent .pt that is
a pickle wanting to run code, latents of the wrong shape or full of NaN, text named .png).
A good request counts as answered only when the answer is the visitor's own: the PSNR of the
returned reconstruction against the visitor's picture matches the PSNR the server reports, and
a seed's images equal those drawn for that seed before the load started. A hostile upload counts
as refused when the server answers with an error and then goes on serving.

Prints answered/failed, p50/p95 latency, the server's RSS over time (before, peak, after the
visitors left) and writes everything to --json.

    python scripts/load_serve.py --source SRC.pt --target TGT.pt --visitors 8 --minutes 10 \\
        --steps 50 --json runs/load/v8.json        # starts its own `freezeg serve` and stops it
    python scripts/load_serve.py --url http://127.0.0.1:7860/ --pid PID --visitors 32 ...

Needs the app extra (gradio, which brings gradio_client).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

Image.MAX_IMAGE_PIXELS = None  # this script writes the bomb; only the server must refuse it
ARRIVAL_GAP = 0.5  # seconds between two visitors' arrivals
REQUEST_TIMEOUT = 600.0  # seconds a visitor waits for one answer (a queue of 32 projections is long)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


# ---------------------------------------------------------------------------- hostile files
class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo owned > /tmp/freezeg-load-owned",))


def _png_with_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def write_hostile(folder: Path, num_ws: int, style_dim: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "header-100k.png").write_bytes(_png_with_header(100_000, 100_000))
    Image.new("L", (6000, 6000)).save(folder / "bomb-6000.png", optimize=True)  # 36 MP from about 35 kB
    with open(folder / "runs-code.pt", "wb") as f:
        pickle.dump({"ws": _RunsCode()}, f)
    torch.save({"ws": torch.zeros(num_ws + 3, style_dim + 1, 2)}, folder / "wrong-shape.pt")
    torch.save({"ws": torch.full((num_ws, style_dim), float("nan"))}, folder / "nan.pt")
    (folder / "text.png").write_text("not a picture\n")
    return sorted(folder.iterdir())


# ---------------------------------------------------------------------------- visitors
@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"translate": [], "render": []})
    answered: int = 0
    failed: list[str] = field(default_factory=list)
    refused: int = 0  # hostile uploads answered with an error
    accepted_hostile: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def visitor(index: int, url: str, until: float, pictures: list[Path], seeds: dict[int, tuple], hostile: list[Path],
            tally: Tally) -> None:
    from gradio_client import Client, handle_file

    rng = random.Random(index)
    time.sleep(index * ARRIVAL_GAP)  # visitors arrive one after another, not in the same instant
    client = None
    while client is None and time.time() < until:
        try:
            client = Client(url, verbose=False, httpx_kwargs={"timeout": REQUEST_TIMEOUT})
        except Exception as e:  # the page did not load: a failed visit, then the visitor tries again
            with tally.lock:
                tally.failed.append(f"visitor {index}: connecting: {type(e).__name__}: {str(e)[:120]}")
            time.sleep(5)
    if client is None:
        return
    own = pictures[index % len(pictures)]
    own_pixels = np.asarray(Image.open(own).convert("RGB"))
    while time.time() < until:
        kind = rng.choices(["translate", "render", "hostile"], [0.45, 0.35, 0.2])[0]
        start = time.perf_counter()
        try:
            if kind == "translate":
                translation, reconstruction, reported = client.predict(handle_file(str(own)), api_name="/translate")
                got = psnr(np.asarray(Image.open(reconstruction).convert("RGB")), own_pixels)
                ok = Image.open(translation).size == Image.open(own).size and abs(got - reported) < 0.5
                why = f"visitor {index}: reconstruction at {got:.2f} dB of its own picture, server said {reported:.2f}"
            elif kind == "render":
                seed = rng.choice(list(seeds))
                a, b = client.predict(seed, 1.0, "", api_name="/render")
                ok = all(np.array_equal(np.asarray(Image.open(p).convert("RGB")), ref) for p, ref in zip((a, b), seeds[seed]))
                why = f"visitor {index}: seed {seed} came back different"
            else:
                bad = rng.choice(hostile)
                try:
                    client.predict(handle_file(str(bad)), api_name="/translate")
                except Exception:  # the server's error, as gradio_client raises it
                    with tally.lock:
                        tally.refused += 1
                    continue
                with tally.lock:
                    tally.accepted_hostile.append(bad.name)
                continue
        except Exception as e:  # a good request that failed
            ok, why = False, f"visitor {index}: {kind}: {type(e).__name__}: {str(e)[:200]}"
        seconds = time.perf_counter() - start
        with tally.lock:
            if ok:
                tally.answered += 1
                tally.latencies[kind].append(seconds)
            else:
                tally.failed.append(why)


def start_server(args) -> tuple[str, subprocess.Popen]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    log = open(Path(args.json).with_suffix(".server.log") if args.json else os.devnull, "w")
    cmd = [sys.executable, "-m", "freezeg", "serve", "--source", args.source, "--target", args.target,
           "--port", str(port), "--device", "cpu", "-q"] + (["--steps", str(args.steps)] if args.steps else [])
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return url, proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                sys.exit(f"freezeg serve did not start (see {log.name})")
            time.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running `freezeg serve` (else --source/--target start one)")
    ap.add_argument("--pid", type=int, help="its process id, for RSS (known when this script starts it)")
    ap.add_argument("--source", help="source checkpoint: start `freezeg serve` with it")
    ap.add_argument("--target", help="target checkpoint for the started server")
    ap.add_argument("--steps", type=int, help="projection steps of the started server (its default otherwise)")
    ap.add_argument("--visitors", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    from freezeg import load_generator
    from freezeg.generate.sampling import seeded_images
    from freezeg.utils.media import to_uint8

    proc = None
    if args.url is None:
        if not (args.source and args.target):
            ap.error("give --url, or --source and --target to start a server")
        url, proc = start_server(args)
        pid = proc.pid
    else:
        url, pid = args.url, args.pid
    work = Path(tempfile.mkdtemp(prefix="freezeg-load-"))
    try:
        from gradio_client import Client, handle_file

        client = Client(url, verbose=False, httpx_kwargs={"timeout": REQUEST_TIMEOUT})
        source = load_generator(args.source) if args.source else None
        size = source.size if source is not None else 32
        # Each visitor's own picture: a source sample, so its reconstruction is close and checkable.
        pictures = []
        if source is not None:
            for i, image in enumerate(to_uint8(seeded_images(source, list(range(1000, 1008))))):
                pictures.append(work / f"visitor-{i}.png")
                Image.fromarray(image).save(pictures[-1])
        else:
            for i in range(8):
                pictures.append(work / f"visitor-{i}.png")
                Image.fromarray(np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(pictures[-1])
        num_ws = source.num_ws if source is not None else 8
        hostile = write_hostile(work / "hostile", num_ws, source.style_dim if source is not None else 512)
        seeds = {}
        for seed in range(6):  # the answers every visitor must get for these seeds
            a, b = client.predict(seed, 1.0, "", api_name="/render")
            seeds[seed] = tuple(np.asarray(Image.open(p).convert("RGB")) for p in (a, b))
        client.predict(handle_file(str(pictures[0])), api_name="/translate")  # warm: the first projection
        before = rss_mb(pid) if pid else float("nan")
        tally, samples = Tally(), []
        until = time.time() + args.minutes * 60
        threads = [threading.Thread(target=visitor, args=(i, url, until, pictures, seeds, hostile, tally), daemon=True)
                   for i in range(args.visitors)]
        started = time.time()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            if pid:
                samples.append((round(time.time() - started, 1), round(rss_mb(pid), 1)))
            time.sleep(5)
        time.sleep(10)  # the visitors are gone; let the server settle
        after = rss_mb(pid) if pid else float("nan")
        alive = client.predict(0, 1.0, "", api_name="/render") is not None
        good = tally.answered + len(tally.failed)
        all_latencies = tally.latencies["translate"] + tally.latencies["render"]
        figures = {
            "visitors": args.visitors, "minutes": args.minutes, "url": url,
            "good_requests": good, "answered": tally.answered, "failed": len(tally.failed),
            "answered_share": tally.answered / good if good else float("nan"),
            "hostile_refused": tally.refused, "hostile_accepted": tally.accepted_hostile,
            "p50_s": float(np.percentile(all_latencies, 50)) if all_latencies else None,
            "p95_s": float(np.percentile(all_latencies, 95)) if all_latencies else None,
            "translate_p50_s": float(np.percentile(tally.latencies["translate"], 50)) if tally.latencies["translate"] else None,
            "translate_p95_s": float(np.percentile(tally.latencies["translate"], 95)) if tally.latencies["translate"] else None,
            "render_p50_s": float(np.percentile(tally.latencies["render"], 50)) if tally.latencies["render"] else None,
            "render_p95_s": float(np.percentile(tally.latencies["render"], 95)) if tally.latencies["render"] else None,
            "rss_before_mb": before, "rss_peak_mb": max([r for _, r in samples] or [before]), "rss_after_mb": after,
            "rss_samples": samples, "server_alive_after": alive, "failures": tally.failed[:20],
            "code_ran": Path("/tmp/freezeg-load-owned").exists(),
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{args.visitors} visitors, {args.minutes:g} min: {figures['answered']}/{good} good requests answered "
          f"({100 * figures['answered_share']:.1f}%), {len(tally.failed)} failed; {tally.refused} hostile uploads refused, "
          f"{len(tally.accepted_hostile)} accepted")
    if all_latencies:
        print(f"latency p50 {figures['p50_s']:.2f} s, p95 {figures['p95_s']:.2f} s "
              f"(translate p50 {figures['translate_p50_s'] or float('nan'):.2f} s; render p50 {figures['render_p50_s'] or float('nan'):.2f} s)")
    print(f"server RSS: {before:.0f} MB before, {figures['rss_peak_mb']:.0f} MB peak, {after:.0f} MB after; "
          f"alive after: {alive}; code from a pickle ran: {figures['code_ran']}")
    for line in tally.failed[:5]:
        print("  failed:", line)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    ok = not tally.failed and not tally.accepted_hostile and alive and not figures["code_ran"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
