"""Activations to per-bin features: temporal mapping, layer masks, stacked (stimulus, bin) rows.

:func:`fit_and_score` fits one mapping per layer and time bin (or group of bins). This module turns
the activations into the features each fit sees: re-indexed to the neural time bins (by a
:class:`~brainfit.temporal.TemporalMap`, or a single time step shared by every bin), split into
layers, and -- for one readout shared across bins -- stacked into (stimulus, bin) rows whose folds
keep every bin of a stimulus in that stimulus's fold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import (
    LAYER, NEURAL_DIMS, NEUROID, STIMULUS_ID, TIME_BIN, TIME_BIN_END, TIME_BIN_START, TIME_STEP,
    validate_activations,
)
from brainfit.scoring.correlation import _check_same_bins

__all__: list[str] = []


def _features_per_bin(activations: xr.DataArray, avg: xr.DataArray, temporal_map: Any) -> tuple[xr.DataArray, bool]:
    """Activations re-indexed to the neural time bins, and whether all bins share features.

    With shared features only the first bin is materialised (the others are identical).
    """
    if temporal_map is not None:
        if not callable(temporal_map):
            raise ValueError(f"temporal_map must be callable (a TemporalMap), "
                             f"got {type(temporal_map).__name__}")
        shared = bool(getattr(temporal_map, "shared_features", False))
        target = avg.isel({TIME_BIN: slice(0, 1)}) if shared else avg
        mapped = temporal_map(activations, target)
        if not isinstance(mapped, xr.DataArray) or tuple(mapped.dims) != NEURAL_DIMS:
            raise ValueError(f"temporal_map must return a DataArray with dims {NEURAL_DIMS}")
        _check_same_bins(mapped, target, "temporal map output")
        return mapped, shared
    if not isinstance(activations, xr.DataArray):
        raise ValueError(f"activations must be an xarray.DataArray, got {type(activations).__name__}")
    if TIME_BIN in activations.dims:
        if set(activations.dims) != set(NEURAL_DIMS):
            raise ValueError(f"activations with a time_bin dim must have dims {NEURAL_DIMS}, "
                             f"got {tuple(activations.dims)}")
        act = activations.transpose(*NEURAL_DIMS)
        for c in (STIMULUS_ID, TIME_BIN_START, TIME_BIN_END):
            if c not in act.coords:
                raise ValueError(f"activations are missing coord {c!r}")
        _check_same_bins(act, avg, "activation")
        vals = act.values
        if vals.dtype.kind == "f" and not np.isfinite(vals).all():
            raise ValueError(f"activations contain {int((~np.isfinite(vals)).sum())} non-finite value(s) "
                             "(NaN or inf)")
        return act, False
    act = validate_activations(activations)
    if act.sizes[TIME_STEP] != 1:
        raise ValueError(
            f"activations have {act.sizes[TIME_STEP]} time steps and no temporal_map says which step feeds which "
            "time bin; pass temporal_map (e.g. brainfit.temporal.one_to_one(...) or constant())"
        )
    starts, ends = avg.coords[TIME_BIN_START].values[:1], avg.coords[TIME_BIN_END].values[:1]
    coords = {k: c for k, c in act.coords.items() if TIME_STEP not in c.dims}
    coords[TIME_BIN_START] = (TIME_BIN, starts)
    coords[TIME_BIN_END] = (TIME_BIN, ends)
    mapped = xr.DataArray(act.values, dims=NEURAL_DIMS, coords=coords, attrs=dict(act.attrs))
    return mapped, True


def _layer_masks(mapped: xr.DataArray, layers: str | Sequence[str] | None) -> dict[str, np.ndarray]:
    """Layer name -> boolean mask over the feature (neuroid) axis of ``mapped``, in layer order."""
    n_feat = mapped.sizes[NEUROID]
    if layers == "all" or LAYER not in mapped.coords:
        if layers not in (None, "all"):
            raise ValueError("activations have no 'layer' coord, so layers cannot be chosen; "
                             "use layers=None or 'all'")
        return {"all": np.ones(n_feat, dtype=bool)}
    names = np.asarray(mapped.coords[LAYER].values).astype(str)
    present = list(dict.fromkeys(names.tolist()))
    chosen = present if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    unknown = [name for name in chosen if name not in present]
    if unknown:
        raise ValueError(f"layer(s) {unknown} not in activations; layers present: {present}")
    return {name: names == name for name in chosen}


def _identical_bins(values: np.ndarray, mask: np.ndarray) -> list[list[int]]:
    """Bins of ``values`` (n, F, T) whose features ``values[:, mask, b]`` are identical, grouped
    (in order of first occurrence); every bin of a group has exactly the same array."""
    groups: dict[bytes, list[list[int]]] = {}
    order: list[list[int]] = []
    for b in range(values.shape[2]):
        x = np.ascontiguousarray(values[:, mask, b])
        key = hashlib.blake2b(x.tobytes(), digest_size=16).digest()
        for group in groups.setdefault(key, []):
            if np.array_equal(values[:, mask, group[0]], x):  # guards against a hash collision
                group.append(b)
                break
        else:
            groups[key].append([b])
            order.append(groups[key][-1])
    return order


def _stacked_rows(idx: np.ndarray, n: int, T: int) -> np.ndarray:
    """Stimulus indices (into ``n``) -> their rows among ``T * n`` bin-major (stimulus, bin) rows."""
    return (np.arange(T)[:, None] * n + np.asarray(idx)[None, :]).ravel()


def _stack_folds(folds: list[tuple[np.ndarray, np.ndarray]], n: int,
                 T: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds over ``n`` stimuli -> folds over bin-major (stimulus, bin) rows: every bin of a
    stimulus lands in that stimulus's fold."""
    return [(_stacked_rows(tr, n, T), _stacked_rows(te, n, T)) for tr, te in folds]


def _fit_problem(values: np.ndarray, mask: np.ndarray, Y: np.ndarray, bins: list[int], shared: bool,
                 shared_across_bins: bool,
                 folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, list]:
    """Features, targets and folds of one fit: one layer, one group of bins.

    ``values`` (n, F, T or 1) are the per-bin features, ``mask`` (F,) the layer's features, ``Y``
    (n, N, T) the averaged responses. Per bin (or bins fitted jointly): X (n, p), Y (n, N * len(bins))
    in bin-minor order, the stimulus folds. Shared across bins: X (T * n, p) and Y (T * n, N) on
    bin-major (stimulus, bin) rows, with the folds carried over to the rows.
    """
    n, _, T = Y.shape
    if shared_across_bins:
        # rows (stimulus, bin), bin-major: row b * n + i
        X = np.concatenate([values[:, mask, 0 if shared else b] for b in bins])
        Yg = np.concatenate([Y[:, :, b] for b in bins])
        return X, Yg, _stack_folds(folds, n, T)
    X = values[:, mask, 0 if shared else bins[0]]
    return X, Y[:, :, bins].reshape(n, -1), folds
