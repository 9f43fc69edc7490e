"""Correlations between predictions and responses, and their alignment by coordinate.

``r`` is computed within test folds (see the package docstring, "Raw score"):
:func:`standardize_within_folds` then :func:`pearson_r`. :func:`correlate` matches predictions to a
neural assembly by ``stimulus_id``, ``neuroid_id`` and time bins, never by position. The weighted
Pearson ``r`` serves the stimulus bootstrap (integer weights = resample counts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import (
    NEURAL_DIMS,
    NEUROID,
    NEUROID_ID,
    PRESENTATION,
    TIME_BIN,
    TIME_BIN_END,
    TIME_BIN_START,
    average_repetitions,
    reorder_to,
    short_list,
    stimulus_ids,
    validate_neural,
)

__all__ = ["correlate", "pearson_r", "standardize_within_folds", "weighted_pearson"]


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
    shape = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
    # (n, columns) views: sums of products by einsum, without the temporaries of (a * b).sum()
    # (this runs ~100 times per split-half ceiling)
    x = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    y = np.moveaxis(y, axis, 0).reshape(y.shape[axis], -1)
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    sxx = np.einsum("ij,ij->j", xc, xc).reshape(shape)
    syy = np.einsum("ij,ij->j", yc, yc).reshape(shape)
    sxy = np.einsum("ij,ij->j", xc, yc).reshape(shape)
    # Variances within rounding of zero count as constant.
    tiny_x = sxx <= (np.finfo(np.float64).eps * 16) ** 2 * np.maximum(np.einsum("ij,ij->j", x, x).reshape(shape), 1e-300)
    tiny_y = syy <= (np.finfo(np.float64).eps * 16) ** 2 * np.maximum(np.einsum("ij,ij->j", y, y).reshape(shape), 1e-300)
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


def _check_fold_sizes(fold_of: np.ndarray, min_fold_stimuli: int) -> None:
    """Refuse a within-fold ``r`` on test folds smaller than ``min_fold_stimuli`` stimuli.

    ``fold_of`` (n,) is each stimulus's test fold. The message names the smallest fold, the
    minimum and the remedies (fewer folds, ``r_over="pooled"``); see ``ScoringConfig`` for why.
    """
    folds, sizes = np.unique(np.asarray(fold_of), return_counts=True)
    if min_fold_stimuli < 3 or sizes.min() >= min_fold_stimuli:
        return
    n, k = int(sizes.sum()), len(folds)
    small = folds[sizes < min_fold_stimuli]
    most = n // min_fold_stimuli
    fewer = (f"use at most {most} folds ({n} stimuli // {min_fold_stimuli})" if most >= 2 else
             f"no split of {n} stimuli into >= 2 folds reaches that")
    raise ValueError(
        f"test fold {int(folds[np.argmin(sizes)])} holds {int(sizes.min())} stimuli ({len(small)} of {k} folds hold "
        f"fewer than {min_fold_stimuli}; {n} stimuli in {k} folds), fewer than min_fold_stimuli={min_fold_stimuli} "
        f"needed for a within-fold r (r on a few points is too noisy and biased toward 0): {fewer}, or set "
        f"r_over='pooled' to correlate the out-of-fold predictions over all stimuli"
    )


def weighted_pearson(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
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


def _neuroid_order(a: xr.DataArray, neural: xr.DataArray, what: str) -> list[int]:
    """Positions in ``a`` of the neural data's ``neuroid_id``s, in the neural order (by id, never
    position); ``a`` must hold exactly those ids, once each. ``what`` names ``a`` in the errors."""
    aid = np.asarray(a.coords[NEUROID_ID].values).astype(str)
    nid = np.asarray(neural.coords[NEUROID_ID].values).astype(str)
    index = {s: i for i, s in enumerate(aid.tolist())}
    if len(index) < len(aid):
        dup = sorted({s for s in aid.tolist() if (aid == s).sum() > 1})
        raise ValueError(f"{what} has duplicate neuroid_id(s) {short_list(dup)}")
    missing = [s for s in nid.tolist() if s not in index]
    extra = sorted(set(aid.tolist()) - set(nid.tolist()))
    if missing or extra:
        raise ValueError(f"{what} neuroids do not match the neural assembly: {len(missing)} missing from the {what} "
                         f"({short_list(missing)}), {len(extra)} extra in the {what} ({short_list(extra)})")
    return [index[s] for s in nid.tolist()]


def _align_neuroids(pred: xr.DataArray, neural: xr.DataArray) -> xr.DataArray:
    """Reorder prediction neuroids to the neural ``neuroid_id`` order (by id, not position)."""
    if NEUROID_ID not in pred.coords:
        if pred.sizes[NEUROID] != neural.sizes[NEUROID]:
            raise ValueError(f"predictions have {pred.sizes[NEUROID]} neuroids, neural data {neural.sizes[NEUROID]}, "
                             "and no neuroid_id coord")
        return pred
    return pred.isel({NEUROID: _neuroid_order(pred, neural, "prediction")})


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
        # bad assembly input is a ValueError throughout brainfit (docs/design.md), wrong type included
        raise ValueError(f"predictions must be an xarray.DataArray, got {type(predictions).__name__}")  # noqa: TRY004
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
                         f"({short_list(only_p)}), {len(only_n)} only in neural data ({short_list(only_n)})")
    pred = reorder_to(predictions, nid, name="predictions")
    pred = _align_neuroids(pred, avg)
    return pred, avg
