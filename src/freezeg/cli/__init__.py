"""The `freezeg` command: one entry point, one module per group of subcommands.

Command modules only parse arguments and call library functions. Errors the user can fix
(bad files, bad options) print one line and exit with code 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import (
    bench,
    compare,
    convert,
    data,
    generate,
    inspect,
    inversion,
    metrics,
    project,
    serve,
    stylize,
    sweep,
    train,
    translate,
)

# Each module has register(subparsers), which adds its parsers and sets `func`.
COMMAND_MODULES = [
    generate, inspect, convert, data, train, compare, project, translate, inversion, metrics, sweep, stylize, serve,
    bench,
]

EXIT_USAGE = 2


class CommandError(Exception):
    """A problem with the user's input, reported as one line with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freezeg",
        description="StyleGAN2 transfer learning with frozen layers and pseudo image-to-image translation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO,
        format="%(message)s",
    )
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("freezeg: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, OSError) as e:
        if getattr(args, "debug", False):
            raise
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"freezeg: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    return int(result or 0)
