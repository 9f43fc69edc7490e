"""What the resample cache saves in a comparison run: ``write_comparison`` with one
:class:`~brainfit.compare.Resamples` shared by the contrasts and the leaderboard (each model's
stimulus resamples computed once) against ``resamples=False`` (every contrast resamples both of
its models, the leaderboard every model again: the code before the cache), in one process on the
same score Datasets, with the tables asserted identical (bit for bit).

The scores come from the library's own scoring: single trials (4 repetitions) of synthetic sites
with a stimulus-driven signal of varying strength per site and bin, and per model out-of-fold
predictions (the signal plus noise of a model-specific size) scored with ``score_predictions``
within 5 folds (``keep_predictions=True``). Default: 16 models, V4 and IT with 120 sites each,
480 stimuli, 19 bins of 10 ms (70-260 ms), 500 bootstrap resamples, 2000 sign-flip permutations,
8 contrasts (the first model against four others, four more pairs), leaderboard bootstrap 500.
Each variant is timed ``--repeat`` times, alternating, best kept; the statistics alone
(``compare_pairs`` + ``leaderboard``, no files or figures) are timed the same way.

Measured on the 2-core development machine (``OMP_NUM_THREADS=1``, other jobs sharing
it, so single timings move by a few seconds), two runs of the default::

    write_comparison   without cache  23.6 s / 22.3 s   with cache  12.3 s / 11.9 s   ratio 1.93x / 1.87x
    statistics only    without cache  18.8 s / 18.6 s   with cache   9.9 s /  9.8 s   ratio 1.90x / 1.90x
    32 stimulus-resample passes for 32 score Datasets (without the cache 64), 239 MiB held

and ``--models 18 --regions 1 --sites 240 --pairs 9``: write_comparison 22.3 s -> 13.4 s (1.67x),
statistics 23.0 s -> 11.6 s (1.98x), 18 passes instead of 36. The passes halve (each pair
resampled both its models, the leaderboard every model once more); what is left is one
``weighted_pearson`` pass per Dataset (about half the cached time), the medians, the neuroid
bootstrap and, in ``write_comparison``, the figures. A whole default run takes about 80 s.

Run from the repository root:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_report.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd
import xarray as xr


def build_scores(n_models: int, regions: list[str], n_sites: int, n_stimuli: int, n_bins: int, reps: int,
                 seed: int = 0) -> dict[str, dict[str, xr.Dataset]]:
    """``model -> {region -> score Dataset}`` from score_predictions on synthetic single trials."""
    from brainfit.assembly import neural_assembly, select_region
    from brainfit.mapping import make_splits
    from brainfit.scoring import score_predictions

    rng = np.random.default_rng(seed)
    starts = 70.0 + 10.0 * np.arange(n_bins)
    N = n_sites * len(regions)
    signal = rng.standard_normal((n_stimuli, N, n_bins))
    gain = rng.uniform(0.15, 1.5, (1, N, n_bins))  # weak sites fall below the reliability threshold
    ids = [f"s{i:04d}" for i in range(n_stimuli)]
    trials = signal[None] * gain + rng.standard_normal((reps, n_stimuli, N, n_bins))
    neural = neural_assembly(trials.reshape(reps * n_stimuli, N, n_bins), stimulus_id=ids * reps,
                             neuroid_id=[f"n{j:04d}" for j in range(N)],
                             repetition=np.repeat(np.arange(reps), n_stimuli),
                             region=[r for r in regions for _ in range(n_sites)], time_bin_start=starts,
                             time_bin_end=starts + 10.0)
    splits = make_splits(ids, n_folds=5, seed=0)
    region_of = neural.coords["region"].values
    scores: dict[str, dict[str, xr.Dataset]] = {}
    for m in range(n_models):
        pred = signal * gain + (0.4 + 0.12 * m) * rng.standard_normal(signal.shape)
        by_region = {}
        for region in regions:
            keep = region_of == region
            part = select_region(neural, region)
            da = xr.DataArray(pred[:, keep], dims=("presentation", "neuroid", "time_bin"),
                              coords={"stimulus_id": ("presentation", ids),
                                      "neuroid_id": ("neuroid", part.coords["neuroid_id"].values),
                                      "time_bin_start": ("time_bin", starts),
                                      "time_bin_end": ("time_bin", starts + 10.0)})
            by_region[region] = score_predictions(da, part, splits=splits, keep_predictions=True, n_bootstrap=0)
        scores[f"model_{m:02d}"] = by_region
    return scores


def contrasts(names: list[str], n_pairs: int) -> list[tuple[str, str]]:
    """The first model against the next ones (half the pairs), then neighbouring pairs."""
    first = [(names[0], n) for n in names[1:1 + n_pairs // 2]]
    rest = [(names[i], names[i + 1]) for i in range(1 + n_pairs // 2, len(names) - 1)]
    return (first + rest)[:n_pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small comparison (a check that it runs)")
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--sites", type=int, default=120, help="sites per region")
    parser.add_argument("--regions", type=int, default=2, choices=(1, 2))
    parser.add_argument("--stimuli", type=int, default=480)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--permutations", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1, help="timings per variant (alternating; best kept)")
    args = parser.parse_args()
    if args.quick:
        args.models, args.sites, args.stimuli, args.pairs, args.bootstrap, args.permutations = 6, 30, 120, 4, 100, 200
    from brainfit.compare import ComparisonSettings, Resamples, compare_pairs, leaderboard
    from brainfit.report import write_comparison

    regions = ["V4", "IT"][:args.regions]
    t = time.perf_counter()
    scores = build_scores(args.models, regions, args.sites, args.stimuli, n_bins=19, reps=4)
    t_build = time.perf_counter() - t
    pairs = contrasts(list(scores), args.pairs)
    settings = ComparisonSettings(n_bootstrap=args.bootstrap, n_permutations=args.permutations)
    n_rel = np.mean([ds["reliable"].values.mean() for by in scores.values() for ds in by.values()])
    print(f"{args.models} models x {len(regions)} region(s) x {args.sites} sites, {args.stimuli} stimuli, 19 bins "
          f"({100 * n_rel:.0f}% of site-bins reliable); {len(pairs)} contrasts, {args.bootstrap} resamples, "
          f"{args.permutations} permutations; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"scores built in {t_build:.1f} s")

    def run_folder(cache: bool) -> tuple[float, dict]:
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            written = write_comparison(out, scores, pairs=pairs, regions=regions, settings=settings,
                                       leaderboard_bootstrap=args.bootstrap, resamples=cache)
            return time.perf_counter() - t, written

    counts: dict[str, int] = {}

    def run_stats(cache: bool) -> tuple[float, dict]:
        t = time.perf_counter()
        held = Resamples() if cache else None
        c = compare_pairs(scores, pairs, regions, settings, resamples=held)
        board = leaderboard(scores, n_bootstrap=args.bootstrap, ci=settings.ci, seed=settings.seed, resamples=held)
        elapsed = time.perf_counter() - t
        if held is not None:
            counts.update(passes=held.n_computed, reused=held.n_reused, mib=held.nbytes // 2**20)
        return elapsed, {"per_bin": c.per_bin, "clusters": c.clusters, "leaderboard": board}

    for name, fn in (("write_comparison", run_folder), ("statistics only", run_stats)):
        times: dict[bool, list[float]] = {False: [], True: []}
        results: dict[bool, dict] = {}
        for _ in range(args.repeat):
            for cache in (False, True):
                elapsed, results[cache] = fn(cache)
                times[cache].append(elapsed)
        for key in ("leaderboard", "per_bin", "clusters"):
            pd.testing.assert_frame_equal(results[False][key], results[True][key], check_exact=True)
        if "summary" in results[True]:
            assert results[False]["summary"] == results[True]["summary"]
        off, on = min(times[False]), min(times[True])
        print(f"{name:17s}  without cache {off:7.1f} s   with cache {on:7.1f} s   ratio {off / on:5.2f}x   "
              "(tables identical, bit for bit)")
    n_datasets = sum(len(by) for by in scores.values())
    print(f"with the cache: {counts['passes']} stimulus-resample passes for {n_datasets} score Datasets "
          f"(without: {2 * sum(len(regions) for _ in pairs) + n_datasets}), {counts['reused']} answers reused, "
          f"{counts['mib']} MiB held")


if __name__ == "__main__":
    main()
