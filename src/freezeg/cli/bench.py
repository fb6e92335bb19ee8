"""`freezeg bench`: median seconds and peak memory per fixed-name workload."""

from __future__ import annotations

import argparse
import json

from ..benchmarks.bench import (
    DEFAULT_REPEAT,
    DEFAULT_THREADS,
    DEFAULT_WARMUP,
    WORKLOADS,
    format_comparison,
    format_table,
    run_benchmarks,
    select_workloads,
)
from ..utils.devices import resolve_device
from ..utils.precision import PRECISIONS, resolve_precision
from .common import add_common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="time the standard workloads (median seconds, peak memory)",
        description="Times each workload in its own process: median seconds per step after warm-up, "
        f"and its peak memory. Workloads: {', '.join(WORKLOADS)}.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: {workload: median s, peak_memory_mb, meta}")
    p.add_argument("--only", metavar="NAME[,NAME...]", help="run only these workloads")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS, help=f"torch CPU threads (default: {DEFAULT_THREADS})")
    p.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help=f"timed steps per workload (default: {DEFAULT_REPEAT})")
    p.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help=f"untimed steps first (default: {DEFAULT_WARMUP})")
    p.add_argument("--precision", choices=(*PRECISIONS, "both"), default="auto",
                   help="auto (default): bf16 where the device has native bfloat16, else fp32; "
                        "both: every workload in fp32, then in bf16, side by side with the speed-up")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = select_workloads(args.only)
    device = resolve_device(args.device)
    settings = dict(threads=args.threads, repeat=args.repeat, warmup=args.warmup)
    if args.precision == "both":
        fp32 = run_benchmarks(names, device, precision="fp32", **settings)
        bf16 = run_benchmarks(names, device, precision=resolve_precision("bf16", device), **settings)
        print(json.dumps({"fp32": fp32, "bf16": bf16}, indent=2) if args.json else format_comparison(fp32, bf16))
        return 0
    result = run_benchmarks(names, device, precision=resolve_precision(args.precision, device), **settings)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
