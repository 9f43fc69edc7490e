"""Layer selection per region, nested on training stimuli only (package docstring, "Layer selection").

For every outer fold, each layer gets a training-only score per neuroid and bin -- the exact LOO
R^2 of the outer ridge fits (``"loo"``) or the within-fold ``r`` of inner folds on the outer
training set (``"inner_folds"``) -- and the layer with the highest median over a region's
reliable neuroids (averaged over bins; every neuroid of the region when none is reliable, or for
data without a ceiling) predicts that region's neuroids on the outer test fold. Nothing from an
outer test fold enters its own choice: reliability is the split-half ceiling of the training
stimuli alone. It is a property of the data, the same for every model, so ranking on reliable
sites favours no model; it keeps the many unreliable sites of early bins from deciding a layer.
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
    "loo": "nested: per outer training set, median over the region's reliable neuroids of the LOO R^2 (mean "
           "over bins; with a readout shared across bins, leaving out whole stimuli)",
    "inner_folds": "nested: per outer training set, median over the region's reliable neuroids of the inner-fold "
                   "r (mean over bins)",
}


def _selection_criterion(layer_selection: str, mapping: Any, shared_across_bins: bool = False) -> str:
    """``"loo"`` or ``"inner_folds"`` for a ``layer_selection`` setting and mapping.

    Raises
    ------
    ValueError
        For an unknown setting, or ``"loo"`` without a LOO ridge.
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
    # with a readout shared across bins the LOO errors leave out whole stimuli (every bin of one:
    # brainfit.mapping._grouped_loo), so the training-set R^2 from them stays a fair criterion
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
            groups = rows % n if isinstance(fitter.mapping, RidgeMapping) else None  # the stimulus of each row
            p_in, _ = fitter.predict(Yg[rows], _stack_folds(inner_idx[k], len(tr), T), rows=rows, groups=groups)
            p_in = p_in.reshape(T, len(tr), N).transpose(1, 2, 0)
            y_in = Y[tr]
        else:
            p_in, _ = fitter.predict(Yg[tr], inner_idx[k], rows=tr)
            p_in, y_in = p_in.reshape(len(tr), N, len(bins)), Y[tr][:, :, bins]
        out[k] = pearson_r(standardize_within_folds(p_in, inner_fold_of),
                           standardize_within_folds(y_in, inner_fold_of), axis=0)
    return out


def region_criterion(sel_score: np.ndarray, cols: np.ndarray, reliable: np.ndarray) -> float:
    """The nested criterion of one candidate on one training set: per bin the median of the
    training-only scores over the region's reliable sites (``cols``; all of them when none is
    reliable), then the mean over bins. ``sel_score`` is (N, T)."""
    mask = reliable[cols]
    if not mask.any():
        mask = np.ones_like(mask)
    per_bin = median_over(sel_score[cols], mask, axis=0)
    return float(np.nanmean(per_bin)) if np.isfinite(per_bin).any() else -np.inf


def _choose_layers(pred: np.ndarray, sel_score: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                   regions: np.ndarray, region_names: list[str], layer_names: list[str],
                   reliable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The layer chosen per fold and region, and the predictions it makes.

    Parameters
    ----------
    pred : ndarray (L, n, N, T)
        Out-of-fold predictions of every layer.
    sel_score : ndarray (L, n_folds, N, T)
        Training-only scores.
    regions : ndarray (N,) of str
        Region of each neuroid; ``region_names`` the distinct ones, in order.
    reliable : ndarray (n_folds, N, T) of bool, optional
        The sites each training set ranks layers on (default: every site).

    Returns
    -------
    chosen : ndarray (n_folds, n_regions) of object (layer names)
    selected : ndarray (n, N, T)
        Each test fold's predictions from the layer chosen for it, per region.
    """
    L, n, N, T = pred.shape
    chosen = np.empty((len(folds), len(region_names)), dtype=object)
    sel = np.empty((n, N, T))
    reliable = np.ones((len(folds), N, T), dtype=bool) if reliable is None else reliable
    for k, (_, te) in enumerate(folds):
        for gi, g in enumerate(region_names):
            cols = np.flatnonzero(regions == g)
            crit = np.array([region_criterion(sel_score[li, k], cols, reliable[k]) for li in range(L)])
            best = int(np.argmax(crit))
            chosen[k, gi] = layer_names[best]
            sel[np.ix_(te, cols)] = pred[best][np.ix_(te, cols)]
    return chosen, sel
