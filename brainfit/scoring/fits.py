"""The fits behind :func:`~brainfit.scoring.fit_and_score`: every layer's cross-validated predictions
on one set of per-bin features, and the candidate chosen on training folds when the temporal map
gives a grid (latencies of a ``one_to_one`` map, steps of a ``constant`` one).

:func:`_fit_layers` fits one mapping per layer and time bin (bins with identical features as one
multi-target fit; all bins as one problem for a readout shared across bins) and keeps each fit's
training-only selection scores. :func:`_keep_best_candidate` is called once per candidate:
per outer fold, region and layer it keeps the candidate whose training-only score (the same
nested criterion as the layer's, over the region's reliable sites) is highest, and that
candidate's test-fold predictions. Nothing from an outer test fold enters its own choice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import PRESENTATION
from brainfit.mapping import AlphaEdges, CrossValidatedFit, RidgeMapping, Splits, alpha_edges
from brainfit.scoring.ceiling import _combine_splits, _half_means, _trial_groups, split_half_masks
from brainfit.scoring.features import _fit_problem, _identical_bins
from brainfit.scoring.selection import _inner_fold_scores, _loo_scores, region_criterion

__all__: list[str] = []


def _reliable_sites(neural: xr.DataArray, ids: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                    ceiling: np.ndarray, ceiling_source: str, threshold: float, n_splits: int,
                    seed: int) -> np.ndarray:
    """(folds, N, T) sites that rank candidates (layers, latencies) on each outer training set.

    With single trials: the sites whose split-half ceiling *on that fold's training stimuli* is at
    or above the threshold (``n_splits`` random halves, Spearman-Brown corrected, as the ceiling),
    so the test fold enters neither the scores nor the choice of sites.
    With a given ceiling (no trials to split): the sites it calls reliable, the same for every
    fold -- a property of the data, the same for every model. Without a ceiling: every site.
    """
    n_folds, (N, T) = len(folds), ceiling.shape
    if ceiling_source == "none":
        return np.ones((n_folds, N, T), dtype=bool)
    if ceiling_source == "given":
        return np.broadcast_to(np.nan_to_num(ceiling, nan=-np.inf) >= threshold, (n_folds, N, T)).copy()
    # the split halves of every stimulus are drawn once (a stimulus's half-means use its own trials
    # only), then each training set correlates them over its own stimuli
    group, rep = _trial_groups(neural, np.asarray(ids))
    counts = np.bincount(group[group >= 0], minlength=len(ids))
    masks = split_half_masks(group, rep, n_splits, seed)
    values = np.asarray(neural.transpose(PRESENTATION, ...).values, dtype=np.float64).reshape(len(group), -1)
    usable = counts >= 2
    # (folds, stimuli) indicator of each training set's repeated stimuli: the sums a correlation over
    # them needs are one matrix product per statistic and split
    member = np.zeros((n_folds, len(ids)))
    for k, (tr, _) in enumerate(folds):
        member[k, np.asarray(tr)[usable[tr]]] = 1.0
    n_use = member.sum(axis=1)
    rs = np.empty((n_splits, n_folds, values.shape[1]))
    for s in range(n_splits):
        a, b = _half_means(values, group, masks[s], len(ids), np.maximum(counts // 2, 1))
        sa, sb = member @ a, member @ b
        cov = member @ (a * b) - sa * sb / n_use[:, None]
        va = member @ (a * a) - sa * sa / n_use[:, None]
        vb = member @ (b * b) - sb * sb / n_use[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            rs[s] = cov / np.sqrt(va * vb)
    out = np.ones((n_folds, N, T), dtype=bool)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(n_folds):
            use = member[k] > 0
            if use.sum() < 3:  # too few repeated stimuli in this training set: rank on every site
                continue
            sb = float(np.mean(1.0 / (counts[use] // 2)) / np.mean(1.0 / counts[use]))  # Spearman-Brown
            _, c = _combine_splits(np.where(np.isfinite(rs[:, k]), rs[:, k], np.nan), sb)
            out[k] = (np.nan_to_num(c, nan=-np.inf) >= threshold).reshape(N, T)
    return out


@dataclass
class _FitSetup:
    """What every candidate's fits share: targets, layer masks, folds, mapping, selection."""

    Y: np.ndarray                     # (n, N, T) averaged responses
    masks: dict[str, np.ndarray]      # layer -> feature mask
    folds: list[tuple[np.ndarray, np.ndarray]]
    mapping: Any
    shared_across_bins: bool
    criterion: str | None             # "loo", "inner_folds" or None (no choice to make)
    inner: list[Splits]
    inner_idx: list
    ids: np.ndarray


@dataclass
class _Fitted:
    """Every layer's out-of-fold predictions (L, n, N, T), training-only scores (L, folds, N, T),
    ridge alphas (folds, N, T, L) and the alpha-grid edges per layer."""

    pred: np.ndarray
    sel_score: np.ndarray
    alpha: np.ndarray
    has_alpha: bool
    edges: dict[str, AlphaEdges]


def _fit_layers(setup: _FitSetup, values: np.ndarray, shared: bool, bar: Any) -> _Fitted:
    """Fit every layer on per-bin features ``values`` (n, F, T, or T=1 when ``shared``)."""
    Y, folds, mapping = setup.Y, setup.folds, setup.mapping
    n, N, T = Y.shape
    names = list(setup.masks)
    L = len(names)
    independent = bool(getattr(mapping, "independent_targets", False))
    joint = shared and independent and not setup.shared_across_bins
    groups = [list(range(T))] if (joint or setup.shared_across_bins) else [[b] for b in range(T)]
    # bins whose features are identical (e.g. a feedforward control's response to the gray screen
    # after the image is off) are one multi-target fit for a mapping that fits targets
    # independently: the same predictions, one decomposition instead of one per bin
    merge = independent and not (joint or setup.shared_across_bins or shared)
    pred = np.empty((L, n, N, T))
    sel_score = np.full((L, len(folds), N, T), np.nan)
    alpha = np.full((len(folds), N, T, L), np.nan)
    has_alpha = False
    edges: dict[str, AlphaEdges] = {}
    for li, name in enumerate(names):
        for bins in (_identical_bins(values, setup.masks[name]) if merge else groups):
            X, Yg, fit_folds = _fit_problem(values, setup.masks[name], Y, bins, shared, setup.shared_across_bins,
                                            folds)
            fitter = CrossValidatedFit(mapping, X, warn_alpha_edges=False)  # one kernel for outer and inner folds;
            # the alpha-grid edges of every fit are summarised in one warning by the caller. A shared
            # readout's rows are (stimulus, bin): its alphas are chosen leaving out whole stimuli
            stimulus_of_row = (np.tile(np.arange(n), T) if setup.shared_across_bins and isinstance(mapping, RidgeMapping)
                               else None)
            p, info = fitter.predict(Yg, fit_folds, groups=stimulus_of_row)
            if setup.shared_across_bins:
                pred[li] = p.reshape(T, n, N).transpose(1, 2, 0)
            else:
                pred[li][:, :, bins] = p.reshape(n, N, len(bins))
            if "alpha" in info:
                a = info["alpha"].reshape(len(folds), N, -1)
                alpha[:, :, bins, li] = a if a.shape[2] == len(bins) else a[:, :, :1]
                has_alpha = True
            if "alpha_edge" in info:
                e = alpha_edges(info["alpha_edge"], np.atleast_1d(mapping.alphas))
                edges[name] = edges[name] + e if name in edges else e
            if setup.criterion == "loo":
                sel_score[li][:, :, bins] = _loo_scores(info, len(folds), N)
            elif setup.criterion == "inner_folds":
                sel_score[li][:, :, bins] = _inner_fold_scores(fitter, Yg, Y, bins, folds, setup.inner,
                                                               setup.inner_idx, setup.ids, setup.shared_across_bins)
        bar.update(1)
    return _Fitted(pred=pred, sel_score=sel_score, alpha=alpha, has_alpha=has_alpha, edges=edges)


@dataclass
class _Timing:
    """The best candidate so far per (fold, region, layer): its value, criterion and fits."""

    fitted: _Fitted
    value: np.ndarray                 # (folds, regions, L) the candidate's latency (ms) or step
    best: np.ndarray                  # (folds, regions, L) its criterion


def _keep_best_candidate(timing: _Timing | None, fitted: _Fitted, value: float,
                       folds: list[tuple[np.ndarray, np.ndarray]], regions: np.ndarray, region_names: list[str],
                       reliable: np.ndarray) -> _Timing:
    """Fold the fits of one candidate (latency or step ``value``) into the best so far (first wins ties);
    ``reliable`` (folds, N, T) are the sites each training set ranks on."""
    L = fitted.pred.shape[0]
    crit = np.array([[[region_criterion(fitted.sel_score[li, k], np.flatnonzero(regions == g), reliable[k])
                       for li in range(L)] for g in region_names] for k in range(len(folds))])
    if timing is None:
        return _Timing(fitted=fitted, value=np.full(crit.shape, float(value)), best=crit)
    best, kept = timing.best, timing.fitted
    for k, (_, te) in enumerate(folds):
        for gi, g in enumerate(region_names):
            cols = np.flatnonzero(regions == g)
            for li in np.flatnonzero(crit[k, gi] > best[k, gi]):
                kept.pred[li][np.ix_(te, cols)] = fitted.pred[li][np.ix_(te, cols)]
                kept.sel_score[li, k][cols] = fitted.sel_score[li, k][cols]
                kept.alpha[k][cols, :, li] = fitted.alpha[k][cols, :, li]
                best[k, gi, li] = crit[k, gi, li]
                timing.value[k, gi, li] = float(value)
    kept.has_alpha = kept.has_alpha or fitted.has_alpha
    for name, e in fitted.edges.items():
        kept.edges[name] = kept.edges[name] + e if name in kept.edges else e
    return timing
