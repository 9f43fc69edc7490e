"""Per-region scores of one model: the score Datasets that comparisons, leaderboards and reports use.

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
    average_repetitions,
    has_repetitions,
    select_region,
    stimulus_ids,
    validate_neural,
)
from brainfit.mapping import Splits
from brainfit.scoring.ceiling import _ceiling_for
from brainfit.scoring.config import ScoringConfig
from brainfit.scoring.pipeline import fit_and_score, score_predictions

__all__ = ["score_by_region", "fit_model"]


def score_by_region(activations: xr.DataArray, neural: xr.DataArray, temporal_map: Any = None, *,
                    regions: Sequence[str], splits: Splits, layers: Sequence[str] | None = None,
                    mapping: Any = None, n_bootstrap: int = 500, seed: int = 0, progress: bool = False,
                    attrs: dict | None = None) -> tuple[xr.Dataset, dict[str, xr.Dataset]]:
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
    attrs : dict, optional
        Added to every returned Dataset's attrs (e.g. the model name and its weights' hash).

    Returns
    -------
    fit : Dataset
        The :func:`~brainfit.scoring.fit_and_score` output for all neuroids (per layer, without
        predictions) -- for layer x bin views.
    by_region : dict ``region -> Dataset``
        Scores of the chosen layer's predictions (neuroid x time_bin), with ``prediction``,
        ``response``, ``selected_layer`` (fold) and attrs ``region``.
    """
    present = sorted(set(np.asarray(neural.coords[REGION].values).astype(str).tolist())) if REGION in neural.coords \
        else []
    missing = [r for r in regions if r not in present]
    if missing:
        raise ValueError(f"region(s) {missing} not in the neural data; regions present: {present}")
    neural = validate_neural(neural)
    if has_repetitions(neural):
        # trials in the splits' stimulus order, then by repetition: the fit and every region see the
        # same stimulus order, so they draw the same split halves and share one ceiling; it is
        # computed once here, with the halves the regions' bootstraps use, and the fit and the
        # regions read their parts of it (scoring.ceiling memo)
        position = {s: i for i, s in enumerate(splits.stimulus_ids.tolist())}
        sid = stimulus_ids(neural)
        if set(sid.tolist()) == set(position):
            order = np.lexsort((np.asarray(neural.coords["repetition"].values), [position[s] for s in sid.tolist()]))
            neural = neural.isel(presentation=order)
        cfg = ScoringConfig.resolve(None, n_bootstrap=n_bootstrap, seed=seed)
        with warnings.catch_warnings():  # a few-stimuli warning comes from the scoring calls below
            warnings.simplefilter("ignore", RuntimeWarning)
            _ceiling_for(neural, average_repetitions(neural), None, cfg.n_ceiling_splits, seed, n_bootstrap,
                         cfg.n_bootstrap_splits)
    fit = fit_and_score(activations, neural, temporal_map, layers=None if layers is None else list(layers),
                        splits=splits, n_bootstrap=0, seed=seed, keep_predictions=True, mapping=mapping,
                        progress=progress)
    if "prediction_selected" in fit:
        pred = fit["prediction_selected"]
    else:  # a single candidate layer: nothing to choose
        pred = fit["prediction"].isel({LAYER: 0}, drop=True)
    site_region = np.asarray(fit.coords[REGION].values).astype(str)
    by_region = {}
    for region in regions:
        ds = score_predictions(pred.isel(neuroid=site_region == region), select_region(neural, region),
                               splits=splits, n_bootstrap=n_bootstrap, seed=seed, keep_predictions=True)
        if "selected_layer" in fit:
            ds["selected_layer"] = fit["selected_layer"].sel(selection_region=region, drop=True)
        else:
            ds["selected_layer"] = xr.DataArray(np.full(splits.n_folds, str(fit.coords[LAYER].values[0])),
                                                dims=("fold",))
        ds.attrs.update({k: v for k, v in fit.attrs.items() if k not in ds.attrs})
        ds.attrs.update(attrs or {}, region=region)
        by_region[region] = ds
    fit = fit.drop_vars([v for v in ("prediction", "prediction_selected") if v in fit])
    fit.attrs.update(attrs or {})
    return fit, by_region


def fit_model(model: Any, stimuli: Any, neural: xr.DataArray, *, name: str, temporal_map: Any, regions: Sequence[str],
              splits: Splits, layers: Sequence[str] | None = None, label: str | None = None,
              n_steps: int | None = None, on_steps: int | None = None, projection: Any = None, cache: Any = None,
              device: str | None = None, mapping: Any = None, n_bootstrap: int = 500, seed: int = 0,
              progress: bool = False, attrs: dict | None = None) -> tuple[xr.Dataset, dict[str, xr.Dataset], dict]:
    """Extract a model's activations and :func:`score_by_region` them; what ``brainfit fit`` and the demo run.

    Parameters
    ----------
    model : torch.nn.Module
        A brainfit model (``create_model`` / ``model_from_spec``) or any module extraction accepts.
    stimuli : StimulusSet
    neural : DataArray
    name : str
        The model's name in the results (attrs ``model.name``, file names).
    temporal_map : TemporalMap
    regions, splits, layers, mapping, n_bootstrap, seed, progress
        See :func:`score_by_region`.
    label : str, optional
        Display name (default ``name``).
    n_steps, on_steps, projection, cache, device
        Passed to :func:`brainfit.activations.extract`.
    attrs : dict, optional
        Extra attrs for every returned Dataset (e.g. ``dataset`` provenance).

    Returns
    -------
    fit, by_region
        As :func:`score_by_region`; every Dataset has the attr ``model`` (the dict below).
    info : dict
        ``name``, ``label``, ``weights``, ``weights_sha256``, ``params``, ``is_recurrent``,
        ``temporal_map``, ``n_steps``, ``on_steps``, ``trained_schedule``, ``layers_selected``
        (region -> layers chosen on the training folds).
    """
    from brainfit.activations import extract, weights_hash
    from brainfit.models import count_params

    acts = extract(model, stimuli, layers=None if layers is None else list(layers), n_steps=n_steps,
                   on_steps=on_steps, projection=projection, cache=cache, device=device, model_id=name,
                   progress=progress)
    tmap = temporal_map.to_dict() if hasattr(temporal_map, "to_dict") else repr(temporal_map)
    info = {"name": name, "label": label or name, "weights": str(getattr(model, "weights_source", "given")),
            "weights_sha256": weights_hash(model), "params": int(count_params(model)),
            "is_recurrent": bool(getattr(model, "is_recurrent", False)), "temporal_map": tmap,
            "n_steps": n_steps if n_steps is not None else getattr(model, "n_steps", None),
            "on_steps": on_steps if on_steps is not None else getattr(model, "on_steps", None),
            "trained_schedule": getattr(model, "trained_schedule", None)}
    try:
        fit, by_region = score_by_region(acts, neural, temporal_map, regions=regions, splits=splits, layers=layers,
                                         mapping=mapping, n_bootstrap=n_bootstrap, seed=seed, progress=progress,
                                         attrs={**(attrs or {})})
    finally:
        if hasattr(acts, "close"):
            acts.close()
    info["layers_selected"] = {r: sorted(set(np.asarray(ds["selected_layer"].values).astype(str).tolist()))
                               for r, ds in by_region.items()}
    for ds in (fit, *by_region.values()):
        ds.attrs["model"] = info
    return fit, by_region, info
