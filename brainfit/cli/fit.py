"""``brainfit fit``: fit one model to one dataset and write its per-region score Datasets.

Every model fitted into the same ``--out`` folder shares its ``splits.json`` (written by the first
fit, read by the next), so ``brainfit compare`` can pair them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from brainfit.cli._common import add_model_arguments, model_from_args, parse_overrides

__all__ = ["add_parser"]

MAPS = ("one_to_one", "constant", "graded")


def _alphas(value: list[int] | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    lo, hi = value
    if not lo < hi:
        raise ValueError(f"--alphas LO HI: LO must be below HI, got {lo} {hi}")
    return tuple(float(10.0**k) for k in range(lo, hi + 1))


def _cmd_fit(args: argparse.Namespace) -> int:
    from brainfit.activations import RandomProjection
    from brainfit.assembly import average_repetitions
    from brainfit.data import load_dataset
    from brainfit.device import resolve_device
    from brainfit.mapping import RidgeMapping, Splits, make_splits
    from brainfit.report import dataset_sha256
    from brainfit.scoring import fit_model, has_ceiling, save_scores
    from brainfit.temporal import TemporalMap

    device = resolve_device(args.device)  # bad options fail before anything is loaded or written
    for name, least in (("n_bootstrap", 0), ("projection_width", 0), ("n_folds", 2)):
        if getattr(args, name) < least:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {least}, got {getattr(args, name)}")
    alphas = _alphas(args.alphas)
    model, model_id = model_from_args(args)
    name = args.name or model_id
    kind = args.map or ("one_to_one" if getattr(model, "is_recurrent", False) else "constant")
    tmap = TemporalMap.from_dict({"kind": kind, **({"latency_ms": args.latency_ms} if kind == "one_to_one" else {})})
    dataset_kwargs = parse_overrides(args.dataset_set, "--dataset-set")
    stimuli, neural = load_dataset(args.dataset, **dataset_kwargs)
    if stimuli is None:
        raise ValueError(f"dataset {args.dataset!r} has no stimulus images, so no model can be fitted to it")
    present = sorted(set(map(str, neural.coords["region"].values))) if "region" in neural.coords else []
    if not present:
        raise ValueError(f"dataset {args.dataset!r} has no 'region' coord on its neuroids: brainfit fit scores "
                         "per region (add one, e.g. region='IT', when building the assembly)")
    regions = args.regions or present
    missing = [r for r in regions if r not in present]
    if missing:
        raise ValueError(f"--regions {missing} not in dataset {args.dataset!r}; regions present: {present}")
    layers = args.layers
    if layers is not None and hasattr(model, "layers"):
        absent = [layer for layer in layers if layer not in list(model.layers)]
        if absent:
            raise ValueError(f"--layers {absent} not in model {name!r}; its layers: {list(model.layers)}")
    out = Path(args.out)
    if args.splits and not Path(args.splits).is_file():
        raise FileNotFoundError(f"--splits {args.splits}: no such file (leave --splits out to make new splits, "
                                "written to OUT/splits.json)")
    splits_path = Path(args.splits) if args.splits else out / "splits.json"
    avg = average_repetitions(neural)
    if splits_path.exists():
        splits = Splits.load(splits_path)
        splits.check_stimuli(avg.coords["stimulus_id"].values, name=f"dataset {args.dataset!r} (splits {splits_path})")
        print(f"splits: {splits_path} ({splits.n_folds} folds, seed {splits.seed}, fingerprint {splits.fingerprint}; "
              "--n-folds and --splits-seed apply to new splits only)")
    else:
        splits = make_splits(avg, n_folds=args.n_folds, seed=args.splits_seed)
    dataset = {"name": args.dataset, "kwargs": dataset_kwargs, "sha256": dataset_sha256(neural),
               "n_stimuli": len(stimuli), "n_neuroids": int(neural.sizes["neuroid"]), "regions": regions}
    t0 = time.perf_counter()
    fit, by_region, info = fit_model(
        model, stimuli, neural, name=name, label=args.label, temporal_map=tmap, regions=regions, splits=splits,
        layers=layers, n_steps=args.n_steps, on_steps=args.on_steps,
        projection=RandomProjection(width=args.projection_width, seed=args.projection_seed)
        if args.projection_width else None, cache=args.cache_dir or True, device=device,
        mapping=RidgeMapping(alphas=alphas) if alphas else None, n_bootstrap=args.n_bootstrap, seed=args.score_seed,
        progress=not args.quiet, attrs={"dataset": dataset})
    out.mkdir(parents=True, exist_ok=True)
    if not splits_path.exists():
        splits.save(splits_path)
    written = [save_scores(ds, out / "scores" / f"{name}_{region}.nc") for region, ds in by_region.items()]
    written.append(save_scores(fit, out / "scores" / f"{name}_layers.nc"))
    print(f"{name} ({info['weights']}, {kind} map) on {args.dataset} in {time.perf_counter() - t0:.0f} s:")
    for region, ds in by_region.items():
        what = "ceiled" if has_ceiling(ds) else "r"  # no single trials: no ceiling
        med = ds[f"median_{what}"].values
        print(f"  {region}: median {'raw r (no ceiling: no single trials)' if what == 'r' else 'ceiled score'} "
              f"{float(_nanmean(med)):.3f} (mean over bins), layer(s) chosen on training folds "
              f"{', '.join(info['layers_selected'][region])}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _nanmean(x):  # no warning for an all-NaN region
    import numpy as np

    return np.nanmean(x) if np.isfinite(x).any() else float("nan")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``fit`` subcommand."""
    p = sub.add_parser("fit", help="fit one model to a dataset (cross-validated ridge per time bin) and score it")
    add_model_arguments(p)
    p.add_argument("--name", help="the model's name in the results (default: the registry name)")
    p.add_argument("--label", help="display name in tables and figures (default: the name)")
    p.add_argument("--dataset", default="synthetic", help="registered dataset (see `brainfit datasets list`)")
    p.add_argument("--dataset-set", nargs="*", metavar="KEY=VALUE", help="dataset loader options")
    p.add_argument("--map", choices=MAPS,
                   help="temporal map: model steps -> neural bins (default: one_to_one for recurrent models, "
                        "constant for feedforward ones)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="latency offset of the one_to_one map (ms)")
    p.add_argument("--regions", nargs="*", help="regions to score (default: every region of the dataset)")
    p.add_argument("--layers", nargs="*", help="candidate layers (default: all); chosen per region on training folds")
    p.add_argument("--n-steps", type=int, help="unroll length (default: the model's own)")
    p.add_argument("--on-steps", type=int, help="steps the image is shown (default: the model's own)")
    p.add_argument("--splits", help="splits file to use (default: OUT/splits.json when present, else new splits "
                                    "written there)")
    p.add_argument("--n-folds", type=int, default=10, help="outer folds of new splits (default 10)")
    p.add_argument("--splits-seed", type=int, default=0)
    p.add_argument("--projection-width", type=int, default=512,
                   help="random features per layer (default 512; 0: none)")
    p.add_argument("--projection-seed", type=int, default=0)
    p.add_argument("--alphas", type=int, nargs=2, metavar=("LO", "HI"),
                   help="ridge penalties 10**LO .. 10**HI, one per decade (default: the library's)")
    p.add_argument("--n-bootstrap", type=int, default=500, help="stimulus resamples of the CIs (default 500)")
    p.add_argument("--score-seed", type=int, default=0, help="seed of the ceiling splits and the bootstrap")
    p.add_argument("--cache-dir", help="activation cache folder")
    p.add_argument("--device", default=None)
    p.add_argument("--out", default="results/fit", help="results folder (default results/fit)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_fit)
