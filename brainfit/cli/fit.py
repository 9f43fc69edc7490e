"""``brainfit fit``: fit one model to one dataset, through the one pipeline.

The flags become a one-model zoo config (:class:`brainfit.zoo.ZooConfig`: the model entry of
:func:`brainfit.zoo.entries.model_entry`, the dataset, the mapping and split settings, every
default the zoo's), run in this process (:func:`brainfit.zoo.run_zoo`, ``workers=0``) into the
zoo's result layout under ``--out``. Every model fitted into one folder draws the same folds
(they are a function of the data, ``--n-folds`` and ``--splits-seed``, written to
``OUT/splits/``), so ``brainfit compare OUT`` pairs them.
"""

from __future__ import annotations

import argparse
from typing import Any

from brainfit.cli._common import add_model_arguments, check_trained_weights, parse_overrides

__all__ = ["add_parser", "fit_config"]

MAPS = ("one_to_one", "constant", "graded")


def _model_entry(args: argparse.Namespace) -> dict[str, Any]:
    """The zoo ``models:`` entry of the model flags (weights never chosen silently)."""
    kwargs = parse_overrides(args.model_set, "--model-set")
    if args.checkpoint:
        entry: dict[str, Any] = {"checkpoints": args.checkpoint, **({"model": args.model} if args.model else {})}
    elif not args.model:
        raise ValueError("give --model NAME (with --pretrained, --random-init) or --checkpoint PATH")
    elif args.random_init:
        entry = {"model": args.model, "weights": "random", "seed": args.seed, **({"kwargs": kwargs} if kwargs else {})}
    else:
        check_trained_weights(args, kwargs)
        entry = {"model": args.model}
    for key, value in (("id", args.name), ("label", args.label), ("layers", args.layers), ("n_steps", args.n_steps),
                       ("on_steps", args.on_steps)):
        if value is not None:
            entry[key] = value
    latency = None
    if args.latency_ms is not None:  # one latency, or a grid chosen on training folds
        latency = args.latency_ms[0] if len(args.latency_ms) == 1 else list(args.latency_ms)
    if args.map is not None:
        entry["temporal_map"] = {"kind": args.map, **({"latency_ms": latency} if args.map == "one_to_one"
                                                      and latency is not None else {})}
    elif latency is not None:
        raise ValueError("--latency-ms sets the one_to_one map's latency: give it with --map one_to_one")
    if args.control is not None:
        entry["control"] = args.control
    return entry


def fit_config(args: argparse.Namespace) -> Any:
    """The one-model :class:`~brainfit.zoo.ZooConfig` of ``brainfit fit``'s flags."""
    from brainfit.zoo import ZooConfig

    dataset: dict[str, Any] = {"name": args.dataset}
    kwargs = parse_overrides(args.dataset_set, "--dataset-set")
    if kwargs:
        dataset["kwargs"] = kwargs
    if args.regions:
        dataset["regions"] = args.regions
    mapping = {k: getattr(args, k) for k in ("projection_width", "projection_seed", "n_bootstrap")
               if getattr(args, k) is not None}
    if args.alphas is not None:
        mapping["ridge_log10_alphas"] = list(args.alphas)
    if args.score_seed is not None:
        mapping["seed"] = args.score_seed
    if args.readout is not None:
        mapping["readout"] = args.readout
    splits = {k: v for k, v in (("n_folds", args.n_folds), ("seed", args.splits_seed), ("file", args.splits))
              if v is not None}
    d = {"name": "fit", "out": args.out, "datasets": [dataset], "models": [_model_entry(args)], "mapping": mapping,
         "splits": splits, **({"cache": args.cache_dir} if args.cache_dir else {})}
    return ZooConfig.from_dict(d)


def _cmd_fit(args: argparse.Namespace) -> int:
    from brainfit.cli.zoo import Printer
    from brainfit.device import resolve_device
    from brainfit.scoring import has_ceiling
    from brainfit.zoo import run_zoo
    from brainfit.zoo.results import load_results

    device = resolve_device(args.device)  # bad options fail before anything is loaded or written
    config = fit_config(args)
    summary = run_zoo(config, workers=0, device=device, on_event=None if args.quiet else Printer())
    plan = summary["plan"]
    for fit in plan.fits:
        facts = plan.models[fit.model.id]
        print(f"{fit.model.id} ({facts['weights']}, {facts['temporal_map']['kind']} map, {fit.readout} readout) on "
              f"{fit.dataset.id}:")
        results = load_results(plan, [fit], readout=fit.readout)
        for region in fit.regions:
            ds = results[(fit.model.id, fit.dataset.id, region)]
            what = "ceiled" if has_ceiling(ds) else "r"  # no single trials: no ceiling
            print(f"  {region}: median {'raw r (no ceiling: no single trials)' if what == 'r' else 'ceiled score'} "
                  f"{_nanmean(ds[f'median_{what}'].values):.3f} (mean over bins), layer(s) chosen on training folds "
                  f"{', '.join(sorted(set(ds['selected_layer'].values.astype(str).tolist())))}")
        print(f"wrote {fit.folder} (compare with: brainfit compare {config.out} --baseline MODEL)")
    return 0


def _nanmean(x: Any) -> float:  # no warning for an all-NaN region
    import numpy as np

    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``fit`` subcommand (defaults: the zoo's, :mod:`brainfit.zoo.config`)."""
    p = sub.add_parser("fit", help="fit one model to a dataset (cross-validated ridge per time bin) and score it")
    add_model_arguments(p)
    p.add_argument("--name", help="the model's id in the results (default: the registry name; "
                                  "<name>_random<seed> for --random-init)")
    p.add_argument("--label", help="display name in tables and figures (default: the id)")
    p.add_argument("--dataset", default="synthetic", help="registered dataset (see `brainfit datasets list`)")
    p.add_argument("--dataset-set", nargs="*", metavar="KEY=VALUE", help="dataset loader options")
    p.add_argument("--map", choices=MAPS, help="temporal map: model steps -> neural bins (default: one_to_one, "
                                               "latency 0, when the model's output varies over time steps, else constant)")
    p.add_argument("--latency-ms", type=float, nargs="+",
                   help="latency of the one_to_one map (ms; with --map one_to_one); several values: a grid, the "
                        "latency chosen per region on training folds (e.g. 0 10 20 ... 100)")
    p.add_argument("--control", choices=("static", "time_shuffled"),
                   help="score the model as a control: its own best single step copied to every bin (static) or "
                        "its steps shuffled per stimulus (time_shuffled)")
    p.add_argument("--readout", choices=("per_bin", "shared", "both"),
                   help="one ridge map per time bin (per_bin, the default), one map shared by every bin (shared), "
                        "or both")
    p.add_argument("--regions", nargs="*", help="regions to score (default: every region of the dataset)")
    p.add_argument("--layers", nargs="*", help="candidate layers (default: all); chosen per region on training folds")
    p.add_argument("--n-steps", type=int, help="unroll length (default: the model's own)")
    p.add_argument("--on-steps", type=int, help="steps the image is shown (default: the model's own)")
    p.add_argument("--splits", help="a splits file to use instead of drawing folds")
    p.add_argument("--n-folds", type=int, help="outer folds (default 10)")
    p.add_argument("--splits-seed", type=int, help="seed of the folds (default 0)")
    p.add_argument("--projection-width", type=int, help="random features per layer (default 512; 0: all features)")
    p.add_argument("--projection-seed", type=int, help="seed of the random features (default 0)")
    p.add_argument("--alphas", type=int, nargs=2, metavar=("LO", "HI"),
                   help="ridge penalties 10**LO .. 10**HI, one per decade (default -2 10)")
    p.add_argument("--n-bootstrap", type=int, help="stimulus resamples of the CIs (default 500)")
    p.add_argument("--score-seed", type=int, help="seed of the ceiling splits and the bootstrap (default 0)")
    p.add_argument("--cache-dir", help="activation cache folder (default OUT/activations)")
    p.add_argument("--device", default=None)
    p.add_argument("--out", default="results/fit", help="results folder (default results/fit)")
    p.add_argument("--quiet", action="store_true", help="no line per task")
    p.set_defaults(func=_cmd_fit)
