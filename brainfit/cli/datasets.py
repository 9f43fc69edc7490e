"""``brainfit datasets list`` / ``brainfit datasets show NAME``: registered datasets, their shapes,
regions, time bins and per-bin reliability."""

from __future__ import annotations

import argparse

import numpy as np

from brainfit.cli._common import parse_overrides

__all__ = ["add_parser", "summarize_neural", "reliability_lines"]


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


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``datasets`` subcommand."""
    p = sub.add_parser("datasets", help="list and inspect datasets")
    dsub = p.add_subparsers(dest="datasets_cmd", required=True)
    dsub.add_parser("list", help="registered datasets")
    show = dsub.add_parser("show", help="shapes, regions, bins and reliability of a dataset")
    show.add_argument("name")
    show.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="loader options, e.g. images_per_object=4")
    p.set_defaults(func=_cmd_datasets)
