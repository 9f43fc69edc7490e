"""The ``brainfit`` command.

Subcommands register themselves through small ``add_*_parser(subparsers)`` functions so that each
module keeps its own options; this file only wires them together.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from brainfit import __version__

__all__ = ["main", "build_parser", "parse_overrides"]

log = logging.getLogger("brainfit")


def parse_overrides(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"error: expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


# ----------------------------------------------------------------------------- datasets


def summarize_neural(neural) -> list[str]:
    """Human-readable summary lines of a neural assembly (shapes, regions, bins, repetitions)."""
    from brainfit.assembly import REGION, has_repetitions

    lines = [f"dims: {dict(neural.sizes)}"]
    n_stim = len(np.unique(neural.stimulus_id.values))
    lines.append(f"stimuli: {n_stim}")
    if has_repetitions(neural):
        _, counts = np.unique(neural.stimulus_id.values, return_counts=True)
        lines.append(f"repetitions per stimulus: {counts.min()}-{counts.max()} (median {int(np.median(counts))})")
    if REGION in neural.coords:
        regions, counts = np.unique(neural.coords[REGION].values.astype(str), return_counts=True)
        lines.append("neuroids per region: " + ", ".join(f"{r}={c}" for r, c in zip(regions, counts)))
    s, e = neural.time_bin_start.values, neural.time_bin_end.values
    width = np.unique(e - s)
    lines.append(f"time bins: {len(s)} from {s[0]:g} to {e[-1]:g} ms (width {', '.join(f'{w:g}' for w in width)} ms)")
    return lines


def _cmd_datasets(args: argparse.Namespace) -> int:
    from brainfit.data import dataset_info, list_datasets, load_dataset

    if args.datasets_cmd == "list":
        for name in list_datasets():
            info = dataset_info(name)
            needs = " (needs data root)" if info.needs_data_root else ""
            print(f"{name:24s} {info.description}{needs}")
        return 0
    kwargs = parse_overrides(args.set)
    stimuli, neural = load_dataset(args.name, **kwargs)
    print(f"dataset: {args.name}")
    if stimuli is not None:
        print(f"stimulus set: {stimuli!r}")
    for line in summarize_neural(neural):
        print(line)
    for line in reliability_lines(neural):
        print(line)
    return 0


def reliability_lines(neural) -> list[str]:
    """Per-region, per-bin median split-half reliability lines (needs single trials)."""
    from brainfit.assembly import REGION, has_repetitions, select_region

    if not has_repetitions(neural):
        return ["reliability: not available (no single trials)"]
    from brainfit.scoring import split_half_ceiling

    lines = ["median split-half reliability (Spearman-Brown) per time bin:"]
    starts = neural.time_bin_start.values
    regions = sorted(set(neural.coords[REGION].values.astype(str))) if REGION in neural.coords else [None]
    header = "  bin start (ms): " + " ".join(f"{s:5.0f}" for s in starts)
    lines.append(header)
    for region in regions:
        part = neural if region is None else select_region(neural, region)
        rel = split_half_ceiling(part, n_splits=20)
        med = np.median(rel.values, axis=0)
        lines.append(f"  {str(region or 'all'):>14s}: " + " ".join(f"{m:5.2f}" for m in med))
    return lines


def _add_datasets_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list and inspect datasets")
    dsub = p.add_subparsers(dest="datasets_cmd", required=True)
    dsub.add_parser("list", help="registered datasets")
    show = dsub.add_parser("show", help="shapes, regions, bins and reliability of a dataset")
    show.add_argument("name")
    show.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="loader options, e.g. images_per_object=4")
    p.set_defaults(func=_cmd_datasets)


# ----------------------------------------------------------------------------- demo


def _cmd_demo(args: argparse.Namespace) -> int:
    from brainfit.demo import run_demo

    run_demo(out=args.out, quick=args.quick, device=args.device, progress=not args.no_progress)
    return 0


def _add_demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end run on the embedded synthetic ventral stream")
    p.add_argument("--out", default="results/demo", help="output folder (default: results/demo)")
    p.add_argument("--quick", action="store_true", help="smaller dataset, for a fast check")
    p.add_argument("--device", help="cpu (default), cuda or auto")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (tables are still printed)")
    p.set_defaults(func=_cmd_demo)


# ----------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every subcommand)."""
    parser = argparse.ArgumentParser(prog="brainfit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"brainfit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_datasets_parser(sub)
    _add_demo_parser(sub)
    for module, fn in _PLUGINS:
        try:
            mod = __import__(module, fromlist=[fn])
        except ModuleNotFoundError as err:
            if err.name != module:  # a broken import inside the module is a bug: surface it
                raise
            continue
        getattr(mod, fn)(sub)
    return parser


# Subcommands contributed by subpackages: (module, function adding the parser).
_PLUGINS: list[tuple[str, str]] = [
    ("brainfit.models.cli", "add_models_parser"),
    ("brainfit.training.cli", "add_train_parser"),
    ("brainfit.activations", "add_extract_parser"),
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainfit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as err:
        print(f"brainfit: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
