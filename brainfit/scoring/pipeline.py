"""The two entry points: :func:`fit_and_score` (activations -> scores) and :func:`score_predictions`
(out-of-fold predictions -> scores). Both take their shared settings as a :class:`ScoringConfig`
(or its field names as keyword arguments) and store them in the result's attrs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from brainfit.assembly import (
    LAYER,
    NEURAL_DIMS,
    NEUROID,
    PRESENTATION,
    REGION,
    STIMULUS_ID,
    TIME_BIN,
    average_repetitions,
    reorder_to,
    stimulus_ids,
    validate_neural,
)
from brainfit.mapping import (
    AlphaEdges,
    AlphaGridWarning,
    CrossValidatedFit,
    RidgeMapping,
    Splits,
    alpha_edges,
    make_splits,
)
from brainfit.scoring.ceiling import CeilingEstimate, _ceiling_for
from brainfit.scoring.config import ScoringConfig
from brainfit.scoring.correlation import _align_predictions, _check_fold_sizes
from brainfit.scoring.features import _features_per_bin, _layer_masks
from brainfit.scoring.fits import _FitSetup, _fit_layers, _keep_best_candidate, _reliable_sites
from brainfit.scoring.results import (
    _PER_LAYER,
    _build_dataset,
    _score_arrays,
    _settings,
)
from brainfit.scoring.selection import _CRITERIA, _choose_layers, _selection_criterion

__all__ = ["fit_and_score", "score_predictions"]

log = logging.getLogger(__name__)

#: Split halves of the per-training-set reliability that decides which sites rank layers and
#: latencies (a mask, not a score: fewer splits than the ceiling's).
RANKING_SPLITS = 20


def _warn_alpha_edges(edges: dict[str, AlphaEdges]) -> None:
    """One :class:`AlphaGridWarning` naming every layer whose (fold, neuroid, bin) fits chose an
    alpha at an edge of the grid for at least half of them (:mod:`brainfit.mapping._alpha_grid`)."""
    bad = {name: e for name, e in edges.items() if e.at_edge}
    if bad:
        layers = "; ".join(f"layer {name!r}: {e.describe('fold-neuroid-bin fits')}" for name, e in bad.items())
        warnings.warn(f"ridge chose alphas at the edge of the grid in {len(bad)} of {len(edges)} layer(s) -- "
                      f"{layers}; {next(iter(bad.values())).advice()}", AlphaGridWarning, stacklevel=3)


def score_predictions(
    predictions: xr.DataArray,
    neural: xr.DataArray,
    *,
    ceiling: xr.DataArray | None = None,
    ceiling_estimate: CeilingEstimate | None = None,
    splits: Splits | None = None,
    keep_predictions: bool = False,
    config: ScoringConfig | None = None,
    **settings: Any,
) -> xr.Dataset:
    """Score out-of-fold predictions against neural data.

    Parameters
    ----------
    predictions : DataArray (presentation x neuroid x time_bin [x layer])
        Matched to the neural data by ``stimulus_id``, ``neuroid_id`` and time bins.
    neural : DataArray (presentation x neuroid x time_bin)
        Single trials (``repetition`` coord): averaged for ``r``, used for the ceiling. Data
        without single trials (repeat-averaged) are scored with raw ``r`` only: without a given
        ``ceiling``, ``ceiling`` and the ceiled fields are NaN, every neuroid counts in the
        medians of ``r``, and the attrs say so (``ceiling_source="none"``, ``ceiling_note``).
    ceiling : DataArray (neuroid x time_bin, or neuroid), optional
        Precomputed ceiling, e.g. a reliability published with repeat-averaged data, matched by
        ``neuroid_id`` and time bins (dims ``neuroid`` alone only for data with one time bin). It
        must follow this package's convention: the Spearman-Brown-corrected split-half
        reliability of the trial-averaged responses, neither squared nor square-rooted (the
        package docstring, "Ceiling"). Skips the split-half computation; not resampled by the
        bootstrap (attr ``ceiling_source="given"``).
    ceiling_estimate : CeilingEstimate, optional
        The split-half ceiling of these trials computed once (:func:`~brainfit.scoring.estimate_ceiling`
        on these data or a superset of their neuroids, with the same settings), used instead of
        computing it again; refused when it was made from other data.
    splits : Splits, optional
        The folds that produced the predictions: ``r`` is then computed within folds (package
        docstring), unless ``r_over="pooled"``. Without it, predictions and responses are
        correlated over all stimuli as they are (attr ``r_within_folds`` False). Its settings
        and fingerprint are recorded in ``attrs["splits"]`` (what paired comparisons check).
    keep_predictions : bool
        Store the aligned predictions (``prediction``) and the trial-averaged responses
        (``response``), presentation x neuroid x time_bin, with the presentation coords
        ``stimulus_id`` and ``test_fold`` (with ``splits``): what :mod:`brainfit.compare` resamples
        stimuli from.
    config : ScoringConfig, optional
        Ceiling, reliability, bootstrap and seed settings (default ``ScoringConfig()``).
    **settings
        :class:`ScoringConfig` fields overriding ``config``: ``n_ceiling_splits``,
        ``reliability_threshold``, ``n_bootstrap``, ``n_bootstrap_splits``, ``ci``, ``seed``,
        ``r_over``, ``min_fold_stimuli``.

    Returns
    -------
    Dataset with ``r``, ``ceiled`` (neuroid x time_bin [x layer]), ``ceiling``,
    ``split_half_r``, ``reliable`` (neuroid x time_bin), summaries ``median_r``,
    ``median_ceiled``, ``median_r_unreliable`` (time_bin [x layer]), ``n_reliable``,
    ``n_unreliable`` (time_bin), CIs ``median_r_ci``/``median_ceiled_ci`` (.. x bound), and the
    settings in ``attrs`` (``ScoringConfig.from_attrs(ds.attrs)`` recovers the config).

    Raises
    ------
    TypeError
        Naming settings that are not :class:`ScoringConfig` fields.
    ValueError
        Naming the invalid setting, or the mismatched stimuli, neuroids, bins or dims (of the
        predictions or of a given ceiling); or, for ``r`` within folds, a test fold smaller than
        ``min_fold_stimuli`` (naming the remedies).
    """
    cfg = ScoringConfig.resolve(config, **settings)
    neural = validate_neural(neural)
    avg = average_repetitions(neural)
    pred, avg = _align_predictions(predictions, avg)
    extra = [d for d in pred.dims if d not in NEURAL_DIMS]
    if len(extra) > 1:
        raise ValueError(f"predictions may have one dim besides {NEURAL_DIMS} (e.g. layer), got {extra}")
    pv = pred.transpose(*NEURAL_DIMS, *extra).values
    pv = np.moveaxis(pv, -1, 0) if extra else pv[None]
    fold_of = None if splits is None else splits.check_stimuli(stimulus_ids(avg), name="neural assembly")
    ceil, info, cattrs = _ceiling_for(neural, avg, ceiling, cfg.n_ceiling_splits, cfg.seed, cfg.n_bootstrap,
                                      cfg.n_bootstrap_splits, ceiling_estimate)
    within = fold_of is not None and cfg.r_over == "folds"
    if within:
        _check_fold_sizes(fold_of, cfg.min_fold_stimuli)
    arrays = _score_arrays(pv.astype(np.float64), avg.values.astype(np.float64), ceil, info, cfg,
                           fold_of if within else None, ceiling_absent=cattrs["ceiling_source"] == "none")
    extra_coords = {d: pred.coords[d] for d in extra if d in pred.coords}
    ds = _build_dataset(avg, arrays, ceil, info, extra[0] if extra else None, extra_coords)
    ds.attrs.update(_settings(cfg, r_within_folds=within), **cattrs)
    if splits is not None:
        ds.attrs["splits"] = _splits_attr(splits)
    if keep_predictions:
        ds = _with_predictions(ds, pred.transpose(*NEURAL_DIMS, *extra), avg, fold_of)
    return ds


def _splits_attr(splits: Splits) -> dict[str, Any]:
    return {"n_folds": splits.n_folds, "seed": splits.seed, "stratify": splits.stratify,
            "fingerprint": splits.fingerprint}


def _with_predictions(ds: xr.Dataset, pred: xr.DataArray, avg: xr.DataArray, fold_of: np.ndarray | None) -> xr.Dataset:
    """``ds`` with ``prediction`` and ``response`` (presentation x neuroid x time_bin [x extra]) and
    the presentation coords ``stimulus_id`` (and ``test_fold``)."""
    pcoords: dict[str, Any] = {STIMULUS_ID: (PRESENTATION, stimulus_ids(avg))}
    if fold_of is not None:
        pcoords["test_fold"] = (PRESENTATION, np.asarray(fold_of, dtype=np.int64))
    ds = ds.assign(prediction=(pred.dims, np.asarray(pred.values, dtype=np.float64)),
                   response=(NEURAL_DIMS, np.asarray(avg.values, dtype=np.float64)))
    return ds.assign_coords(pcoords)


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
    ceiling_estimate: CeilingEstimate | None = None,
    keep_predictions: bool = False,
    progress: bool = True,
    config: ScoringConfig | None = None,
    **settings: Any,
) -> xr.Dataset:
    """Fit a mapping per time bin with cross-validation over stimuli and score it.

    Parameters
    ----------
    activations : DataArray
        ``(presentation x neuroid x time_step)`` model activations (with ``temporal_map``, or a
        single time step reused for every bin), or ``(presentation x neuroid x time_bin)`` already
        on the neural bins. Neuroid coord ``layer`` groups features into layers.
    neural : DataArray (presentation x neuroid x time_bin)
        Single trials (``repetition`` coord) are averaged for the fit and used for the ceiling;
        repeat-averaged data get raw ``r`` and NaN ceiled scores (see :func:`score_predictions`).
    temporal_map : TemporalMap, optional
        ``tmap(activations, neural) -> (presentation x neuroid x time_bin)``; when its
        ``shared_features`` is True (feedforward ``constant`` map) and the mapping fits targets
        independently (ridge), all bins are fitted as one multi-target problem. A map with a
        grid (a ``one_to_one`` map's latencies, :func:`~brainfit.temporal.latency_grid`; a
        ``constant`` map's steps) is fitted at every candidate, and the candidate is chosen per
        outer fold, region and layer on the training folds with the layer's nested criterion
        (``chosen_latency_ms`` / ``chosen_step``: fold x selection_region x layer; with layer
        selection also ``selected_latency_ms`` / ``selected_step``: fold x selection_region).
    mapping : estimator, default ``RidgeMapping()``
    splits : Splits, default ``make_splits(neural, n_folds=10, seed=seed)`` (stratified by category)
        Pass the same object for every model compared. Stimuli must match exactly.
    layers : None, "all" or sequence of str
        ``None``: score every layer separately; ``"all"``: all features as one readout; or a list.
    select_layers : bool
        With several layers, also score a per-region layer choice made on training folds only.
    layer_selection : {"auto", "loo", "inner_folds"}
        How each outer training set ranks layers (per region: median over its neuroids that
        are reliable on that training set -- split-half on its stimuli alone --, mean over bins).
        ``"inner_folds"``: cross-validate every layer on the inner folds of the training set
        (:meth:`Splits.inner`) and use the within-fold ``r`` (any mapping).
        ``"loo"``: ridge with LOO alpha selection only -- the training-set R^2 from the exact LOO
        errors at the chosen alphas, which the outer fits compute anyway (no extra fits).
        ``"auto"``: ``"loo"`` when it applies, else ``"inner_folds"``.
    inner_folds : int, optional
        Inner folds for ``"inner_folds"`` selection (default: :meth:`Splits.inner`'s).
    shared_across_bins : bool
        Fit ONE mapping for all time bins (a time-invariant readout: the same weights map the
        features of bin ``t`` onto the responses of bin ``t``), instead of one per bin. Rows
        are (stimulus, bin) pairs and every bin of a stimulus stays in that stimulus's fold;
        ridge penalties (and the LOO layer criterion) leave out whole stimuli, never one row
        (which would keep the stimulus's other bins in training:
        :mod:`brainfit.mapping._grouped_loo`).
    ceiling : DataArray (neuroid x time_bin, or neuroid), optional
        Precomputed ceiling, see :func:`score_predictions`.
    ceiling_estimate : CeilingEstimate, optional
        The split-half ceiling computed once, see :func:`score_predictions`.
    keep_predictions : bool
        Store the out-of-fold predictions (``prediction``: presentation x neuroid x time_bin x layer).
    progress : bool
        Progress bars over layers and bins.
    config : ScoringConfig, optional
        Ceiling, reliability, bootstrap and seed settings (default ``ScoringConfig()``).
    **settings
        :class:`ScoringConfig` fields overriding ``config``: ``n_ceiling_splits``,
        ``reliability_threshold``, ``n_bootstrap``, ``n_bootstrap_splits``, ``ci``, ``seed``,
        ``r_over``, ``min_fold_stimuli``.

    Returns
    -------
    Dataset with dims ``neuroid``, ``time_bin``, ``layer`` (and ``bound``, ``fold``, ``region``):
    ``r``, ``ceiled`` (neuroid x time_bin x layer); ``ceiling``, ``split_half_r``, ``reliable``
    (neuroid x time_bin); summaries over reliable neuroids per bin and layer with bootstrap CIs;
    with selection, ``r_selected``, ``ceiled_selected`` (neuroid x time_bin), their summaries and
    ``selected_layer`` (fold x selection_region) and ``selection_score`` (fold x neuroid x
    time_bin x layer, the training-only scores behind the choice); ``alpha`` (fold x neuroid x
    time_bin x layer) for ridge.
    Settings are in ``attrs`` (``ScoringConfig.from_attrs(ds.attrs)`` recovers the config).

    Raises
    ------
    TypeError
        Naming settings that are not :class:`ScoringConfig` fields.
    ValueError
        Naming the invalid setting, or the mismatched stimuli, bins, layers or non-finite values;
        or a test fold smaller than ``min_fold_stimuli`` with ``r_over="folds"`` (naming the
        remedies). Raised before any fit.

    Warns
    -----
    AlphaGridWarning
        Once per call, naming the layers where ridge chose an alpha at the edge of its grid for
        a large share of the (fold, neuroid, bin) fits (:mod:`brainfit.mapping._alpha_grid`).
    RuntimeWarning
        When fewer than 10 stimuli with repetitions enter the split-half ceiling.
    """
    cfg = ScoringConfig.resolve(config, **settings)
    mapping = RidgeMapping() if mapping is None else mapping
    neural = validate_neural(neural)
    avg = average_repetitions(neural)
    # a map with a grid (latencies, or a constant map's steps) is chosen on training folds
    choice = getattr(temporal_map, "choice", None)
    grid = choice is not None
    pairs = temporal_map.candidates() if grid else [(None, temporal_map)]
    values_of, candidates = [v for v, _ in pairs], [m for _, m in pairs]
    mapped, shared = _features_per_bin(activations, avg, candidates[0])
    if splits is None:
        splits = make_splits(avg, n_folds=10, seed=cfg.seed)
    elif not isinstance(splits, Splits):
        raise ValueError(f"splits must be a brainfit Splits object, got {type(splits).__name__}")
    ids = splits.stimulus_ids
    splits.check_stimuli(stimulus_ids(avg), name="neural assembly")
    splits.check_stimuli(stimulus_ids(mapped), name="activations")
    avg = reorder_to(avg, ids, name="neural assembly")
    folds = splits.indices(ids)
    fold_of = splits.check_stimuli(ids)
    n, N, T = avg.shape
    Y = avg.values.astype(np.float64)
    masks = _layer_masks(mapped, layers)
    layer_names = list(masks)
    L = len(layer_names)
    regions = (np.asarray(avg.coords[REGION].values).astype(str) if REGION in avg.coords else np.full(N, "all"))
    region_names = list(dict.fromkeys(regions.tolist()))
    do_select = select_layers and L > 1
    criterion = (_selection_criterion(layer_selection, mapping, shared_across_bins)
                 if do_select or len(candidates) > 1 else None)
    # the ceiling and the fold sizes are checked before any fit (a bad ceiling fails fast)
    ceil, cinfo, cattrs = _ceiling_for(neural, avg, ceiling, cfg.n_ceiling_splits, cfg.seed, cfg.n_bootstrap,
                                      cfg.n_bootstrap_splits, ceiling_estimate)
    # choices (layer, latency) rank candidates over the sites reliable on each training set
    reliable = (_reliable_sites(neural, ids, folds, ceil, cattrs["ceiling_source"], cfg.reliability_threshold,
                                RANKING_SPLITS, cfg.seed) if criterion is not None else None)
    within = cfg.r_over == "folds"
    if within:
        _check_fold_sizes(fold_of, cfg.min_fold_stimuli)
    inner = [splits.inner(k, inner_folds) for k in range(len(folds))] if criterion == "inner_folds" else []
    inner_idx = [sp.indices(ids[tr]) for sp, (tr, _) in zip(inner, folds)]
    setup = _FitSetup(Y=Y, masks=masks, folds=folds, mapping=mapping, shared_across_bins=shared_across_bins,
                      criterion=criterion, inner=inner, inner_idx=inner_idx, ids=ids)
    timing = None
    bar = tqdm(total=L * len(candidates), desc="fit_and_score", disable=not progress)
    for c, tmap in enumerate(candidates):
        if c:
            mapped, shared = _features_per_bin(activations, avg, tmap)
        mapped = reorder_to(mapped, ids, name="activations")
        fitted = _fit_layers(setup, mapped.values, shared, bar)
        if grid:
            timing = _keep_best_candidate(timing, fitted, values_of[c], folds, regions, region_names, reliable)
    bar.close()
    if grid:
        fitted = timing.fitted
    pred, sel_score, alpha, has_alpha, edges = (fitted.pred, fitted.sel_score, fitted.alpha, fitted.has_alpha,
                                                fitted.edges)
    _warn_alpha_edges(edges)
    joint = shared and bool(getattr(mapping, "independent_targets", False)) and not shared_across_bins

    if do_select:
        chosen, sel = _choose_layers(pred, sel_score, folds, regions, region_names, layer_names, reliable)
        pred = np.concatenate([pred, sel[None]])  # scored together: same bootstrap resamples

    arrays = _score_arrays(pred, Y, ceil, cinfo, cfg, fold_of if within else None,
                           ceiling_absent=cattrs["ceiling_source"] == "none")
    per_layer = {k: (v[:L] if k in _PER_LAYER else v) for k, v in arrays.items()}
    ds = _build_dataset(avg, per_layer, ceil, cinfo, LAYER, {LAYER: (LAYER, np.array(layer_names, dtype=object))})
    if has_alpha:
        ds["alpha"] = xr.DataArray(alpha, dims=("fold", NEUROID, TIME_BIN, LAYER))
    if do_select:
        selected = {k: (v[L:] if k in _PER_LAYER else v) for k, v in arrays.items()}
        sds = _build_dataset(avg, selected, ceil, cinfo, None, {}, suffix="_selected")
        for v in sds.data_vars:
            ds[v] = sds[v]
        # its own dim name: the neuroid coord "region" stays on the neuroids
        ds["selected_layer"] = xr.DataArray(chosen.astype(str), dims=("fold", "selection_region"),
                                            coords={"selection_region": region_names})
        ds["selection_score"] = xr.DataArray(np.moveaxis(sel_score, 0, -1), dims=("fold", NEUROID, TIME_BIN, LAYER),
                                             attrs={"criterion": _CRITERIA[criterion]})
        pred, sel = pred[:L], pred[L]
    if grid:
        ds[f"chosen_{choice}"] = xr.DataArray(timing.value, dims=("fold", "selection_region", LAYER),
                                              coords={"selection_region": region_names},
                                              attrs={"criterion": _CRITERIA[criterion], "grid": values_of})
        if do_select:
            pick = np.array([[layer_names.index(x) for x in row] for row in chosen])
            ds[f"selected_{choice}"] = xr.DataArray(
                np.take_along_axis(timing.value, pick[:, :, None], axis=2)[:, :, 0],
                dims=("fold", "selection_region"), coords={"selection_region": region_names})
    if keep_predictions:
        pcoords = {k: c for k, c in avg.coords.items() if c.dims == (PRESENTATION,)}
        ds["prediction"] = xr.DataArray(np.moveaxis(pred, 0, -1),
                                        dims=(PRESENTATION, NEUROID, TIME_BIN, LAYER)).assign_coords(pcoords)
        if do_select:
            ds["prediction_selected"] = xr.DataArray(sel, dims=(PRESENTATION, NEUROID, TIME_BIN))
    mapping_params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in mapping.get_params().items()}
    ds.attrs.update(_settings(cfg, r_within_folds=within), **cattrs)
    tmap_attr = (temporal_map.to_dict() if hasattr(temporal_map, "to_dict")
                 else (None if temporal_map is None else repr(temporal_map)))
    ds.attrs.update(
        mapping=type(mapping).__name__, mapping_params=mapping_params,
        splits=_splits_attr(splits),
        temporal_map=tmap_attr,
        shared_features=bool(shared), bins_fitted_jointly=bool(joint), shared_across_bins=bool(shared_across_bins),
        layer_selection=(_CRITERIA[criterion] if do_select else "none"),
        latency_selection=(_CRITERIA[criterion] if choice == "latency_ms" else "none"),
        step_selection=(_CRITERIA[criterion] if choice == "step" else "none"),
        inner_folds=(inner[0].n_folds if inner else None),
    )
    return ds
