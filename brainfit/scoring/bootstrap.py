"""Stimulus bootstrap of the per-bin medians, and NaN-safe (masked) medians.

Percentile bootstrap over stimuli (package docstring, "Confidence intervals"): each resample
draws stimuli with replacement -- as integer weights, so ``r`` of every resample comes from one
weighted product instead of re-indexing -- and recomputes ``r``, the ceiling (from a few of the
split halves) and the median over reliable neuroids per time bin. Every layer uses the same
resamples, so layers are paired.

:func:`median_over` is the median over a subset (e.g. reliable neuroids) used for every summary
here, in the plots and in the comparisons.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from brainfit.scoring.ceiling import ceiled_score
from brainfit.scoring.correlation import weighted_pearson

__all__ = ["median_over"]


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """``nanmedian`` without the all-NaN warning (all-NaN slices give NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=axis)


def median_over(values: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    """Median along ``axis`` of the entries where ``mask`` is True, ignoring NaNs.

    Parameters
    ----------
    values : ndarray
        E.g. ``r`` (layer x neuroid x time_bin).
    mask : ndarray of bool, broadcastable to ``values``
        Entries to include (e.g. ``reliable``, neuroid x time_bin, with a leading axis added).
    axis : int
        Axis to take the median over (e.g. the neuroid axis).

    Returns
    -------
    ndarray
        ``values``' shape without ``axis`` (after broadcasting with ``mask``); NaN where no
        included entry is finite (no warning).

    Examples
    --------
    >>> median_over(np.array([[1.0, 5.0], [3.0, np.nan], [10.0, 7.0]]),
    ...             np.array([[True, True], [True, True], [False, True]]), axis=0)
    array([2., 6.])
    """
    return _nanmedian(np.where(mask, values, np.nan), axis=axis)


def _bootstrap(pred: np.ndarray, y: np.ndarray, ceil_info: dict[str, Any] | None, ceiling: np.ndarray,
               reliable: np.ndarray, n_bootstrap: int, seed: int, ci: float,
               batch: int = 100) -> dict[str, np.ndarray]:
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
                rh = np.nanmean(np.stack([weighted_pearson(wc, a, bb) for a, bb in halves]), axis=0)
            ceil_b = k * rh / (1.0 + (k - 1.0) * rh)
        else:
            ceil_b = np.broadcast_to(fixed_ceiling, (nb, len(cols)))
        for l in range(L):
            r_b = weighted_pearson(w, pc[l], yc)
            c_b = ceiled_score(r_b, ceil_b)
            for t, idx in enumerate(per_bin):
                if len(idx):
                    med_r[b0:b0 + nb, l, t] = _nanmedian(r_b[:, idx], axis=1)
                    med_c[b0:b0 + nb, l, t] = _nanmedian(c_b[:, idx], axis=1)
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {"r": np.nanpercentile(med_r, q, axis=0), "ceiled": np.nanpercentile(med_c, q, axis=0)}
