"""`freezeg prepare` (decode an image folder or zip once into a training-ready dataset) and
`freezeg synth` (render a synthetic demo domain as such a dataset)."""

from __future__ import annotations

import argparse

from ..data.dataset import SHOWN_NAMES, prepare_dataset
from ..data.synthetic import DOMAINS, write_domain
from .common import add_common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="resize images once into a dataset that trains without decoding",
        description="Read every image under SRC (folder, any depth, or zip; PNG/JPEG/WebP/BMP, any mode), "
        "centre-crop and resize it to SIZE, and write OUT: a .zip or a folder holding the RGB images "
        "as PNGs plus one uint8 array that training memory-maps. Unreadable files are skipped and counted.",
    )
    p.add_argument("src", help="image folder, zip of images, or prepared dataset")
    p.add_argument("--size", type=int, required=True, help="side of the square output images in pixels (the model size)")
    p.add_argument("--out", required=True, help="output: a path ending in .zip, or a folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common(p)
    p.set_defaults(func=run_prepare)

    p = sub.add_parser(
        "synth",
        help="render a synthetic demo domain (blobs, cartoon, sketch, star)",
        description="Render N scenes of one object in a domain's style and write them as a prepared dataset. "
        "Scene i of a seed has the same geometry (position, size, shape, pose) in every domain; "
        "use different seeds for the source and target training sets.",
    )
    p.add_argument("--domain", required=True, choices=DOMAINS, help="rendering style")
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--size", type=int, required=True, help="side of the square images in pixels")
    p.add_argument("--out", required=True, help="output: a folder, or a path ending in .zip")
    p.add_argument("--seed", type=int, default=0, help="which scenes (default: 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common(p)
    p.set_defaults(func=run_synth)


def run_prepare(args: argparse.Namespace) -> int:
    ds = prepare_dataset(args.src, args.size, args.out, overwrite=args.overwrite)
    print(f"prepared {len(ds)} images at {ds.size}px from {args.src} into {args.out}")
    if ds.skipped:
        more = ", ..." if len(ds.skipped) > SHOWN_NAMES else ""
        print(f"skipped {_count(len(ds.skipped), 'unreadable file')}: {', '.join(ds.skipped[:SHOWN_NAMES])}{more}")
    if ds.upscaled:
        print(f"upscaled {_count(ds.upscaled, 'image')} smaller than {ds.size}px")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def run_synth(args: argparse.Namespace) -> int:
    ds = write_domain(args.domain, args.n, args.size, args.out, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {len(ds)} {args.domain} images at {ds.size}px (seed {args.seed}) to {args.out}")
    return 0
