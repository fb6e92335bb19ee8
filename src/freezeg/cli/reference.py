"""The command-line reference as Markdown, generated from the argparse parsers (docs/cli.md),
so the documentation cannot drift from the flags."""

from __future__ import annotations

import argparse
import os

from . import build_parser


def _subcommands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser]]:
    """(full command, parser) for every leaf subcommand under `parser`, in registration order."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _subcommands(sub, f"{prefix} {name}")
                found.extend(nested or [(f"{prefix} {name}", sub)])
    return found


def cli_reference() -> str:
    """One section per command: its one-line summary and its full --help text."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; pages get a fixed width
    summaries = {}
    root = build_parser()
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {a.dest: a.help for a in action._choices_actions}
    parts = []
    for command, parser in _subcommands(root, "freezeg"):
        summary = summaries.get(command.split()[1], "")
        parts.append(f"### {command}\n\n{summary[:1].upper() + summary[1:]}.\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)
