"""Scores: correlations, split-half noise ceilings, ceiled scores, layer selection, fit_and_score.

Conventions (DESIGN.md, "Science conventions"; every one is a parameter)
------------------------------------------------------------------------
Raw score
    Pearson ``r`` between out-of-fold predictions and the trial-averaged responses over stimuli,
    per neuroid and time bin, computed *within test folds*: predictions and responses are
    standardised (centred and scaled to unit variance) within each test fold and then correlated
    over all stimuli, which equals the fold-size-weighted mean of the per-fold correlations.
    Why not one correlation of the raw pooled out-of-fold predictions: (1) each fold's predictions
    carry that fold's training mean, which is anticorrelated with the test fold's mean, and (2)
    with alphas chosen per fold, a fold whose training data show a stronger spurious relation gets
    a smaller alpha and larger predictions -- precisely when its own test data run against that
    relation. Both make pooled ``r`` *negative* for a model that knows nothing (about -0.1 in our
    null simulations with 192 stimuli and 10 folds); a correlation within each fold is invariant to
    each fold's offset and scale, so it is unbiased (Brain-Score averages per-fold correlations for
    the same reason). A fold where the predictions (or responses) are constant contributes 0.
    ``r`` is NaN where the responses are constant in every fold.
Ceiling
    The Spearman-Brown-corrected split-half reliability of the trial-averaged responses: for each
    of ``n_splits`` random splits, every stimulus's trials are shuffled and split into two halves
    of ``h = floor(n_reps / 2)`` trials (an odd trial out is left out of that split); the Pearson
    ``r_half`` between the two half-averages over stimuli is averaged over splits and corrected
    once, ``ceiling = k r / (1 + (k - 1) r)`` (Spearman 1910; Brown 1910). ``k`` is the ratio of
    the noise variance of a half-average to that of the full average,
    ``k = mean_s(1 / h_s) / mean_s(1 / n_s)`` over stimuli ``s``; with equal, even repetition
    counts ``k = 2``. The splits are seeded and defined on ``(stimulus_id, repetition)``, so the
    result does not depend on the order of presentations.
Ceiled score
    ``ceiled = sign(r) * r**2 / ceiling``: the fraction of the *explainable* variance that the
    model explains. Why ``r**2 / ceiling`` and never ``/ ceiling**2``: the reliability of the
    averaged data (a correlation between two parallel measurements) already estimates a squared
    correlation -- the fraction of their variance that is stimulus-driven -- so it is the largest
    ``r**2`` any model can reach against these data (a noise-free "true" response reaches it in
    expectation). Dividing ``r**2`` by it puts both on the variance scale once; squaring the
    ceiling again, or dividing ``r`` by the ceiling, mixes scales and inflates scores (peers'
    ceiled scores above 1 came from that). The sign keeps anticorrelated predictions negative,
    so a model unrelated to the stimuli scores ~0, not ``E[r**2] > 0``. Neuroid-bins with
    ``ceiling <= 0`` get NaN. Ceiled scores are not clipped: values above 1 happen by chance
    when the ceiling is itself noisy, and are reported as they are.
Reliability threshold
    Neuroid-bins with ``ceiling < reliability_threshold`` are flagged ``reliable=False``. They
    keep their per-neuroid values, and summaries report them separately (count, median ``r``)
    instead of dropping them silently. Medians over neuroids use the reliable ones.
Confidence intervals
    Percentile bootstrap over stimuli: each resample draws stimuli with replacement and recomputes
    ``r``, the ceiling (from ``n_bootstrap_splits`` of the split halves) and the median ceiled
    score per time bin. The same resamples are used for every layer, so layers are paired.
Layer selection
    Nested, on training stimuli only: for each outer fold, every layer is scored on that fold's
    training set alone, the layer with the highest median score over the region's neuroids
    (averaged over time bins) is picked per region, and the outer test fold is predicted by that
    layer. The training-set score is the within-fold ``r`` on inner folds (:meth:`Splits.inner`;
    any mapping) or, for ridge with LOO alpha selection, the exact LOO R^2 that the outer fit
    already computed (so selection costs no extra fits).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse
import xarray as xr
from tqdm.auto import tqdm

from brainfit.assembly import (
    LAYER, NEURAL_DIMS, NEUROID, NEUROID_ID, PRESENTATION, REGION, REPETITION, STIMULUS_ID, TIME_BIN,
    TIME_BIN_END, TIME_BIN_START, TIME_STEP, _short, average_repetitions, has_repetitions, reorder_to,
    stimulus_ids, validate_activations, validate_neural,
)
from brainfit.mapping._backend import get_backend
from brainfit.mapping._solvers import choose_method, gram_kernel
from brainfit.mapping.estimators import RidgeMapping, cross_validated_predictions
from brainfit.mapping.splits import Splits, make_splits

__all__ = [
    "CEILING_CONVENTION", "pearson_r", "correlate", "split_half_masks", "split_half_ceiling",
    "ceiled_score", "standardize_within_folds", "score_predictions", "fit_and_score", "save_scores", "load_scores",
]

log = logging.getLogger(__name__)

CEILING_CONVENTION = (
    "ceiled = sign(r) * r**2 / ceiling; ceiling = Spearman-Brown-corrected split-half reliability of the "
    "trial-averaged responses (fraction of explainable variance), never squared"
)


# ----------------------------------------------------------------------------- I/O


def save_scores(scores: xr.Dataset, path: Any) -> Any:
    """Write a score Dataset (:func:`fit_and_score`, :func:`score_predictions`) to netCDF,
    atomically, with its settings attrs; read it back with :func:`load_scores`."""
    from brainfit._io import write_netcdf

    return write_netcdf(scores, path)


def load_scores(path: Any) -> xr.Dataset:
    """Read scores written by :func:`save_scores` (into memory; attrs restored)."""
    from brainfit._io import read_netcdf_attrs

    return read_netcdf_attrs(xr.load_dataset(path, engine="h5netcdf"))


# ----------------------------------------------------------------------------- correlations


def pearson_r(x: np.ndarray, y: np.ndarray, axis: int = 0) -> np.ndarray:
    """Pearson correlation along ``axis`` (float64), elementwise over the other axes.

    Returns NaN where ``y`` is constant and 0 where ``x`` is constant but ``y`` is not.

    Parameters
    ----------
    x : ndarray, predictions
    y : ndarray, same shape, responses
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"pearson_r needs equal shapes, got {x.shape} and {y.shape}")
    xc = x - x.mean(axis=axis, keepdims=True)
    yc = y - y.mean(axis=axis, keepdims=True)
    sxx = (xc * xc).sum(axis=axis)
    syy = (yc * yc).sum(axis=axis)
    sxy = (xc * yc).sum(axis=axis)
    # Variances within rounding of zero count as constant.
    tiny_x = sxx <= (np.finfo(np.float64).eps * 16) ** 2 * np.maximum((x * x).sum(axis=axis), 1e-300)
    tiny_y = syy <= (np.finfo(np.float64).eps * 16) ** 2 * np.maximum((y * y).sum(axis=axis), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    r = np.where(tiny_x, 0.0, r)
    r = np.where(tiny_y, np.nan, r)
    return np.clip(r, -1.0, 1.0)


def standardize_within_folds(a: np.ndarray, fold_of: np.ndarray | None, axis: int = 0) -> np.ndarray:
    """Centre and scale to unit variance within each fold along ``axis`` (the stimulus axis).

    Columns that are constant within a fold are set to 0 there. ``fold_of`` (n,) gives each
    stimulus's test fold; ``None`` returns ``a`` unchanged (as float64).
    """
    a = np.asarray(a, dtype=np.float64)
    if fold_of is None:
        return a
    fold_of = np.asarray(fold_of)
    if fold_of.shape != (a.shape[axis],):
        raise ValueError(f"fold_of has shape {fold_of.shape}, expected ({a.shape[axis]},)")
    a = np.moveaxis(a, axis, 0).copy()
    for k in np.unique(fold_of):
        idx = fold_of == k
        block = a[idx] - a[idx].mean(axis=0)
        sd = np.sqrt((block * block).mean(axis=0))
        scale = np.abs(a[idx]).max(axis=0) if block.shape[0] else 0.0
        ok = sd > 1e-12 * np.maximum(scale, 1e-300)
        a[idx] = np.where(ok, block / np.where(ok, sd, 1.0), 0.0)
    return np.moveaxis(a, 0, axis)


def _weighted_pearson(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r with integer sample weights (bootstrap counts), for many resamples at once.

    ``w`` (B, n), ``x``/``y`` (n, F) (pre-centred for precision) -> (B, F).
    """
    sw = w.sum(axis=1, keepdims=True)
    mx, my = (w @ x) / sw, (w @ y) / sw
    sxx = (w @ (x * x)) / sw - mx * mx
    syy = (w @ (y * y)) / sw - my * my
    sxy = (w @ (x * y)) / sw - mx * my
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    r = np.where(sxx <= 1e-24 * np.maximum(1.0, (w @ (x * x)) / sw), 0.0, r)
    r = np.where(syy <= 1e-24 * np.maximum(1.0, (w @ (y * y)) / sw), np.nan, r)
    return np.clip(r, -1.0, 1.0)


def _check_same_bins(a: xr.DataArray, b: xr.DataArray, what: str) -> None:
    for c in (TIME_BIN_START, TIME_BIN_END):
        va, vb = np.asarray(a.coords[c].values, float), np.asarray(b.coords[c].values, float)
        if va.shape != vb.shape or not np.allclose(va, vb):
            raise ValueError(f"{what} time bins differ from the neural assembly's: {c} {va.tolist()} vs {vb.tolist()}")


def _align_neuroids(pred: xr.DataArray, neural: xr.DataArray) -> xr.DataArray:
    """Reorder prediction neuroids to the neural ``neuroid_id`` order (by id, not position)."""
    if NEUROID_ID not in pred.coords:
        if pred.sizes[NEUROID] != neural.sizes[NEUROID]:
            raise ValueError(f"predictions have {pred.sizes[NEUROID]} neuroids, neural data {neural.sizes[NEUROID]}, and no neuroid_id coord")
        return pred
    pid = np.asarray(pred.coords[NEUROID_ID].values).astype(str)
    nid = np.asarray(neural.coords[NEUROID_ID].values).astype(str)
    index = {s: i for i, s in enumerate(pid)}
    missing = [s for s in nid if s not in index]
    extra = sorted(set(pid) - set(nid))
    if missing or extra:
        raise ValueError(f"prediction neuroids do not match the neural assembly: {len(missing)} missing ({_short(missing)}), "
                         f"{len(extra)} extra ({_short(extra)})")
    return pred.isel({NEUROID: [index[s] for s in nid]})


def correlate(predictions: xr.DataArray, neural: xr.DataArray) -> xr.DataArray:
    """Pearson r per neuroid and time bin, matching stimuli by ``stimulus_id``.

    Parameters
    ----------
    predictions : DataArray (presentation x neuroid x time_bin [x other dims, e.g. layer])
    neural : DataArray (presentation x neuroid x time_bin); single trials are averaged first.

    Returns
    -------
    DataArray (neuroid x time_bin [x other dims]) named ``"r"``.
    """
    avg = average_repetitions(validate_neural(neural))
    pred, avg = _align_predictions(predictions, avg)
    extra = [d for d in pred.dims if d not in NEURAL_DIMS]
    pv = pred.transpose(*NEURAL_DIMS, *extra).values
    yv = avg.values.reshape(avg.shape + (1,) * len(extra))
    r = pearson_r(pv, np.broadcast_to(yv, pv.shape), axis=0)
    coords = _coords_without(pred, PRESENTATION)
    return xr.DataArray(r, dims=(NEUROID, TIME_BIN, *extra), coords=coords, name="r")


def _coords_without(a: xr.DataArray, dim: str) -> dict[str, Any]:
    return {k: c for k, c in a.coords.items() if dim not in c.dims}


def _align_predictions(predictions: xr.DataArray, avg: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    if not isinstance(predictions, xr.DataArray):
        raise ValueError(f"predictions must be an xarray.DataArray, got {type(predictions).__name__}")
    missing = [d for d in NEURAL_DIMS if d not in predictions.dims]
    if missing:
        raise ValueError(f"predictions have dims {tuple(predictions.dims)}: missing dim(s) {missing}")
    vals = predictions.values
    if vals.dtype.kind == "f" and not np.isfinite(vals).all():
        raise ValueError(f"predictions contain {int((~np.isfinite(vals)).sum())} non-finite value(s)")
    _check_same_bins(predictions, avg, "prediction")
    pid, nid = stimulus_ids(predictions), stimulus_ids(avg)
    if set(pid.tolist()) != set(nid.tolist()):
        only_p = sorted(set(pid) - set(nid))
        only_n = sorted(set(nid) - set(pid))
        raise ValueError(f"predictions and neural data hold different stimuli: {len(only_p)} only in predictions "
                         f"({_short(only_p)}), {len(only_n)} only in neural data ({_short(only_n)})")
    pred = reorder_to(predictions, nid, name="predictions")
    pred = _align_neuroids(pred, avg)
    return pred, avg


# ----------------------------------------------------------------------------- ceilings


def _trial_groups(trials: xr.DataArray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``ids`` of every trial's stimulus (-1 when not in ``ids``), and its repetition."""
    index = {s: i for i, s in enumerate(ids.tolist())}
    group = np.array([index.get(s, -1) for s in stimulus_ids(trials).tolist()], dtype=int)
    rep = np.asarray(trials.coords[REPETITION].values).astype(int)
    return group, rep


def split_half_masks(group: np.ndarray, repetition: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Random split-half assignment of trials, seeded and independent of trial order.

    Parameters
    ----------
    group : ndarray (n_trials,) of int
        Stimulus index of each trial (-1: ignore the trial).
    repetition : ndarray (n_trials,) of int
        Repetition label (unique within a stimulus); fixes the canonical trial order.
    n_splits : int
    seed : int

    Returns
    -------
    ndarray (n_splits, n_trials) of int8
        0 = first half, 1 = second half, -1 = unused (odd trial out, ignored trial, or a stimulus
        with fewer than 2 trials). Each stimulus puts ``floor(n/2)`` trials in each half.
    """
    group = np.asarray(group, dtype=int)
    repetition = np.asarray(repetition)
    n_trials = len(group)
    canon = np.lexsort((repetition, group))  # canonical order: by stimulus, then repetition
    g_sorted = group[canon]
    valid = g_sorted >= 0
    counts = np.bincount(g_sorted[valid], minlength=int(g_sorted.max()) + 1 if valid.any() else 0)
    half = counts // 2
    rng = np.random.default_rng(seed)
    out = np.full((n_splits, n_trials), -1, dtype=np.int8)
    start = np.zeros(len(counts) + 1, dtype=int)
    start[1:] = np.cumsum(counts)
    offset = int((~valid).sum())  # invalid trials (group -1) sort first
    for s in range(n_splits):
        u = rng.random(n_trials)
        # within each stimulus, order its trials by the random draw
        order = np.lexsort((u[valid], g_sorted[valid]))
        gs = g_sorted[valid][order]
        pos = np.arange(len(gs)) - start[gs]
        h = half[gs]
        label = np.where(pos < h, 0, np.where(pos < 2 * h, 1, -1)).astype(np.int8)
        out[s, canon[offset:][order]] = label
    return out


def _half_means(values: np.ndarray, group: np.ndarray, labels: np.ndarray, n_groups: int, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-averages (n_groups, F) for one split's labels, via a sparse averaging matrix."""
    out = []
    for lab in (0, 1):
        sel = np.flatnonzero(labels == lab)
        w = 1.0 / half[group[sel]]
        m = scipy.sparse.csr_matrix((w, (group[sel], sel)), shape=(n_groups, values.shape[0]))
        out.append(np.asarray(m @ values))
    return out[0], out[1]


def _split_half_core(values: np.ndarray, group: np.ndarray, rep: np.ndarray, n_groups: int, n_splits: int, seed: int,
                     keep_halves: int = 0) -> dict[str, Any]:
    """Split-half reliability per column of ``values`` (n_trials, F)."""
    counts = np.bincount(group[group >= 0], minlength=n_groups)
    usable = np.flatnonzero(counts >= 2)
    if len(usable) < 3:
        raise ValueError(f"split-half ceilings need at least 3 stimuli with >= 2 repetitions, found {len(usable)}")
    if len(usable) < n_groups:
        log.info("ceiling: %d of %d stimuli have >= 2 repetitions and enter the ceiling", len(usable), n_groups)
    # compact group index over usable stimuli
    remap = np.full(n_groups, -1, dtype=int)
    remap[usable] = np.arange(len(usable))
    g = np.where(group >= 0, remap[np.maximum(group, 0)], -1)
    half = counts[usable] // 2
    k = float(np.mean(1.0 / half) / np.mean(1.0 / counts[usable]))
    # canonical trial order (stimulus, repetition): identical arithmetic whatever the input order
    canon = np.lexsort((rep, g))
    values, g, rep = values[canon], g[canon], rep[canon]
    masks = split_half_masks(g, rep, n_splits, seed)
    rs = np.empty((n_splits, values.shape[1]))
    halves = []
    for s in range(n_splits):
        a, b = _half_means(values, g, masks[s], len(usable), half)
        rs[s] = pearson_r(a, b, axis=0)
        if s < keep_halves:
            halves.append((a, b))
    with np.errstate(invalid="ignore"):
        r_half = np.nanmean(np.where(np.isnan(rs).all(axis=0), 0.0, rs), axis=0)
    r_half = np.where(np.isnan(rs).all(axis=0), np.nan, r_half)
    ceiling = k * r_half / (1.0 + (k - 1.0) * r_half)
    return {"r_half": r_half, "ceiling": ceiling, "k": k, "usable": usable, "halves": halves}


def split_half_ceiling(neural: xr.DataArray, *, n_splits: int = 100, seed: int = 0) -> xr.DataArray:
    """Spearman-Brown-corrected split-half reliability per neuroid and time bin.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin) with a ``repetition`` coord
        Single trials; repetition counts may differ between stimuli.
    n_splits : int
        Random splits averaged (default 100).
    seed : int

    Returns
    -------
    DataArray (neuroid x time_bin) named ``"ceiling"`` with coord ``split_half_r`` (the mean
    uncorrected split-half r) and attrs ``n_splits``, ``seed``, ``spearman_brown_k``,
    ``n_stimuli``, ``convention``.
    """
    neural = validate_neural(neural, require_repetitions=True)
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    ids = np.unique(stimulus_ids(neural))
    group, rep = _trial_groups(neural, ids)
    n_pres, n_neur, n_bins = neural.shape
    res = _split_half_core(neural.values.reshape(n_pres, -1).astype(np.float64), group, rep, len(ids), n_splits, seed)
    coords = _coords_without(neural, PRESENTATION)
    out = xr.DataArray(res["ceiling"].reshape(n_neur, n_bins), dims=(NEUROID, TIME_BIN), coords=coords, name="ceiling")
    out = out.assign_coords(split_half_r=((NEUROID, TIME_BIN), res["r_half"].reshape(n_neur, n_bins)))
    out.attrs.update(n_splits=int(n_splits), seed=int(seed), spearman_brown_k=res["k"],
                     n_stimuli=int(len(res["usable"])), convention=CEILING_CONVENTION)
    return out


def ceiled_score(r: Any, ceiling: Any) -> Any:
    """``sign(r) * r**2 / ceiling``; NaN where ``ceiling <= 0`` or either is NaN (module docstring)."""
    if isinstance(r, xr.DataArray) or isinstance(ceiling, xr.DataArray):
        return xr.apply_ufunc(ceiled_score, r, ceiling)
    r_arr = np.asarray(r, dtype=np.float64)
    c_arr = np.asarray(ceiling, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c_arr > 0, np.sign(r_arr) * r_arr**2 / np.where(c_arr > 0, c_arr, 1.0), np.nan)


# ----------------------------------------------------------------------------- scoring


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """``nanmedian`` without the all-NaN warning (all-NaN slices give NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def _masked_median(values: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    return _nanmedian(np.where(mask, values, np.nan), axis=axis)


def _bootstrap(pred: np.ndarray, y: np.ndarray, ceil_info: dict[str, Any] | None, ceiling: np.ndarray,
               reliable: np.ndarray, n_bootstrap: int, seed: int, ci: float, batch: int = 100) -> dict[str, np.ndarray]:
    """Percentile CIs of the median (over reliable neuroids) r and ceiled score per bin.

    ``pred`` (L, n, N, T), ``y`` (n, N, T), ``reliable`` (N, T). Returns arrays (2, L, T).
    Only reliable neuroid-bins enter the medians, so only their columns are resampled.
    """
    L, n, N, T = pred.shape
    cols = np.flatnonzero(reliable.ravel())  # flat index i * T + b
    bin_of = cols % T
    per_bin = [np.flatnonzero(bin_of == b) for b in range(T)]
    rng = np.random.default_rng(seed)
    yc = (y - y.mean(axis=0)).reshape(n, -1)[:, cols]
    pc = (pred - pred.mean(axis=1, keepdims=True)).reshape(L, n, -1)[:, :, cols]
    med_r = np.full((n_bootstrap, L, T), np.nan)
    med_c = np.full((n_bootstrap, L, T), np.nan)
    halves = []
    if ceil_info is not None and ceil_info["halves"]:
        usable = ceil_info["usable"]
        for a, b in ceil_info["halves"]:
            a, b = a[:, cols], b[:, cols]
            halves.append((a - a.mean(axis=0), b - b.mean(axis=0)))
        k = ceil_info["k"]
    fixed_ceiling = ceiling.ravel()[cols]
    for b0 in range(0, n_bootstrap, batch):
        nb = min(batch, n_bootstrap - b0)
        w = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(nb)]).astype(np.float64)
        if halves:
            wc = w[:, usable]
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rh = np.nanmean(np.stack([_weighted_pearson(wc, a, bb) for a, bb in halves]), axis=0)
            ceil_b = k * rh / (1.0 + (k - 1.0) * rh)
        else:
            ceil_b = np.broadcast_to(fixed_ceiling, (nb, len(cols)))
        for l in range(L):
            r_b = _weighted_pearson(w, pc[l], yc)
            c_b = ceiled_score(r_b, ceil_b)
            for t, idx in enumerate(per_bin):
                if len(idx):
                    med_r[b0:b0 + nb, l, t] = _nanmedian(r_b[:, idx], axis=1)
                    med_c[b0:b0 + nb, l, t] = _nanmedian(c_b[:, idx], axis=1)
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {"r": np.nanpercentile(med_r, q, axis=0), "ceiled": np.nanpercentile(med_c, q, axis=0)}


def _score_arrays(pred: np.ndarray, y: np.ndarray, ceiling: np.ndarray, ceil_info: dict[str, Any] | None,
                  reliability_threshold: float, n_bootstrap: int, seed: int, ci: float,
                  fold_of: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All score arrays for predictions ``pred`` (L, n, N, T) against averaged ``y`` (n, N, T),
    standardised within test folds when ``fold_of`` (n,) is given (module docstring)."""
    pred = standardize_within_folds(pred, fold_of, axis=1)
    y = standardize_within_folds(y, fold_of, axis=0)
    r = np.stack([pearson_r(p, y, axis=0) for p in pred])  # (L, N, T)
    ceiled = ceiled_score(r, ceiling[None])
    with np.errstate(invalid="ignore"):
        reliable = np.nan_to_num(ceiling, nan=-np.inf) >= reliability_threshold  # (N, T)
    out = {
        "r": r, "ceiled": ceiled, "reliable": reliable,
        "median_r": _masked_median(r, reliable[None], axis=1),
        "median_ceiled": _masked_median(ceiled, reliable[None], axis=1),
        "median_r_unreliable": _masked_median(r, ~reliable[None], axis=1),
        "n_reliable": reliable.sum(axis=0), "n_unreliable": (~reliable).sum(axis=0),
    }
    if n_bootstrap > 0:
        boot = _bootstrap(pred, y, ceil_info, ceiling, reliable, n_bootstrap, seed, ci)
        out["median_r_ci"] = np.moveaxis(boot["r"], 0, -1)  # (L, T, 2)
        out["median_ceiled_ci"] = np.moveaxis(boot["ceiled"], 0, -1)
    return out


def _ceiling_for(neural: xr.DataArray, avg: xr.DataArray, ceiling: xr.DataArray | None, n_ceiling_splits: int, seed: int,
                 n_bootstrap: int, n_bootstrap_splits: int) -> tuple[np.ndarray, dict[str, Any] | None, dict[str, Any]]:
    """Ceiling (N, T) aligned with ``avg`` (stimulus order of ``avg``), bootstrap halves, attrs."""
    N, T = avg.sizes[NEUROID], avg.sizes[TIME_BIN]
    if ceiling is not None:
        c = ceiling.transpose(NEUROID, TIME_BIN) if isinstance(ceiling, xr.DataArray) else None
        if c is None or c.shape != (N, T):
            raise ValueError(f"ceiling must be a DataArray (neuroid x time_bin) of shape {(N, T)}")
        if NEUROID_ID in c.coords:
            c = _align_neuroids(c, avg)
        vals = np.asarray(c.values, dtype=np.float64)
        return vals, None, {"ceiling_source": "given", **{f"ceiling_{k}": v for k, v in c.attrs.items() if isinstance(v, (int, float, str))}}
    if not has_repetitions(neural):
        raise ValueError(
            "neural assembly has no 'repetition' coord: noise ceilings need single trials; "
            "pass the trials, or a precomputed ceiling=DataArray(neuroid x time_bin)"
        )
    ids = stimulus_ids(avg)
    group, rep = _trial_groups(neural, ids)
    n_trials = neural.sizes[PRESENTATION]
    res = _split_half_core(neural.values.reshape(n_trials, -1).astype(np.float64), group, rep, len(ids),
                           n_ceiling_splits, seed, keep_halves=min(n_bootstrap_splits, n_ceiling_splits) if n_bootstrap else 0)
    attrs = {"ceiling_source": "split_half", "ceiling_n_splits": int(n_ceiling_splits),
             "ceiling_spearman_brown_k": res["k"], "ceiling_n_stimuli": int(len(res["usable"]))}
    res["split_half_r"] = res["r_half"].reshape(N, T)
    return res["ceiling"].reshape(N, T), res, attrs


def score_predictions(
    predictions: xr.DataArray,
    neural: xr.DataArray,
    *,
    ceiling: xr.DataArray | None = None,
    n_ceiling_splits: int = 100,
    reliability_threshold: float = 0.3,
    n_bootstrap: int = 1000,
    n_bootstrap_splits: int = 10,
    ci: float = 0.95,
    seed: int = 0,
    splits: Splits | None = None,
) -> xr.Dataset:
    """Score out-of-fold predictions against neural data.

    Parameters
    ----------
    predictions : DataArray (presentation x neuroid x time_bin [x layer])
        Matched to the neural data by ``stimulus_id``, ``neuroid_id`` and time bins.
    neural : DataArray (presentation x neuroid x time_bin)
        Single trials (``repetition`` coord): averaged for ``r``, used for the ceiling. Averaged
        data need ``ceiling``.
    ceiling : DataArray (neuroid x time_bin), optional
        Precomputed ceiling (skips the split-half computation; not resampled by the bootstrap).
    n_ceiling_splits : int
        Random split halves averaged for the ceiling.
    reliability_threshold : float
        Neuroid-bins with a ceiling below it are flagged unreliable and summarised separately.
    n_bootstrap : int
        Bootstrap resamples of stimuli for CIs (0: none).
    n_bootstrap_splits : int
        Split halves used to recompute the ceiling in each resample.
    ci : float
        Confidence level.
    seed : int
        Seeds the ceiling splits and the bootstrap.
    splits : Splits, optional
        The folds that produced the predictions: ``r`` is then computed within folds (module
        docstring). Without it, predictions and responses are correlated as they are.

    Returns
    -------
    Dataset with ``r``, ``ceiled`` (neuroid x time_bin [x layer]), ``ceiling``,
    ``split_half_r``, ``reliable`` (neuroid x time_bin), summaries ``median_r``,
    ``median_ceiled``, ``median_r_unreliable`` (time_bin [x layer]), ``n_reliable``,
    ``n_unreliable`` (time_bin), CIs ``median_r_ci``/``median_ceiled_ci`` (.. x bound), and the
    settings in ``attrs``.
    """
    neural = validate_neural(neural)
    avg = average_repetitions(neural)
    pred, avg = _align_predictions(predictions, avg)
    extra = [d for d in pred.dims if d not in NEURAL_DIMS]
    if len(extra) > 1:
        raise ValueError(f"predictions may have one dim besides {NEURAL_DIMS} (e.g. layer), got {extra}")
    pv = pred.transpose(*NEURAL_DIMS, *extra).values
    pv = np.moveaxis(pv, -1, 0) if extra else pv[None]
    ceil, info, cattrs = _ceiling_for(neural, avg, ceiling, n_ceiling_splits, seed, n_bootstrap, n_bootstrap_splits)
    fold_of = None if splits is None else splits.check_stimuli(stimulus_ids(avg), name="neural assembly")
    arrays = _score_arrays(pv.astype(np.float64), avg.values.astype(np.float64), ceil, info, reliability_threshold,
                           n_bootstrap, seed, ci, fold_of)
    extra_coords = {d: pred.coords[d] for d in extra if d in pred.coords}
    ds = _build_dataset(avg, arrays, ceil, info, extra[0] if extra else None, extra_coords)
    ds.attrs.update(_settings(n_ceiling_splits=n_ceiling_splits, reliability_threshold=reliability_threshold,
                              n_bootstrap=n_bootstrap, n_bootstrap_splits=n_bootstrap_splits, ci=ci, seed=seed,
                              r_within_folds=splits is not None), **cattrs)
    return ds


def _settings(**kw: Any) -> dict[str, Any]:
    from brainfit import __version__

    return {"convention": CEILING_CONVENTION, "brainfit_version": __version__, **kw}


def _build_dataset(avg: xr.DataArray, arrays: dict[str, np.ndarray], ceil: np.ndarray, info: dict[str, Any] | None,
                   layer_dim: str | None, extra_coords: dict[str, Any], suffix: str = "") -> xr.Dataset:
    coords = _coords_without(avg, PRESENTATION)
    ld = layer_dim
    def per_layer(a: np.ndarray, dims: tuple[str, ...]) -> xr.DataArray:
        if ld is None:
            return xr.DataArray(a[0], dims=dims)
        return xr.DataArray(np.moveaxis(a, 0, -1) if a.ndim == len(dims) + 1 else a, dims=dims + (ld,))
    data = {
        "r" + suffix: per_layer(arrays["r"], (NEUROID, TIME_BIN)),
        "ceiled" + suffix: per_layer(arrays["ceiled"], (NEUROID, TIME_BIN)),
        "median_r" + suffix: per_layer(arrays["median_r"], (TIME_BIN,)),
        "median_ceiled" + suffix: per_layer(arrays["median_ceiled"], (TIME_BIN,)),
        "median_r_unreliable" + suffix: per_layer(arrays["median_r_unreliable"], (TIME_BIN,)),
    }
    if "median_ceiled_ci" in arrays:
        for name in ("median_r_ci", "median_ceiled_ci"):
            a = arrays[name]  # (L, T, 2)
            data[name + suffix] = (xr.DataArray(a[0], dims=(TIME_BIN, "bound")) if ld is None
                                   else xr.DataArray(np.moveaxis(a, 0, 1), dims=(TIME_BIN, ld, "bound")))
    if not suffix:
        data["ceiling"] = xr.DataArray(ceil, dims=(NEUROID, TIME_BIN))
        data["reliable"] = xr.DataArray(arrays["reliable"], dims=(NEUROID, TIME_BIN))
        data["n_reliable"] = xr.DataArray(arrays["n_reliable"], dims=(TIME_BIN,))
        data["n_unreliable"] = xr.DataArray(arrays["n_unreliable"], dims=(TIME_BIN,))
        if info is not None:
            data["split_half_r"] = xr.DataArray(info["split_half_r"], dims=(NEUROID, TIME_BIN))
    ds = xr.Dataset(data, coords=coords)
    if "median_ceiled_ci" + suffix in ds:
        ds = ds.assign_coords(bound=["low", "high"])
    for k, v in extra_coords.items():
        ds = ds.assign_coords({k: v})
    return ds


# ----------------------------------------------------------------------------- fit_and_score


def _features_per_bin(activations: xr.DataArray, avg: xr.DataArray, temporal_map: Any) -> tuple[xr.DataArray, bool]:
    """Activations re-indexed to the neural time bins, and whether all bins share features.

    With shared features only the first bin is materialised (the others are identical).
    """
    if temporal_map is not None:
        if not callable(temporal_map):
            raise ValueError(f"temporal_map must be callable (a TemporalMap), got {type(temporal_map).__name__}")
        shared = bool(getattr(temporal_map, "shared_features", False))
        target = avg.isel({TIME_BIN: slice(0, 1)}) if shared else avg
        mapped = temporal_map(activations, target)
        if not isinstance(mapped, xr.DataArray) or tuple(mapped.dims) != NEURAL_DIMS:
            raise ValueError(f"temporal_map must return a DataArray with dims {NEURAL_DIMS}")
        _check_same_bins(mapped, target, "temporal map output")
        return mapped, shared
    if not isinstance(activations, xr.DataArray):
        raise ValueError(f"activations must be an xarray.DataArray, got {type(activations).__name__}")
    if TIME_BIN in activations.dims:
        if set(activations.dims) != set(NEURAL_DIMS):
            raise ValueError(f"activations with a time_bin dim must have dims {NEURAL_DIMS}, got {tuple(activations.dims)}")
        act = activations.transpose(*NEURAL_DIMS)
        for c in (STIMULUS_ID, TIME_BIN_START, TIME_BIN_END):
            if c not in act.coords:
                raise ValueError(f"activations are missing coord {c!r}")
        _check_same_bins(act, avg, "activation")
        vals = act.values
        if vals.dtype.kind == "f" and not np.isfinite(vals).all():
            raise ValueError(f"activations contain {int((~np.isfinite(vals)).sum())} non-finite value(s) (NaN or inf)")
        return act, False
    act = validate_activations(activations)
    if act.sizes[TIME_STEP] != 1:
        raise ValueError(
            f"activations have {act.sizes[TIME_STEP]} time steps and no temporal_map says which step feeds which "
            "time bin; pass temporal_map (e.g. brainfit.temporal.one_to_one(...) or constant())"
        )
    starts, ends = avg.coords[TIME_BIN_START].values[:1], avg.coords[TIME_BIN_END].values[:1]
    coords = {k: c for k, c in act.coords.items() if TIME_STEP not in c.dims}
    coords[TIME_BIN_START] = (TIME_BIN, starts)
    coords[TIME_BIN_END] = (TIME_BIN, ends)
    mapped = xr.DataArray(act.values, dims=NEURAL_DIMS, coords=coords, attrs=dict(act.attrs))
    return mapped, True


def _layer_masks(mapped: xr.DataArray, layers: str | Sequence[str] | None) -> dict[str, np.ndarray]:
    n_feat = mapped.sizes[NEUROID]
    if layers == "all" or LAYER not in mapped.coords:
        if layers not in (None, "all"):
            raise ValueError("activations have no 'layer' coord, so layers cannot be chosen; use layers=None or 'all'")
        return {"all": np.ones(n_feat, dtype=bool)}
    names = np.asarray(mapped.coords[LAYER].values).astype(str)
    present = list(dict.fromkeys(names.tolist()))
    chosen = present if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    unknown = [name for name in chosen if name not in present]
    if unknown:
        raise ValueError(f"layer(s) {unknown} not in activations; layers present: {present}")
    return {name: names == name for name in chosen}


_PER_LAYER = {"r", "ceiled", "median_r", "median_ceiled", "median_r_unreliable", "median_r_ci", "median_ceiled_ci"}

_CRITERIA = {
    "loo": "nested: per outer training set, median over the region's neuroids of the LOO R^2 (mean over bins)",
    "inner_folds": "nested: per outer training set, median over the region's neuroids of the inner-fold r (mean over bins)",
}


def _selection_criterion(layer_selection: str, mapping: Any) -> str:
    if layer_selection not in ("auto", "loo", "inner_folds"):
        raise ValueError(f"layer_selection must be 'auto', 'loo' or 'inner_folds', got {layer_selection!r}")
    loo_ok = (isinstance(mapping, RidgeMapping) and mapping.cv == "loo"
              and np.atleast_1d(np.asarray(mapping.alphas)).size > 1)
    if layer_selection == "loo" and not loo_ok:
        raise ValueError("layer_selection='loo' needs a RidgeMapping with cv='loo' and more than one alpha")
    if layer_selection == "auto":
        return "loo" if loo_ok else "inner_folds"
    return layer_selection


def _stacked_rows(idx: np.ndarray, n: int, T: int) -> np.ndarray:
    """Stimulus indices (into ``n``) -> their rows among ``T * n`` bin-major (stimulus, bin) rows."""
    return (np.arange(T)[:, None] * n + np.asarray(idx)[None, :]).ravel()


def _stack_folds(folds: list[tuple[np.ndarray, np.ndarray]], n: int, T: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds over ``n`` stimuli -> folds over bin-major (stimulus, bin) rows: every bin of a
    stimulus lands in that stimulus's fold."""
    return [(_stacked_rows(tr, n, T), _stacked_rows(te, n, T)) for tr, te in folds]


class _Fitter:
    """Cross-validated predictions for one feature matrix, reusing one ridge kernel for every
    outer and inner fold (its blocks) when the mapping is a dual-form ridge."""

    def __init__(self, mapping: Any, X: np.ndarray, progress: bool):
        self.mapping, self.X, self.progress = mapping, X, progress
        self.kernel = None
        if isinstance(mapping, RidgeMapping):
            # dual for all samples implies dual for every (smaller) training set
            if choose_method(X.shape[0], X.shape[1], mapping.method, mapping.fit_intercept) == "dual":
                be = get_backend(mapping.backend, mapping.dtype, mapping.device)
                self.kernel = gram_kernel(X, fit_intercept=mapping.fit_intercept, be=be)

    def predict(self, Y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], rows: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        X = self.X if rows is None else self.X[rows]
        if self.kernel is not None:
            K = self.kernel if rows is None else self.kernel[rows][:, rows]
            return self.mapping._cv_predict(X, Y, folds, progress=self.progress, kernel=K)
        pred, info = cross_validated_predictions(X, Y, folds, mapping=self.mapping, progress=self.progress, return_info=True)
        return pred, info


def fit_and_score(
    activations: xr.DataArray,
    neural: xr.DataArray,
    temporal_map: Any = None,
    *,
    mapping: Any = None,
    splits: Splits | None = None,
    layers: str | Sequence[str] | None = None,
    select_layers: bool = True,
    layer_selection: str = "auto",
    inner_folds: int | None = None,
    shared_across_bins: bool = False,
    ceiling: xr.DataArray | None = None,
    n_ceiling_splits: int = 100,
    reliability_threshold: float = 0.3,
    n_bootstrap: int = 1000,
    n_bootstrap_splits: int = 10,
    ci: float = 0.95,
    seed: int = 0,
    keep_predictions: bool = False,
    progress: bool = True,
) -> xr.Dataset:
    """Fit a mapping per time bin with cross-validation over stimuli and score it.

    Parameters
    ----------
    activations : DataArray
        ``(presentation x neuroid x time_step)`` model activations (with ``temporal_map``, or a
        single time step reused for every bin), or ``(presentation x neuroid x time_bin)`` already
        on the neural bins. Neuroid coord ``layer`` groups features into layers.
    neural : DataArray (presentation x neuroid x time_bin)
        Single trials (``repetition`` coord) are averaged for the fit and used for the ceiling.
    temporal_map : TemporalMap, optional
        ``tmap(activations, neural) -> (presentation x neuroid x time_bin)``; when its
        ``shared_features`` is True (feedforward ``constant`` map) and the mapping fits targets
        independently (ridge), all bins are fitted as one multi-target problem.
    mapping : estimator, default ``RidgeMapping()``
    splits : Splits, default ``make_splits(neural, n_folds=10, seed=seed)`` (stratified by category)
        Pass the same object for every model compared. Stimuli must match exactly.
    layers : None, "all" or sequence of str
        ``None``: score every layer separately; ``"all"``: all features as one readout; or a list.
    select_layers : bool
        With several layers, also score a per-region layer choice made on training folds only.
    layer_selection : {"auto", "loo", "inner_folds"}
        How each outer training set ranks layers (per region: median over its neuroids, mean
        over bins). ``"inner_folds"``: cross-validate every layer on the inner folds of the
        training set (:meth:`Splits.inner`) and use the within-fold ``r`` (any mapping).
        ``"loo"``: ridge with LOO alpha selection only -- the training-set R^2 from the exact LOO
        errors at the chosen alphas, which the outer fits compute anyway (no extra fits).
        ``"auto"``: ``"loo"`` when it applies, else ``"inner_folds"``.
    inner_folds : int, optional
        Inner folds for ``"inner_folds"`` selection (default: :meth:`Splits.inner`'s).
    shared_across_bins : bool
        Fit ONE mapping for all time bins (a time-invariant readout: the same weights map the
        features of bin ``t`` onto the responses of bin ``t``), instead of one per bin. Rows
        are (stimulus, bin) pairs and every bin of a stimulus stays in that stimulus's fold.
        Layer selection then uses the inner folds (LOO over rows would leave a stimulus's
        other bins in training).
    ceiling, n_ceiling_splits, reliability_threshold, n_bootstrap, n_bootstrap_splits, ci, seed
        See :func:`score_predictions`.
    keep_predictions : bool
        Store the out-of-fold predictions (``prediction``: presentation x neuroid x time_bin x layer).
    progress : bool
        Progress bars over layers and bins.

    Returns
    -------
    Dataset with dims ``neuroid``, ``time_bin``, ``layer`` (and ``bound``, ``fold``, ``region``):
    ``r``, ``ceiled`` (neuroid x time_bin x layer); ``ceiling``, ``split_half_r``, ``reliable``
    (neuroid x time_bin); summaries over reliable neuroids per bin and layer with bootstrap CIs;
    with selection, ``r_selected``, ``ceiled_selected`` (neuroid x time_bin), their summaries and
    ``selected_layer`` (fold x selection_region) and ``selection_score`` (fold x neuroid x
    time_bin x layer, the training-only scores behind the choice); ``alpha`` (fold x neuroid x
    time_bin x layer) for ridge.
    Settings are in ``attrs``.
    """
    mapping = RidgeMapping() if mapping is None else mapping
    neural = validate_neural(neural)
    avg = average_repetitions(neural)
    mapped, shared = _features_per_bin(activations, avg, temporal_map)
    if splits is None:
        splits = make_splits(avg, n_folds=10, seed=seed)
    elif not isinstance(splits, Splits):
        raise ValueError(f"splits must be a brainfit Splits object, got {type(splits).__name__}")
    ids = splits.stimulus_ids
    splits.check_stimuli(stimulus_ids(avg), name="neural assembly")
    splits.check_stimuli(stimulus_ids(mapped), name="activations")
    avg = reorder_to(avg, ids, name="neural assembly")
    mapped = reorder_to(mapped, ids, name="activations")
    folds = splits.indices(ids)
    fold_of = splits.check_stimuli(ids)
    n, N, T = avg.shape
    Y = avg.values.astype(np.float64)
    masks = _layer_masks(mapped, layers)
    layer_names = list(masks)
    L = len(layer_names)
    joint = shared and bool(getattr(mapping, "independent_targets", False)) and not shared_across_bins
    groups = [list(range(T))] if (joint or shared_across_bins) else [[b] for b in range(T)]
    regions = (np.asarray(avg.coords[REGION].values).astype(str) if REGION in avg.coords else np.full(N, "all"))
    region_names = list(dict.fromkeys(regions.tolist()))
    do_select = select_layers and L > 1
    criterion = _selection_criterion(layer_selection, mapping) if do_select else None
    if shared_across_bins and criterion == "loo":
        if layer_selection == "loo":
            raise ValueError("layer_selection='loo' is not valid with shared_across_bins=True (leaving out one "
                             "(stimulus, bin) row keeps the stimulus's other bins in training); use 'inner_folds'")
        criterion = "inner_folds"
    inner = [splits.inner(k, inner_folds) for k in range(len(folds))] if criterion == "inner_folds" else []
    inner_idx = [sp.indices(ids[tr]) for sp, (tr, _) in zip(inner, folds)]
    pred = np.empty((L, n, N, T))
    sel_score = np.full((L, len(folds), N, T), np.nan)
    alpha = np.full((len(folds), N, T, L), np.nan)
    has_alpha = False
    bar = tqdm(total=L * len(groups), desc="fit_and_score", disable=not progress)
    for li, name in enumerate(layer_names):
        for bins in groups:
            if shared_across_bins:
                # rows (stimulus, bin), bin-major: row b * n + i
                X = np.concatenate([mapped.values[:, masks[name], 0 if shared else b] for b in bins])
                Yg = np.concatenate([Y[:, :, b] for b in bins])
                fit_folds = _stack_folds(folds, n, T)
            else:
                X = mapped.values[:, masks[name], 0 if shared else bins[0]]
                Yg = Y[:, :, bins].reshape(n, -1)
                fit_folds = folds
            fitter = _Fitter(mapping, X, progress=False)
            p, info = fitter.predict(Yg, fit_folds)
            if shared_across_bins:
                pred[li] = p.reshape(T, n, N).transpose(1, 2, 0)
            else:
                pred[li][:, :, bins] = p.reshape(n, N, len(bins))
            if "alpha" in info:
                a = info["alpha"].reshape(len(folds), N, -1)
                alpha[:, :, bins, li] = a if a.shape[2] == len(bins) else a[:, :, :1]
                has_alpha = True
            if criterion == "loo":
                # training-only R^2 from the LOO errors the outer fits computed anyway
                with np.errstate(invalid="ignore", divide="ignore"):
                    r2 = 1.0 - info["cv_mse"] / info["train_var"]
                sel_score[li][:, :, bins] = r2.reshape(len(folds), N, len(bins))
            for k, (tr, _) in enumerate(folds if criterion == "inner_folds" else []):
                inner_fold_of = inner[k].check_stimuli(ids[tr])
                if shared_across_bins:
                    rows = _stacked_rows(tr, n, T)
                    p_in, _ = fitter.predict(Yg[rows], _stack_folds(inner_idx[k], len(tr), T), rows=rows)
                    p_in = p_in.reshape(T, len(tr), N).transpose(1, 2, 0)
                    y_in = Y[tr]
                else:
                    p_in, _ = fitter.predict(Yg[tr], inner_idx[k], rows=tr)
                    p_in, y_in = p_in.reshape(len(tr), N, len(bins)), Y[tr][:, :, bins]
                sel_score[li, k][:, bins] = pearson_r(standardize_within_folds(p_in, inner_fold_of),
                                                      standardize_within_folds(y_in, inner_fold_of), axis=0)
            bar.update(1)
    bar.close()

    if do_select:
        chosen = np.empty((len(folds), len(region_names)), dtype=object)
        sel = np.empty((n, N, T))
        everything = np.ones((N, T), dtype=bool)
        for k, (_, te) in enumerate(folds):
            for gi, g in enumerate(region_names):
                cols = np.flatnonzero(regions == g)
                # median over the region's neuroids per bin, then the mean over bins
                crit = np.array([np.nanmean(_masked_median(sel_score[li, k][cols], everything[cols], axis=0))
                                 for li in range(L)])
                best = int(np.argmax(np.where(np.isnan(crit), -np.inf, crit)))
                chosen[k, gi] = layer_names[best]
                sel[np.ix_(te, cols)] = pred[best][np.ix_(te, cols)]
        pred = np.concatenate([pred, sel[None]])  # scored together: same bootstrap resamples

    ceil, info, cattrs = _ceiling_for(neural, avg, ceiling, n_ceiling_splits, seed, n_bootstrap, n_bootstrap_splits)
    arrays = _score_arrays(pred, Y, ceil, info, reliability_threshold, n_bootstrap, seed, ci, fold_of)
    per_layer = {k: (v[:L] if k in _PER_LAYER else v) for k, v in arrays.items()}
    ds = _build_dataset(avg, per_layer, ceil, info, LAYER, {LAYER: (LAYER, np.array(layer_names, dtype=object))})
    if has_alpha:
        ds["alpha"] = xr.DataArray(alpha, dims=("fold", NEUROID, TIME_BIN, LAYER))
    if do_select:
        selected = {k: (v[L:] if k in _PER_LAYER else v) for k, v in arrays.items()}
        sds = _build_dataset(avg, selected, ceil, info, None, {}, suffix="_selected")
        for v in sds.data_vars:
            ds[v] = sds[v]
        # its own dim name: the neuroid coord "region" stays on the neuroids
        ds["selected_layer"] = xr.DataArray(chosen.astype(str), dims=("fold", "selection_region"),
                                            coords={"selection_region": region_names})
        ds["selection_score"] = xr.DataArray(np.moveaxis(sel_score, 0, -1), dims=("fold", NEUROID, TIME_BIN, LAYER),
                                             attrs={"criterion": _CRITERIA[criterion]})
        pred, sel = pred[:L], pred[L]
    if keep_predictions:
        pcoords = {k: c for k, c in avg.coords.items() if c.dims == (PRESENTATION,)}
        ds["prediction"] = xr.DataArray(np.moveaxis(pred, 0, -1), dims=(PRESENTATION, NEUROID, TIME_BIN, LAYER)).assign_coords(pcoords)
        if do_select:
            ds["prediction_selected"] = xr.DataArray(sel, dims=(PRESENTATION, NEUROID, TIME_BIN))
    mapping_params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in mapping.get_params().items()}
    ds.attrs.update(_settings(n_ceiling_splits=n_ceiling_splits, reliability_threshold=reliability_threshold,
                              n_bootstrap=n_bootstrap, n_bootstrap_splits=n_bootstrap_splits, ci=ci, seed=seed,
                              r_within_folds=True), **cattrs)
    ds.attrs.update(
        mapping=type(mapping).__name__, mapping_params=mapping_params,
        splits={"n_folds": splits.n_folds, "seed": splits.seed, "stratify": splits.stratify, "fingerprint": splits.fingerprint},
        temporal_map=(temporal_map.to_dict() if hasattr(temporal_map, "to_dict") else (None if temporal_map is None else repr(temporal_map))),
        shared_features=bool(shared), bins_fitted_jointly=bool(joint), shared_across_bins=bool(shared_across_bins),
        layer_selection=(_CRITERIA[criterion] if do_select else "none"),
        inner_folds=(inner[0].n_folds if inner else None),
    )
    return ds
