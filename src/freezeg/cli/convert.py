"""`freezeg convert`: a checkpoint in any format we read (NVlabs .pkl included) to ours, or to NVlabs state dicts."""

from __future__ import annotations

import argparse
import logging

from ..models.checkpoint import load_checkpoint
from ..models.convert import TARGETS, convert, describe_config
from .common import add_common, check_output

log = logging.getLogger("freezeg")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a checkpoint (e.g. an NVlabs .pkl) to freezeg's format, or to NVlabs state dicts",
        description=__doc__,
    )
    p.add_argument("ckpt", help="checkpoint to read: NVlabs network pickle, rosinality or freezeg file, run folder")
    p.add_argument("--out", required=True, help="file to write")
    p.add_argument("--to", default="freezeg", choices=TARGETS,
                   help="freezeg: rosinality's layout + freezeg metadata (default); "
                        "nvlabs: NVlabs-named state dicts and constructor arguments")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = check_output(args.out, args.overwrite)
    ckpt = load_checkpoint(args.ckpt)
    path, parts = convert(ckpt, out, to=args.to)
    log.info("read %s (%s)", ckpt.path, ckpt.format)
    if ckpt.config is not None:
        log.info("config: %s", describe_config(ckpt.config))
    log.info("wrote %s (%s format: %s)", path, args.to, ", ".join(parts))
    return 0
