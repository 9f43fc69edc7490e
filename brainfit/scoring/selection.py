"""Layer selection per region, nested on training stimuli only (package docstring, "Layer selection").

For every outer fold, each layer gets a training-only score per neuroid and bin -- the exact LOO
R^2 of the outer ridge fits (``"loo"``) or the within-fold ``r`` of inner folds on the outer
training set (``"inner_folds"``) -- and the layer with the highest median over a region's
neuroids (averaged over bins) predicts that region's neuroids on the outer test fold. Nothing
from an outer test fold enters its own choice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brainfit.mapping import CrossValidatedFit, RidgeMapping, Splits
from brainfit.scoring.bootstrap import median_over
from brainfit.scoring.correlation import pearson_r, standardize_within_folds
from brainfit.scoring.features import _stack_folds, _stacked_rows

__all__: list[str] = []

_CRITERIA = {
    "loo": "nested: per outer training set, median over the region's neuroids of the LOO R^2 (mean over bins)",
    "inner_folds": "nested: per outer training set, median over the region's neuroids of the inner-fold r "
                   "(mean over bins)",
}


def _selection_criterion(layer_selection: str, mapping: Any, shared_across_bins: bool = False) -> str:
    """``"loo"`` or ``"inner_folds"`` for a ``layer_selection`` setting and mapping.

    Raises
    ------
    ValueError
        For an unknown setting, ``"loo"`` without a LOO ridge, or ``"loo"`` with a readout shared
        across bins (leaving out one (stimulus, bin) row keeps the stimulus's other bins in training).
    """
    if layer_selection not in ("auto", "loo", "inner_folds"):
        raise ValueError(f"layer_selection must be 'auto', 'loo' or 'inner_folds', got {layer_selection!r}")
    loo_ok = (isinstance(mapping, RidgeMapping) and mapping.cv == "loo"
              and np.atleast_1d(np.asarray(mapping.alphas)).size > 1)
    if layer_selection == "loo" and not loo_ok:
        raise ValueError("layer_selection='loo' needs a RidgeMapping with cv='loo' and more than one alpha")
    criterion = layer_selection
    if layer_selection == "auto":
        criterion = "loo" if loo_ok else "inner_folds"
    if shared_across_bins and criterion == "loo":
        if layer_selection == "loo":
            raise ValueError("layer_selection='loo' is not valid with shared_across_bins=True (leaving out one "
                             "(stimulus, bin) row keeps the stimulus's other bins in training); use 'inner_folds'")
        criterion = "inner_folds"
    return criterion


def _loo_scores(info: dict[str, np.ndarray], n_folds: int, n_neuroids: int) -> np.ndarray:
    """Training-only R^2 from the LOO errors the outer ridge fits computed anyway, (n_folds, N, n_bins)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - info["cv_mse"] / info["train_var"]
    return r2.reshape(n_folds, n_neuroids, -1)


def _inner_fold_scores(fitter: CrossValidatedFit, Yg: np.ndarray, Y: np.ndarray, bins: list[int],
                       folds: list[tuple[np.ndarray, np.ndarray]], inner: list[Splits],
                       inner_idx: list[list[tuple[np.ndarray, np.ndarray]]], ids: np.ndarray,
                       shared_across_bins: bool) -> np.ndarray:
    """Within-inner-fold ``r`` on each outer training set, (n_folds, N, len(bins)).

    ``fitter`` holds the layer's features (all stimuli, or all (stimulus, bin) rows), ``Yg`` the
    fit's targets (as :func:`~brainfit.scoring.features._fit_problem` made them), ``Y`` (n, N, T)
    the averaged responses; ``inner[k]`` / ``inner_idx[k]`` are the inner splits of outer fold
    ``k`` and their positions into the fold's training stimuli.
    """
    n, N, T = Y.shape
    out = np.empty((len(folds), N, len(bins)))
    for k, (tr, _) in enumerate(folds):
        inner_fold_of = inner[k].check_stimuli(ids[tr])
        if shared_across_bins:
            rows = _stacked_rows(tr, n, T)
            p_in, _ = fitter.predict(Yg[rows], _stack_folds(inner_idx[k], len(tr), T), rows=rows)
            p_in = p_in.reshape(T, len(tr), N).transpose(1, 2, 0)
            y_in = Y[tr]
        else:
            p_in, _ = fitter.predict(Yg[tr], inner_idx[k], rows=tr)
            p_in, y_in = p_in.reshape(len(tr), N, len(bins)), Y[tr][:, :, bins]
        out[k] = pearson_r(standardize_within_folds(p_in, inner_fold_of),
                           standardize_within_folds(y_in, inner_fold_of), axis=0)
    return out


def _choose_layers(pred: np.ndarray, sel_score: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                   regions: np.ndarray, region_names: list[str],
                   layer_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The layer chosen per fold and region, and the predictions it makes.

    Parameters
    ----------
    pred : ndarray (L, n, N, T)
        Out-of-fold predictions of every layer.
    sel_score : ndarray (L, n_folds, N, T)
        Training-only scores.
    regions : ndarray (N,) of str
        Region of each neuroid; ``region_names`` the distinct ones, in order.

    Returns
    -------
    chosen : ndarray (n_folds, n_regions) of object (layer names)
    selected : ndarray (n, N, T)
        Each test fold's predictions from the layer chosen for it, per region.
    """
    L, n, N, T = pred.shape
    chosen = np.empty((len(folds), len(region_names)), dtype=object)
    sel = np.empty((n, N, T))
    everything = np.ones((N, T), dtype=bool)
    for k, (_, te) in enumerate(folds):
        for gi, g in enumerate(region_names):
            cols = np.flatnonzero(regions == g)
            # median over the region's neuroids per bin, then the mean over bins
            crit = np.array([np.nanmean(median_over(sel_score[li, k][cols], everything[cols], axis=0))
                             for li in range(L)])
            best = int(np.argmax(np.where(np.isnan(crit), -np.inf, crit)))
            chosen[k, gi] = layer_names[best]
            sel[np.ix_(te, cols)] = pred[best][np.ix_(te, cols)]
    return chosen, sel
