"""`freezeg prepare`: decode an image folder or zip once into a training-ready dataset."""

from __future__ import annotations

import argparse

from ..data.dataset import SHOWN_NAMES, prepare_dataset
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


def run_prepare(args: argparse.Namespace) -> int:
    ds = prepare_dataset(args.src, args.size, args.out, overwrite=args.overwrite)
    print(f"prepared {len(ds)} images at {ds.size}px from {args.src} into {args.out}")
    if ds.skipped:
        more = ", ..." if len(ds.skipped) > SHOWN_NAMES else ""
        print(f"skipped {len(ds.skipped)} unreadable files: {', '.join(ds.skipped[:SHOWN_NAMES])}{more}")
    if ds.upscaled:
        print(f"upscaled {ds.upscaled} images smaller than {ds.size}px")
    return 0
