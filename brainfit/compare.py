"""Comparing models scored on the same splits, stimuli and neuroids: paired statistics per time
bin, and tidy tables of scores.

Every comparison is paired: both score Datasets (from :func:`brainfit.scoring.fit_and_score` or
:func:`~brainfit.scoring.score_predictions`) must come from the same splits (their fingerprint),
hold the same neuroids in the same order and the same time bins; :func:`check_paired` refuses
anything else and names what differs.

:func:`paired_differences` is descriptive: per bin, the median over reliable neuroids of the
paired difference, the fraction of neuroids where the first model is higher, and a two-sided
Wilcoxon signed-rank test over neuroids with Benjamini-Hochberg control over bins
(``scipy.stats.false_discovery_control``). Resampling stimuli and cluster tests over bins are the
next step of this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import false_discovery_control, wilcoxon

from brainfit.assembly import NEUROID_ID, TIME_BIN_END, TIME_BIN_START

__all__ = ["check_paired", "fdr_bh", "paired_differences", "per_bin_table", "paired_table"]

#: Fewest neuroids with a nonzero difference for which a bin gets a Wilcoxon p-value.
MIN_NEUROIDS_FOR_TEST = 6


def check_paired(a: xr.Dataset, b: xr.Dataset) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` were scored on the same splits, neuroids and bins."""
    fa = (a.attrs.get("splits") or {}).get("fingerprint")
    fb = (b.attrs.get("splits") or {}).get("fingerprint")
    if fa is None or fb is None or fa != fb:
        raise ValueError(f"paired comparisons need both models scored on the same splits (fingerprints {fa!r} and "
                         f"{fb!r}); pass the same Splits object to every fit")
    ids_a = np.asarray(a.coords[NEUROID_ID].values).astype(str) if NEUROID_ID in a.coords else None
    ids_b = np.asarray(b.coords[NEUROID_ID].values).astype(str) if NEUROID_ID in b.coords else None
    if ids_a is None or ids_b is None or not np.array_equal(ids_a, ids_b):
        raise ValueError("paired comparisons need both score sets on the same neuroids in the same order "
                         f"({0 if ids_a is None else len(ids_a)} and {0 if ids_b is None else len(ids_b)} neuroid ids)")
    for c in (TIME_BIN_START, TIME_BIN_END):
        va, vb = np.asarray(a.coords[c].values, float), np.asarray(b.coords[c].values, float)
        if va.shape != vb.shape or not np.allclose(va, vb):
            raise ValueError(f"paired comparisons need the same time bins: {c} {va.tolist()} vs {vb.tolist()}")


def fdr_bh(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaNs (untested bins) stay NaN and are not in the family."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = false_discovery_control(p[ok], method="bh")
    return out


def paired_differences(a: xr.Dataset, b: xr.Dataset, metric: str = "ceiled") -> pd.DataFrame:
    """Per-bin paired comparison of model ``a`` against model ``b`` over neuroids.

    Parameters
    ----------
    a, b : Dataset
        Scores with ``metric`` (neuroid x time_bin) and ``reliable`` (neuroid x time_bin), from
        the same splits, neuroids and bins (:func:`check_paired`).
    metric : {"ceiled", "r"}

    Returns
    -------
    DataFrame, one row per time bin: ``time_bin_start``, ``time_bin_end``, ``n`` (reliable
    neuroids with finite differences), ``median_diff`` (median of ``a - b``), ``frac_higher``
    (fraction with ``a > b``), ``p`` (two-sided Wilcoxon signed-rank over neuroids; NaN with
    fewer than :data:`MIN_NEUROIDS_FOR_TEST` neuroids or all differences zero) and ``p_fdr``
    (Benjamini-Hochberg over bins).
    """
    if metric not in ("ceiled", "r"):
        raise ValueError(f"metric must be 'ceiled' or 'r', got {metric!r}")
    check_paired(a, b)
    diff = (a[metric] - b[metric]).transpose(..., "time_bin").values
    reliable = a["reliable"].transpose(..., "time_bin").values & b["reliable"].transpose(..., "time_bin").values
    n_bins = diff.shape[1]
    med, frac, p = np.full(n_bins, np.nan), np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    n = np.zeros(n_bins, dtype=int)
    for t in range(n_bins):
        d = diff[reliable[:, t] & np.isfinite(diff[:, t]), t]
        n[t] = len(d)
        if len(d) == 0:
            continue
        med[t], frac[t] = np.median(d), np.mean(d > 0)
        if len(d) >= MIN_NEUROIDS_FOR_TEST and np.any(d != 0):
            p[t] = wilcoxon(d).pvalue
    return pd.DataFrame({
        "time_bin_start": np.asarray(a.coords[TIME_BIN_START].values, float),
        "time_bin_end": np.asarray(a.coords[TIME_BIN_END].values, float),
        "n": n, "median_diff": med, "frac_higher": frac, "p": p, "p_fdr": fdr_bh(p),
    })


def per_bin_table(scores: Mapping[str, Mapping[str, xr.Dataset]]) -> pd.DataFrame:
    """Tidy per-bin summary of many models and regions.

    Parameters
    ----------
    scores : mapping ``model -> {region -> Dataset}``
        Score Datasets (no layer dim: one readout per neuroid, e.g. the selected layer's
        predictions scored with :func:`~brainfit.scoring.score_predictions`).

    Returns
    -------
    DataFrame with columns ``model``, ``region``, ``time_bin_start``, ``time_bin_end``,
    ``median_ceiled``, ``ci_low``, ``ci_high`` (bootstrap CI of the median ceiled score; NaN
    without a bootstrap), ``median_r``, ``n_reliable``.
    """
    frames = []
    for model, by_region in scores.items():
        for region, ds in by_region.items():
            ci = ds["median_ceiled_ci"].transpose("time_bin", "bound").values if "median_ceiled_ci" in ds else None
            n = ds.sizes["time_bin"]
            frames.append(pd.DataFrame({
                "model": model, "region": region,
                "time_bin_start": np.asarray(ds.coords[TIME_BIN_START].values, float),
                "time_bin_end": np.asarray(ds.coords[TIME_BIN_END].values, float),
                "median_ceiled": ds["median_ceiled"].values.astype(float),
                "ci_low": ci[:, 0] if ci is not None else np.full(n, np.nan),
                "ci_high": ci[:, 1] if ci is not None else np.full(n, np.nan),
                "median_r": ds["median_r"].values.astype(float),
                "n_reliable": ds["n_reliable"].values.astype(int),
            }))
    if not frames:
        raise ValueError("scores is empty: pass {model: {region: score Dataset}}")
    return pd.concat(frames, ignore_index=True)


def paired_table(scores: Mapping[str, Mapping[str, xr.Dataset]], base: str, others: Sequence[str],
                 metric: str = "ceiled") -> pd.DataFrame:
    """:func:`paired_differences` of ``base`` against each of ``others`` in every region, as one tidy table.

    Returns
    -------
    DataFrame with columns ``model``, ``control``, ``region`` and those of :func:`paired_differences`.
    """
    if base not in scores:
        raise ValueError(f"base model {base!r} is not among the scores {list(scores)}")
    frames = []
    for other in others:
        if other not in scores:
            raise ValueError(f"model {other!r} is not among the scores {list(scores)}")
        for region, ds in scores[base].items():
            if region not in scores[other]:
                raise ValueError(f"model {other!r} has no scores for region {region!r}")
            d = paired_differences(ds, scores[other][region], metric=metric)
            d.insert(0, "region", region)
            d.insert(0, "control", other)
            d.insert(0, "model", base)
            frames.append(d)
    if not frames:
        raise ValueError("nothing to compare: give at least one other model")
    return pd.concat(frames, ignore_index=True)
