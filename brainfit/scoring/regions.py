"""Per-region scores of one model: the score Datasets that comparisons, leaderboards and reports use
(what a zoo fit task runs, :mod:`brainfit.zoo.tasks`).

:func:`score_by_region` fits every candidate layer once for all neuroids (one decomposition per
layer, bin and fold serves every region), lets each region choose its layer on training folds
only, and scores the chosen layer's out-of-fold predictions region by region with stimulus
bootstrap CIs, keeping the predictions so that paired comparisons can resample stimuli.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import (
    LAYER,
    REGION,
    has_repetitions,
    select_region,
    stimulus_ids,
    validate_neural,
)
from brainfit.mapping import Splits
from brainfit.scoring.ceiling import estimate_ceiling
from brainfit.scoring.config import DEFAULT_N_BOOTSTRAP, ScoringConfig
from brainfit.scoring.pipeline import fit_and_score, score_predictions

__all__ = ["score_by_region"]


def score_by_region(activations: xr.DataArray, neural: xr.DataArray, temporal_map: Any = None, *,
                    regions: Sequence[str], splits: Splits, layers: Sequence[str] | None = None,
                    mapping: Any = None, n_bootstrap: int = DEFAULT_N_BOOTSTRAP, seed: int = 0, progress: bool = False,
                    readout: str = "per_bin", attrs: dict | None = None) -> tuple[xr.Dataset, dict[str, xr.Dataset]]:
    """Fit ``activations`` to ``neural`` and score each region with its layer chosen on training folds.

    Parameters
    ----------
    activations, neural, temporal_map, mapping, splits
        As for :func:`~brainfit.scoring.fit_and_score` (``splits`` required: comparisons need
        the same folds for every model).
    regions : sequence of str
        Regions of ``neural`` to score (a missing one is a ``ValueError`` listing those present).
    layers : sequence of str, optional
        Candidate layers (default: every layer of the activations).
    n_bootstrap, seed
        Stimulus-bootstrap resamples of the per-region CIs, and their seed.
    readout : {"per_bin", "shared"}
        One ridge map per time bin, or one map for every bin (``shared_across_bins`` of
        :func:`~brainfit.scoring.fit_and_score`); scored per bin either way. Recorded as attr ``readout``.
    attrs : dict, optional
        Added to every returned Dataset's attrs (e.g. the model name and its weights' hash).

    Returns
    -------
    fit : Dataset
        The :func:`~brainfit.scoring.fit_and_score` output for all neuroids (per layer, without
        predictions) -- for layer x bin views.
    by_region : dict ``region -> Dataset``
        Scores of the chosen layer's predictions (neuroid x time_bin), with ``prediction``,
        ``response``, ``selected_layer`` (fold), with a latency grid ``selected_latency_ms`` (with a
        constant map's grid of steps ``selected_step``; fold: the value chosen on training folds
        with the layer) and attrs ``region`` and ``readout``.
    """
    present = sorted(set(np.asarray(neural.coords[REGION].values).astype(str).tolist())) if REGION in neural.coords \
        else []
    if readout not in ("per_bin", "shared"):
        raise ValueError(f"readout must be 'per_bin' or 'shared', got {readout!r}")
    missing = [r for r in regions if r not in present]
    if missing:
        raise ValueError(f"region(s) {missing} not in the neural data; regions present: {present}")
    neural = validate_neural(neural)
    estimate = None
    if has_repetitions(neural):
        # trials in the splits' stimulus order, then by repetition: the fit and every region see the
        # same stimulus order, so they share one split-half ceiling, computed once here with the
        # halves the regions' bootstraps use and passed to each (a region's is its neuroids' part)
        position = {s: i for i, s in enumerate(splits.stimulus_ids.tolist())}
        sid = stimulus_ids(neural)
        if set(sid.tolist()) == set(position):
            order = np.lexsort((np.asarray(neural.coords["repetition"].values), [position[s] for s in sid.tolist()]))
            neural = neural.isel(presentation=order)
            with warnings.catch_warnings():  # a few-stimuli warning comes from the scoring calls below
                warnings.simplefilter("ignore", RuntimeWarning)
                estimate = estimate_ceiling(neural, ScoringConfig.resolve(None, n_bootstrap=n_bootstrap, seed=seed))
    fit = fit_and_score(activations, neural, temporal_map, layers=None if layers is None else list(layers),
                        splits=splits, n_bootstrap=0, seed=seed, keep_predictions=True, mapping=mapping,
                        progress=progress, ceiling_estimate=estimate, shared_across_bins=readout == "shared")
    fit.attrs["readout"] = readout
    if "prediction_selected" in fit:
        pred = fit["prediction_selected"]
    else:  # a single candidate layer: nothing to choose
        pred = fit["prediction"].isel({LAYER: 0}, drop=True)
    site_region = np.asarray(fit.coords[REGION].values).astype(str)
    by_region = {}
    for region in regions:
        ds = score_predictions(pred.isel(neuroid=site_region == region), select_region(neural, region),
                               splits=splits, n_bootstrap=n_bootstrap, seed=seed, keep_predictions=True,
                               ceiling_estimate=estimate)
        if "selected_layer" in fit:
            ds["selected_layer"] = fit["selected_layer"].sel(selection_region=region, drop=True)
        else:
            ds["selected_layer"] = xr.DataArray(np.full(splits.n_folds, str(fit.coords[LAYER].values[0])),
                                                dims=("fold",))
        for what in ("latency_ms", "step"):  # a grid: the value chosen with the layer, per fold
            if f"selected_{what}" in fit:
                ds[f"selected_{what}"] = fit[f"selected_{what}"].sel(selection_region=region, drop=True)
            elif f"chosen_{what}" in fit:  # one candidate layer
                ds[f"selected_{what}"] = fit[f"chosen_{what}"].sel(selection_region=region, drop=True).isel(
                    {LAYER: 0}, drop=True)
        ds.attrs.update({k: v for k, v in fit.attrs.items() if k not in ds.attrs})
        ds.attrs.update(attrs or {}, region=region)
        by_region[region] = ds
    fit = fit.drop_vars([v for v in ("prediction", "prediction_selected") if v in fit])
    fit.attrs.update(attrs or {})
    return fit, by_region
