"""``brainfit compare SCORES... --baseline M``: paired statistics, leaderboard, figures and report.

SCORES are results folders (written by ``brainfit fit``, ``brainfit zoo run`` or ``brainfit demo``:
their complete results are found by their manifests, :func:`brainfit.zoo.read_results_folder`;
``--dataset`` picks one of several datasets), or per-region score files and folders of them
(``scores/<model>_<region>.nc``, as older versions wrote). Every other model is compared with the
baseline (``model - baseline``) per region and time bin; the per-layer files give the layer x bin
figures. Defaults are the zoo's (:class:`brainfit.zoo.CompareSettings`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "collect_scores"]

_TAILS = {"two-sided": 0, "greater": 1, "less": -1}


def _score_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted((p / "scores").glob("*.nc")) if (p / "scores").is_dir() else sorted(p.glob("*.nc"))
            if not found:
                raise ValueError(f"{p} holds no score files (*.nc, or scores/*.nc)")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"score file or folder not found: {p}")
    return files


def collect_scores(paths: list[str], dataset: str | None = None,
                   readout: str | None = None) -> tuple[dict, dict, dict]:
    """``(scores, fits, models)`` from results folders, score files or folders of them:
    ``scores[model][region]`` (per-region Datasets), ``fits[model]`` (per-layer fits) and
    ``models[model]`` (the model attrs). ``readout`` picks one readout of results holding both
    (score files of other readouts are left out); models under two readouts are never compared."""
    from brainfit.scoring import load_scores
    from brainfit.zoo import read_results_folder

    scores: dict = {}
    fits: dict = {}
    models: dict = {}
    files = []
    for p in paths:
        if not (Path(p) / "results").is_dir():
            files.append(p)
            continue
        found = read_results_folder(p, dataset, readout)
        for name, by_region in found["scores"].items():
            if name in scores:
                raise ValueError(f"model {name!r} has results in two of the folders (the second is {p})")
            scores[name] = by_region
        fits.update(found["fits"])
        models.update(found["models"])
    for f in _score_files(files) if files else []:
        ds = load_scores(f)
        if readout is not None and ds.attrs.get("readout", "per_bin") != readout:
            continue
        model = ds.attrs.get("model")
        name = model.get("name") if isinstance(model, dict) else None
        if name is None:
            raise ValueError(f"{f} has no model name in its attrs: compare score files written by `brainfit fit` "
                             "or `brainfit demo`")
        models[name] = model
        if "layer" in ds.dims:
            fits[name] = ds
            continue
        region = ds.attrs.get("region")
        if region is None:
            raise ValueError(f"{f} has no region in its attrs: compare per-region score files (scores/<model>_<region>.nc)")
        if region in scores.get(name, {}):
            raise ValueError(f"two score files for model {name!r} and region {region!r} (the second is {f})")
        scores.setdefault(name, {})[region] = ds
    if not scores:
        raise ValueError("no results or per-region score files among " + ", ".join(paths)
                         + (f" with the {readout!r} readout" if readout else ""))
    found_readouts = {m: {ds.attrs.get("readout", "per_bin") for ds in by.values()} for m, by in scores.items()}
    kinds = sorted(set().union(*found_readouts.values()))
    if len(kinds) > 1:
        example = ", ".join(f"{m}: {sorted(r)}" for m, r in list(found_readouts.items())[:4])
        raise ValueError(f"the scores mix readouts {kinds} (e.g. {example}): give --readout")
    return scores, fits, models


def _windows(pairs: list[str] | None) -> dict | None:
    if not pairs:
        return None
    out = {}
    for pair in pairs:
        name, sep, bounds = pair.partition("=")
        lo, sep2, hi = bounds.partition(":")
        try:
            if not (sep and sep2 and name):
                raise ValueError
            out[name] = (float(lo) if lo else None, float(hi) if hi else None)
        except ValueError:
            raise ValueError(f"--window: expected NAME=START:END in ms (either end may be empty), got {pair!r}") from None
    return out


def _cmd_compare(args: argparse.Namespace) -> int:
    from brainfit._io import atomic_write_json
    from brainfit.compare import ComparisonSettings, resolve_metric
    from brainfit.report import provenance, write_comparison, write_report

    windows = _windows(args.window)
    scores, fits, models = collect_scores(args.scores, args.dataset, args.readout)
    metric = resolve_metric(args.metric, scores)  # auto: ceiled, unless the data had no single trials
    settings = ComparisonSettings(metric=metric, n_permutations=args.n_permutations,
                                  n_bootstrap=args.n_bootstrap, alpha=args.alpha, cluster_alpha=args.cluster_alpha,
                                  tail=_TAILS[args.tail], seed=args.seed)
    if args.baseline not in scores:
        raise ValueError(f"--baseline {args.baseline!r} is not among the scored models {sorted(scores)}")
    if len(scores) < 2:
        raise ValueError(f"only one model ({args.baseline!r}) among the scores: nothing to compare it with")
    if args.out:
        out = Path(args.out)
    else:
        parents = {Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent for p in args.scores}
        parents = {p.parent if p.name == "scores" else p for p in parents}
        if len(parents) != 1:
            raise ValueError("the scores come from several folders: say where the results go with --out DIR")
        out = parents.pop()
    regions = args.regions or list(scores[args.baseline])
    labels = {m: (models[m].get("label") or m) for m in scores}
    pairs = [(m, args.baseline) for m in scores if m != args.baseline]
    written = write_comparison(out, scores, pairs=pairs, regions=regions, labels=labels,
                               fits={m: f for m, f in fits.items() if m in scores}, windows=windows, settings=settings,
                               leaderboard_bootstrap=args.n_bootstrap)
    first = next(iter(scores[args.baseline].values()))
    atomic_write_json(out / "provenance.json", provenance(
        command="brainfit compare " + " ".join(args.scores) + f" --baseline {args.baseline}",
        dataset=first.attrs.get("dataset"), splits=first.attrs.get("splits"),
        models=[models[m] for m in scores], settings={**settings.to_dict(), "windows": windows or "default"}))
    print(written["summary"], end="")
    print(f"tables in {out}/ (leaderboard.md, comparison/per_bin.csv, comparison/clusters.csv), figures in "
          f"{out / 'figures'}/")
    if not args.no_report:
        print(f"report: {write_report(out)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    from brainfit.zoo import CompareSettings

    defaults = CompareSettings()
    p = sub.add_parser("compare", help="paired per-bin statistics of models against a baseline, leaderboard, figures")
    p.add_argument("scores", nargs="+", metavar="SCORES",
                   help="results folders (of brainfit fit, zoo run, demo) or score files")
    p.add_argument("--dataset", help="the dataset to compare on, in results folders holding several")
    p.add_argument("--readout", choices=("per_bin", "shared"),
                   help="the readout to compare, in results holding both (brainfit zoo/demo with readout: both)")
    p.add_argument("--baseline", required=True, help="the model every other one is compared with")
    p.add_argument("--out", help="results folder (default: the folder the scores are in)")
    p.add_argument("--regions", nargs="*", help="regions (default: the baseline's)")
    p.add_argument("--metric", choices=("auto", "ceiled", "r"), default=defaults.metric,
                   help="score the tests and the leaderboard use (default: ceiled, or raw r when the data had no "
                        "single trials and so no ceiling)")
    p.add_argument("--n-permutations", type=int, default=defaults.n_permutations,
                   help=f"sign-flip patterns (default {defaults.n_permutations})")
    p.add_argument("--n-bootstrap", type=int, default=defaults.n_bootstrap,
                   help=f"bootstrap resamples of the CIs (default {defaults.n_bootstrap})")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--cluster-alpha", type=float, default=0.05, help="per-bin threshold forming clusters (default 0.05)")
    p.add_argument("--tail", choices=tuple(_TAILS), default="two-sided")
    p.add_argument("--window", nargs="*", metavar="NAME=START:END",
                   help="leaderboard windows in ms (default early=70:150 late=150:260 all=:)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the permutations and resamples")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.set_defaults(func=_cmd_compare)
