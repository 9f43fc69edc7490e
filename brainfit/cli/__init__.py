"""The ``brainfit`` command: one module per command group, wired together here.

Each command module has ``add_parser(subparsers)``; it parses options, calls the library and
prints. The library never prints and never imports this package.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from brainfit import __version__
from brainfit.cli import compare, datasets, demo, extract, fit, models, report, train, zoo
from brainfit.cli._common import parse_overrides

__all__ = ["main", "build_parser", "parse_overrides"]

# Command groups in the order `brainfit --help` lists them.
_COMMANDS = (datasets, models, train, extract, fit, compare, report, demo, zoo)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every subcommand)."""
    parser = argparse.ArgumentParser(prog="brainfit", description="Time-resolved comparison of recurrent and "
                                     "feedforward vision models with primate ventral-stream recordings.")
    parser.add_argument("--version", action="version", version=f"brainfit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainfit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, TypeError, OSError, RuntimeError) as err:
        # Bad input ends in one line naming the problem; -vv shows the traceback as well.
        if args.verbose >= 2:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"brainfit: error: {message}", file=sys.stderr)
        return 2
