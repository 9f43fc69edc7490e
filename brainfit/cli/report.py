"""``brainfit report RESULTS_DIR``: one self-contained HTML page (figures embedded) summarising a
results folder: summary, leaderboard, figures, statistics tables, settings and provenance."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def _cmd_report(args: argparse.Namespace) -> int:
    from brainfit.report import write_report

    print(write_report(args.results_dir, args.out, title=args.title))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser("report", help="one self-contained HTML page summarising a results folder")
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="a results folder (e.g. written by `brainfit demo`)")
    p.add_argument("--out", help="the HTML file to write (default: RESULTS_DIR/report.html)")
    p.add_argument("--title", help="the page title (default: 'brainfit report: <folder name>')")
    p.set_defaults(func=_cmd_report)
