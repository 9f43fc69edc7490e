"""Noise ceilings: split-half reliability with Spearman-Brown correction, and ceiled scores.

See the package docstring ("Ceiling", "Ceiled score") for the conventions and why the ceiling is
never squared. :func:`split_half_masks` defines the random halves on ``(stimulus_id, repetition)``
so that every result is independent of the order of presentations.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse
import xarray as xr

from brainfit.assembly import (
    NEUROID, NEUROID_ID, PRESENTATION, REPETITION, TIME_BIN, has_repetitions, stimulus_ids, validate_neural,
)
from brainfit.scoring.correlation import _align_neuroids, _coords_without, pearson_r

__all__ = ["CEILING_CONVENTION", "split_half_masks", "split_half_ceiling", "ceiled_score"]

log = logging.getLogger(__name__)

CEILING_CONVENTION = (
    "ceiled = sign(r) * r**2 / ceiling; ceiling = Spearman-Brown-corrected split-half reliability of the "
    "trial-averaged responses (fraction of explainable variance), never squared"
)


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


def _half_means(values: np.ndarray, group: np.ndarray, labels: np.ndarray, n_groups: int,
                half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    """``sign(r) * r**2 / ceiling``; NaN where ``ceiling <= 0`` or either is NaN (package docstring)."""
    if isinstance(r, xr.DataArray) or isinstance(ceiling, xr.DataArray):
        return xr.apply_ufunc(ceiled_score, r, ceiling)
    r_arr = np.asarray(r, dtype=np.float64)
    c_arr = np.asarray(ceiling, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c_arr > 0, np.sign(r_arr) * r_arr**2 / np.where(c_arr > 0, c_arr, 1.0), np.nan)


def _ceiling_for(neural: xr.DataArray, avg: xr.DataArray, ceiling: xr.DataArray | None, n_ceiling_splits: int,
                 seed: int, n_bootstrap: int,
                 n_bootstrap_splits: int) -> tuple[np.ndarray, dict[str, Any] | None, dict[str, Any]]:
    """The ceiling used for scoring: given, or split-half from the trials.

    Returns the ceiling (N, T) aligned with ``avg`` (its neuroid order), the split-half result
    (with the first ``min(n_bootstrap_splits, n_ceiling_splits)`` split halves kept for the
    bootstrap, and ``split_half_r`` (N, T)) or None for a given ceiling, and the ``ceiling_*`` attrs.
    """
    N, T = avg.sizes[NEUROID], avg.sizes[TIME_BIN]
    if ceiling is not None:
        c = ceiling.transpose(NEUROID, TIME_BIN) if isinstance(ceiling, xr.DataArray) else None
        if c is None or c.shape != (N, T):
            raise ValueError(f"ceiling must be a DataArray (neuroid x time_bin) of shape {(N, T)}")
        if NEUROID_ID in c.coords:
            c = _align_neuroids(c, avg)
        vals = np.asarray(c.values, dtype=np.float64)
        given = {f"ceiling_{k}": v for k, v in c.attrs.items() if isinstance(v, (int, float, str))}
        return vals, None, {"ceiling_source": "given", **given}
    if not has_repetitions(neural):
        raise ValueError(
            "neural assembly has no 'repetition' coord: noise ceilings need single trials; "
            "pass the trials, or a precomputed ceiling=DataArray(neuroid x time_bin)"
        )
    ids = stimulus_ids(avg)
    group, rep = _trial_groups(neural, ids)
    n_trials = neural.sizes[PRESENTATION]
    keep = min(n_bootstrap_splits, n_ceiling_splits) if n_bootstrap else 0
    res = _split_half_core(neural.values.reshape(n_trials, -1).astype(np.float64), group, rep, len(ids),
                           n_ceiling_splits, seed, keep_halves=keep)
    attrs = {"ceiling_source": "split_half", "ceiling_n_splits": int(n_ceiling_splits),
             "ceiling_spearman_brown_k": res["k"], "ceiling_n_stimuli": int(len(res["usable"]))}
    res["split_half_r"] = res["r_half"].reshape(N, T)
    return res["ceiling"].reshape(N, T), res, attrs
