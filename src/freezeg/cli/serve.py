"""`freezeg serve`: the translation web page (Gradio; `pip install 'freezeg[app]'`)."""

from __future__ import annotations

import argparse
import logging

from ..app.studio import Studio
from ..app.uploads import DEFAULT_MAX_UPLOAD_MB
from ..models.checkpoint import load_generator
from ..translate import DEFAULT_POOR_PSNR
from ..utils.devices import resolve_device
from .common import add_common, add_inversion, make_inversion

log = logging.getLogger("freezeg")

APP_HINT = "freezeg serve needs Gradio: pip install 'freezeg[app]'"
DEFAULT_STEPS = 300  # a page answers in seconds, whichever recipe: the stylegan2 recipe alone defaults to 1000 W steps
DEFAULT_SPACE = "w+"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="a web page to translate images (upload, seed, sliders) in the browser",
                       description="Serve a page where you upload an image (or a latent file, or pick a seed), watch "
                                   "it projected with the source generator and translated with a target, and change "
                                   "truncation, style mixing and per-block layer blending live. Needs the app extra: "
                                   "pip install 'freezeg[app]'.")
    p.add_argument("--source", required=True, help="source generator checkpoint (inverts uploads, maps seeds)")
    p.add_argument("--target", required=True, action="append", metavar="TARGET",
                   help="fine-tuned target checkpoint; give several times for a choice on the page")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB,
                   help=f"largest upload accepted, in MB (default {DEFAULT_MAX_UPLOAD_MB:g})")
    p.add_argument("--poor-psnr", type=float, default=DEFAULT_POOR_PSNR, help="flag reconstructions below this PSNR (dB)")
    add_inversion(p, steps=DEFAULT_STEPS, space=DEFAULT_SPACE)
    add_common(p)
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    try:
        from ..app.page import launch
    except ImportError as e:
        raise ValueError(f"{APP_HINT} ({e})") from None
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1-65535, got {args.port}")
    if args.max_upload_mb <= 0:
        raise ValueError(f"--max-upload-mb must be positive, got {args.max_upload_mb:g}")
    device = resolve_device(args.device)
    # An --init encoder is checked against the source it is to serve.
    source = load_generator(args.source, device=device).eval() if args.init else None
    studio = Studio.from_files(args.source, args.target, make_inversion(args, device, source), device=device,
                               poor_psnr=args.poor_psnr, max_upload_mb=args.max_upload_mb)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s: anyone who can reach this machine can use the page", args.host)
    log.info("freezeg serve: http://%s:%d (source %s; target%s %s); Ctrl-C stops",
             "127.0.0.1" if args.host == "0.0.0.0" else args.host, args.port, args.source,
             "s" if len(args.target) > 1 else "", ", ".join(args.target))
    try:
        launch(studio, host=args.host, port=args.port)
    finally:
        studio.close()
    return 0
