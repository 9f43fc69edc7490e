"""Tidy tables of scores: per-bin summaries and the leaderboard, and their Markdown form.

Leaderboard score of a model in a region and time window: the mean over the window's bins of
the per-bin median (over reliable neuroids) ceiled score (or raw r, ``metric="r"``, for data
without single trials) -- the average height of its
per-timestep curve there -- with a percentile CI from the stimulus bootstrap (the same
resamples for every model: :func:`~brainfit.compare.resample.stimulus_weights`) when the scores
carry out-of-fold predictions, else from a neuroid bootstrap (column ``ci_over`` says which).
The stimulus resamples hold the ceiling at its full-data estimate (as the paired differences do),
so these CIs leave out the ceiling's own sampling error and can be narrower than the per-bin CIs
of the score files, which resample it.

Windows: given ones must each hold a time bin of the data (an empty one is an error naming it);
by default (:data:`DEFAULT_WINDOWS`) the ones that hold no time bin of the scores are left out
(:func:`default_windows`), so data with one response window get the whole-response window only.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from brainfit.assembly import TIME_BIN, TIME_BIN_END, TIME_BIN_START
from brainfit.compare.paired import check_scores, has_predictions
from brainfit.scoring import DEFAULT_N_BOOTSTRAP, has_ceiling
from brainfit.compare.resample import (
    Resamples,
    neuroid_resampled_medians,
    percentile_ci,
    resampled_medians,
    stimulus_weights,
)

__all__ = ["DEFAULT_WINDOWS", "default_windows", "per_bin_table", "leaderboard", "window_bins", "to_markdown"]

#: Time windows (ms after onset) of the leaderboard: [start, end); None is open. Those that hold
#: no time bin of the scores are left out by default (:func:`default_windows`); "all" holds every bin.
DEFAULT_WINDOWS: dict[str, tuple[float | None, float | None]] = {
    "early": (70.0, 150.0), "late": (150.0, 260.0), "all": (None, None)}

Window = tuple[float | None, float | None]


#: How leaderboards average a window's bins: weighted by their reliable sites.
DEFAULT_WEIGHTING = "sites"


def per_bin_table(scores: Mapping[str, Mapping[str, xr.Dataset]]) -> pd.DataFrame:
    """Tidy per-bin summary of many models and regions.

    Parameters
    ----------
    scores : mapping ``model -> {region -> Dataset}``
        Score Datasets (one readout per neuroid, e.g. the selected layer's predictions scored
        with :func:`~brainfit.scoring.score_predictions`).

    Returns
    -------
    DataFrame with columns ``model``, ``region``, ``time_bin_start``, ``time_bin_end``,
    ``median_ceiled``, ``ci_low``, ``ci_high`` (bootstrap CI of the median ceiled score; NaN
    without a bootstrap), ``median_r``, ``ci_low_r``, ``ci_high_r`` (the same for raw r),
    ``n_reliable``.
    """
    frames = []
    for model, by_region in scores.items():
        for region, ds in by_region.items():
            ci = ds["median_ceiled_ci"].transpose(TIME_BIN, "bound").values if "median_ceiled_ci" in ds else None
            ci_r = ds["median_r_ci"].transpose(TIME_BIN, "bound").values if "median_r_ci" in ds else None
            n = ds.sizes[TIME_BIN]
            frames.append(pd.DataFrame({
                "model": model, "region": region,
                "time_bin_start": np.asarray(ds.coords[TIME_BIN_START].values, float),
                "time_bin_end": np.asarray(ds.coords[TIME_BIN_END].values, float),
                "median_ceiled": ds["median_ceiled"].values.astype(float),
                "ci_low": ci[:, 0] if ci is not None else np.full(n, np.nan),
                "ci_high": ci[:, 1] if ci is not None else np.full(n, np.nan),
                "median_r": ds["median_r"].values.astype(float),
                "ci_low_r": ci_r[:, 0] if ci_r is not None else np.full(n, np.nan),
                "ci_high_r": ci_r[:, 1] if ci_r is not None else np.full(n, np.nan),
                "n_reliable": ds["n_reliable"].values.astype(int),
            }))
    if not frames:
        raise ValueError("scores is empty: pass {model: {region: score Dataset}}")
    return pd.concat(frames, ignore_index=True)


def window_bins(starts: np.ndarray, ends: np.ndarray, window: tuple[float | None, float | None],
                name: str = "window") -> np.ndarray:
    """Boolean mask of the bins inside ``window = (start, end)`` ms (None: open); empty is an error."""
    if not (isinstance(window, (tuple, list)) and len(window) == 2):
        raise ValueError(f"{name} must be (start_ms, end_ms) with None for an open end, got {window!r}")
    lo, hi = window
    if lo is not None and hi is not None and not lo < hi:
        raise ValueError(f"{name} = {list(window)}: start must be before end")
    keep = np.ones(len(starts), dtype=bool)
    if lo is not None:
        keep &= np.asarray(starts) >= lo
    if hi is not None:
        keep &= np.asarray(ends) <= hi
    if not keep.any():
        raise ValueError(f"{name} = {list(window)} ms holds no time bin (bins {float(starts[0]):g}-"
                         f"{float(ends[-1]):g} ms)")
    return keep


def _holds_bins(ds: xr.Dataset, window: Window) -> bool:
    starts = np.asarray(ds.coords[TIME_BIN_START].values, float)
    ends = np.asarray(ds.coords[TIME_BIN_END].values, float)
    lo, hi = window
    keep = np.ones(len(starts), dtype=bool)
    if lo is not None:
        keep &= starts >= lo
    if hi is not None:
        keep &= ends <= hi
    return bool(keep.any())


def default_windows(scores: Mapping[str, Mapping[str, xr.Dataset]]) -> tuple[dict[str, Window], dict[str, Window]]:
    """The :data:`DEFAULT_WINDOWS` that fit these scores: ``(kept, left_out)``.

    A default window is left out when it holds no time bin of a score Dataset (the models of a
    comparison share their bins, so: of the data); ``"all"`` (the whole response) holds every
    bin and is always kept. Both dicts map ``name -> (start_ms, end_ms)`` in the order of
    :data:`DEFAULT_WINDOWS`.
    """
    kept: dict[str, Window] = {}
    left_out: dict[str, Window] = {}
    datasets = [ds for by_region in scores.values() for ds in by_region.values()]
    for model, by_region in scores.items():
        for region, ds in by_region.items():
            check_scores(ds, f"scores[{model!r}][{region!r}]")
    for name, window in DEFAULT_WINDOWS.items():
        if window == (None, None) or all(_holds_bins(ds, window) for ds in datasets):
            kept[name] = window
        else:
            left_out[name] = window
    return kept, left_out


def leaderboard(scores: Mapping[str, Mapping[str, xr.Dataset]], *,
                windows: Mapping[str, tuple[float | None, float | None]] | None = None,
                n_bootstrap: int = DEFAULT_N_BOOTSTRAP, ci: float = 0.95, seed: int = 0,
                labels: Mapping[str, str] | None = None, metric: str = "ceiled",
                resamples: Resamples | None = None, weighting: str | None = None) -> pd.DataFrame:
    """Model x region x time-window table of ceiled scores (or raw r) with CIs (module docstring).

    Parameters
    ----------
    scores : mapping ``model -> {region -> Dataset}``
    windows : mapping ``name -> (start_ms, end_ms)``, optional
        Each must hold a time bin of every Dataset. Default: :data:`DEFAULT_WINDOWS` without
        those that hold no time bin of the scores (:func:`default_windows`; ``"all"`` is always
        there).
    n_bootstrap, ci, seed
        Resamples, interval and seed of the CIs (0 resamples: no CI).
    labels : mapping ``model -> label``, optional
        Display names (column ``label``).
    metric : {"ceiled", "r"}
        What ``score`` is: the ceiled score, or raw ``r`` (data without single trials have no
        ceiling, so their ceiled scores are NaN; ranking them needs ``"r"``).
    resamples : Resamples, optional
        The resamples of a comparison of the same scores
        (:class:`~brainfit.compare.resample.Resamples`): a model already resampled there is
        not resampled again. Without it every model is resampled here.
    weighting : {"sites", "bins"}, optional
        How a window's bins are averaged: each by its number of reliable sites (``"sites"``, the
        default :data:`DEFAULT_WEIGHTING`: a bin holding 3 reliable sites does not count as much as
        one holding 128), or equally (``"bins"``). The CIs average each resample the same way.

    Returns
    -------
    DataFrame with columns ``model``, ``label``, ``region``, ``window``, ``window_start``,
    ``window_end``, ``n_bins``, ``metric``, ``score`` (mean over the window's bins of the
    median ``metric``), ``ci_low``, ``ci_high``, ``ci_over``, ``median_r`` (same for raw r),
    ``n_reliable`` (mean reliable neuroids per bin), ``weighting``, ``rank`` (1 = best within region and window).

    Raises
    ------
    ValueError
        For ``metric="ceiled"`` on scores without a ceiling (attr ``ceiling_source="none"``),
        naming them and the remedy; for a given window that holds no time bin, naming it.
    """
    if metric not in ("ceiled", "r"):
        raise ValueError(f"metric must be 'ceiled' or 'r', got {metric!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be an int >= 0, got {n_bootstrap!r}")
    weighting = DEFAULT_WEIGHTING if weighting is None else weighting
    if weighting not in ("bins", "sites"):
        raise ValueError(f"weighting must be 'bins' or 'sites', got {weighting!r}")
    if windows is not None and not windows:
        raise ValueError("windows is empty: give at least one name -> (start_ms, end_ms)")
    if not scores:
        raise ValueError("scores is empty: pass {model: {region: score Dataset}}")
    _check_comparable(scores)
    windows = dict(default_windows(scores)[0] if windows is None else windows)
    rows = []
    for model, by_region in scores.items():
        for region, ds in by_region.items():
            check_scores(ds, f"scores[{model!r}][{region!r}]")
            missing = [v for v in ("median_ceiled", "median_r") if v not in ds.data_vars]
            if missing:
                raise ValueError(f"scores[{model!r}][{region!r}] has no {missing}: pass score Datasets from "
                                 "score_predictions / fit_model")
            if metric == "ceiled" and not has_ceiling(ds):
                raise ValueError(f"scores[{model!r}][{region!r}] have no ceiling (data without single trials), so "
                                 "their ceiled scores are NaN: rank them by raw r (metric='r')")
            starts = np.asarray(ds.coords[TIME_BIN_START].values, float)
            ends = np.asarray(ds.coords[TIME_BIN_END].values, float)
            reliable = ds["reliable"].transpose("neuroid", TIME_BIN).values.astype(bool)
            med_c = ds[f"median_{metric}"].values.astype(float)
            med_r = ds["median_r"].values.astype(float)
            boot, over = None, "none"
            if n_bootstrap > 0 and has_predictions(ds):
                if resamples is None:
                    boot = resampled_medians(ds, stimulus_weights(ds.sizes["presentation"], n_bootstrap, seed))[metric]
                else:
                    boot = resamples.medians(ds, n_bootstrap=n_bootstrap, seed=seed)[metric]
                over = "stimuli"
            elif n_bootstrap > 0:
                c = ds[metric].transpose("neuroid", TIME_BIN).values.astype(float)
                if resamples is None:
                    boot = neuroid_resampled_medians(c, reliable & np.isfinite(c), n_bootstrap, seed)
                else:
                    boot = resamples.neuroid_medians(ds, metric, reliable & np.isfinite(c), n_bootstrap=n_bootstrap,
                                                     seed=seed)
                over = "neuroids"
            n_sites = reliable.sum(axis=0).astype(float)
            for wname, window in windows.items():
                keep = window_bins(starts, ends, window, f"window {wname!r}")
                w = n_sites[keep] if weighting == "sites" else np.ones(int(keep.sum()))
                lo = hi = np.nan
                if boot is not None:
                    with np.errstate(invalid="ignore"), warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)  # a window without reliable sites: NaN
                        lo, hi = percentile_ci(_window_mean(boot[:, keep], w)[:, None], ci)
                    lo, hi = float(lo[0]), float(hi[0])
                rows.append({
                    "model": model, "label": (labels or {}).get(model, model), "region": region, "window": wname,
                    "window_start": float(starts[keep][0]), "window_end": float(ends[keep][-1]),
                    "n_bins": int(keep.sum()), "metric": metric, "score": float(_window_mean(med_c[keep][None], w)[0]),
                    "ci_low": lo, "ci_high": hi, "ci_over": over,
                    "median_r": float(_window_mean(med_r[keep][None], w)[0]),
                    "n_reliable": float(reliable[:, keep].sum(axis=0).mean()), "weighting": weighting,
                })
    table = pd.DataFrame(rows)
    table["rank"] = (table.groupby(["region", "window"], sort=False)["score"]
                     .rank(ascending=False, method="min").astype("Int64"))
    return table


def _window_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over the last axis of ``values`` (rows x bins), NaN bins left out; NaN for a
    row with no finite bin of positive weight."""
    ok = np.isfinite(values) & (weights[None, :] > 0)
    total = np.where(ok, weights[None, :], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.where(ok, values * weights[None, :], 0.0).sum(axis=1) / total, np.nan)


def _check_comparable(scores: Mapping[str, Mapping[str, xr.Dataset]]) -> None:
    """Models ranked in one region must have been scored on the same neuroids, in the same way
    (ceiling from single trials, given, or none): a median over other sites is another quantity."""
    first: dict[str, tuple[str, xr.Dataset]] = {}
    for model, by_region in scores.items():
        for region, ds in by_region.items():
            if region not in first:
                first[region] = (model, ds)
                continue
            m0, d0 = first[region]
            ids0 = np.asarray(d0.coords["neuroid_id"].values).astype(str) if "neuroid_id" in d0.coords else None
            ids = np.asarray(ds.coords["neuroid_id"].values).astype(str) if "neuroid_id" in ds.coords else None
            if ids0 is None or ids is None or set(ids0) != set(ids):
                raise ValueError(f"the leaderboard ranks models on the same sites: in region {region!r}, {m0!r} has "
                                 f"{0 if ids0 is None else len(ids0)} neuroid ids and {model!r} "
                                 f"{0 if ids is None else len(ids)}, not the same set")
            c0, c = d0.attrs.get("ceiling_source"), ds.attrs.get("ceiling_source")
            if c0 != c:
                raise ValueError(f"the leaderboard ranks models scored the same way: in region {region!r}, {m0!r} has "
                                 f"ceiling_source {c0!r} and {model!r} {c!r} (score both on the same data)")


def to_markdown(table: pd.DataFrame, columns: Sequence[str] | None = None, floatfmt: str = ".3f") -> str:
    """A GitHub-flavoured Markdown table of ``table`` (floats formatted with ``floatfmt``; NaN as ``-``)."""
    cols = list(table.columns if columns is None else columns)
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the table (has {list(table.columns)})")

    def cell(v: object) -> str:
        if isinstance(v, (float, np.floating)):
            return "-" if not np.isfinite(v) else format(float(v), floatfmt)
        if v is None or v is pd.NA:
            return "-"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in table[cols].iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"
