"""Bootstrap confidence intervals of per-bin medians and of their paired differences.

Over stimuli
    Each resample draws stimuli with replacement (integer weights; the generator is seeded by
    ``seed`` and the number of stimuli only, so every model of a comparison or a leaderboard
    sees the SAME resamples and differences are paired) and recomputes ``r`` per neuroid and bin
    from the stored out-of-fold predictions and trial-averaged responses (standardised within
    test folds first when the scores were computed within folds, as
    :mod:`brainfit.scoring` does), then the ceiled score and the median over the bin's
    neuroids. The ceiling is held at its full-data estimate: it is the same for both models of
    a pair, so it rescales both alike; the per-model CIs of :func:`brainfit.scoring.fit_and_score`
    resample it too.
Over neuroids
    Each resample draws neuroids with replacement (the same draw in every bin, each bin keeping
    the drawn neuroids that are in its comparison) and recomputes the medians. It asks how much
    the result depends on which sites were recorded; the stimulus bootstrap asks how much it
    depends on which images were shown.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from brainfit.assembly import TIME_BIN
from brainfit.compare.paired import has_predictions
from brainfit.scoring import ceiled_score, median_over, standardize_within_folds, weighted_pearson

__all__ = ["stimulus_weights", "resampled_medians", "neuroid_resampled_medians", "percentile_ci"]


def stimulus_weights(n_stimuli: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """Bootstrap counts (n_bootstrap, n_stimuli): how often each stimulus is drawn in each resample."""
    rng = np.random.default_rng([seed, n_stimuli])
    return np.stack([np.bincount(rng.integers(0, n_stimuli, n_stimuli), minlength=n_stimuli)
                     for _ in range(n_bootstrap)]).astype(np.float64)


def resampled_medians(ds: xr.Dataset, weights: np.ndarray, mask: np.ndarray | None = None,
                      batch: int = 200) -> dict[str, np.ndarray]:
    """Median ``r`` and ceiled score per bin in each stimulus resample.

    Parameters
    ----------
    ds : Dataset
        Scores with ``prediction`` and ``response`` (``keep_predictions=True``).
    weights : ndarray (B, n_stimuli)
        From :func:`stimulus_weights`, in the order of ``ds``'s presentations.
    mask : ndarray of bool (neuroid, time_bin), optional
        Neuroid-bins entering the medians (default: ``reliable``).

    Returns
    -------
    dict with ``r`` and ``ceiled``, each (B, time_bin).
    """
    if not has_predictions(ds):
        raise ValueError("resampling stimuli needs the out-of-fold predictions and responses in the scores: "
                         "score with keep_predictions=True (brainfit fit and the demo do)")
    pred = ds["prediction"].transpose("presentation", "neuroid", TIME_BIN).values.astype(np.float64)
    resp = ds["response"].transpose("presentation", "neuroid", TIME_BIN).values.astype(np.float64)
    n, N, T = resp.shape
    if weights.shape[1] != n:
        raise ValueError(f"weights cover {weights.shape[1]} stimuli, the scores {n}")
    fold_of = None
    if ds.attrs.get("r_within_folds"):
        if "test_fold" not in ds.coords:
            raise ValueError("the scores computed r within test folds but carry no 'test_fold' coord: the "
                             "resamples could not do the same; score with splits= and keep_predictions=True")
        fold_of = ds.coords["test_fold"].values
    pred = standardize_within_folds(pred, fold_of, axis=0)
    resp = standardize_within_folds(resp, fold_of, axis=0)
    mask = ds["reliable"].transpose("neuroid", TIME_BIN).values.astype(bool) if mask is None else mask
    cols = np.flatnonzero(mask.ravel())
    bin_of = cols % T
    pc = (pred - pred.mean(axis=0)).reshape(n, -1)[:, cols]
    yc = (resp - resp.mean(axis=0)).reshape(n, -1)[:, cols]
    ceiling = ds["ceiling"].transpose("neuroid", TIME_BIN).values.ravel()[cols] if "ceiling" in ds else None
    B = weights.shape[0]
    out = {"r": np.full((B, T), np.nan), "ceiled": np.full((B, T), np.nan)}
    for b0 in range(0, B, batch):
        w = weights[b0:b0 + batch]
        r = weighted_pearson(w, pc, yc)  # (b, cols)
        c = ceiled_score(r, ceiling) if ceiling is not None else np.full_like(r, np.nan)
        for t in range(T):
            idx = bin_of == t
            if idx.any():
                out["r"][b0:b0 + len(w), t] = median_over(r[:, idx], True, axis=1)
                out["ceiled"][b0:b0 + len(w), t] = median_over(c[:, idx], True, axis=1)
    return out


def neuroid_resampled_medians(values: np.ndarray, mask: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """Median over resampled neuroids per bin: values/mask (neuroid, time_bin) -> (n_bootstrap, time_bin).

    The same draw of neuroids for every call with the same ``seed`` and neuroid count (paired).
    """
    N = values.shape[0]
    rng = np.random.default_rng([seed, N, 1])
    idx = rng.integers(0, N, size=(n_bootstrap, N))
    out = np.empty((n_bootstrap, values.shape[1]))
    for b0 in range(0, n_bootstrap, 100):
        out[b0:b0 + 100] = median_over(values[idx[b0:b0 + 100]], mask[idx[b0:b0 + 100]], axis=1)
    return out


def percentile_ci(samples: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the first axis (NaN-safe): ``(low, high)``."""
    q = [(1.0 - ci) / 2.0 * 100.0, (1.0 + ci) / 2.0 * 100.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(samples, q, axis=0)
    return lo, hi
