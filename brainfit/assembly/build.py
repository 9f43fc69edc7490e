"""Constructors of neural and activation assemblies (validated on the way out), and time bins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly.names import (
    PRESENTATION, NEUROID, TIME_BIN, TIME_STEP, STIMULUS_ID, REPETITION, NEUROID_ID, REGION, LAYER, UNIT, TIME_BIN_START, TIME_BIN_END, NEURAL_DIMS, ACTIVATION_DIMS,
)
from brainfit.assembly.validate import validate_activations, validate_neural

__all__ = ["make_time_bins", "neural_assembly", "activation_assembly"]


def make_time_bins(start: float = 70, stop: float = 260, width: float = 10) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous time bins ``[start, start+width), ...`` up to ``stop`` (ms after onset).

    Returns
    -------
    starts, ends : ndarray of shape (n_bins,)
        The default gives 19 bins of 10 ms from 70 to 260 ms.
    """
    if width <= 0:
        raise ValueError(f"time bin width must be > 0, got {width}")
    if stop <= start:
        raise ValueError(f"time bins need stop > start, got start={start}, stop={stop}")
    starts = np.arange(start, stop, width, dtype=float)
    starts = starts[starts + width <= stop + 1e-9]
    if len(starts) == 0:
        raise ValueError(f"no time bin of width {width} fits between {start} and {stop} ms")
    return starts, starts + width


def _as_1d(name: str, values: Any, n: int, dim: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.repeat(arr, n)
    if arr.shape != (n,):
        raise ValueError(f"coord {name!r} has shape {arr.shape}, expected ({n},) along {dim!r}")
    return arr


def _coords_for(dim: str, n: int, coords: Mapping[str, Any] | None) -> dict[str, tuple[str, np.ndarray]]:
    out = {}
    for name, values in (coords or {}).items():
        arr = _as_1d(name, values, n, dim)
        if arr.dtype.kind in "US":
            arr = arr.astype(object)
        out[name] = (dim, arr)
    return out


def _check_coord_names(what: str, reserved: Sequence[str], **given: Mapping[str, Any] | None) -> None:
    """Refuse extra coords that would silently replace a reserved one or another dim's coord of the same name."""
    seen: dict[str, str] = {name: "reserved" for name in reserved}
    for arg, coords in given.items():
        for name in coords or {}:
            if name in seen:
                where = "a coord the assembly sets itself" if seen[name] == "reserved" else f"also given in {seen[name]}"
                raise ValueError(f"{what}: {arg} has a coord {name!r}, {where}; a coord name is used on one dim "
                                 "only (rename one)")
            seen[name] = arg


def neural_assembly(
    values: np.ndarray,
    *,
    stimulus_id: Sequence[str],
    neuroid_id: Sequence[str],
    time_bin_start: Sequence[float] | None = None,
    time_bin_end: Sequence[float] | None = None,
    repetition: Sequence[int] | None = None,
    region: str | Sequence[str] | None = None,
    presentation_coords: Mapping[str, Any] | None = None,
    neuroid_coords: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Build and validate a neural assembly.

    Parameters
    ----------
    values : array of shape (n_presentations, n_neuroids, n_time_bins) or (n_presentations, n_neuroids)
        Responses (e.g. spike counts or rates). A 2-D array is given a single time bin.
    stimulus_id : sequence of str, length n_presentations
    neuroid_id : sequence of str, length n_neuroids
    time_bin_start, time_bin_end : sequences of float (ms after onset), length n_time_bins
        Default: the single bin ``[0, 1)`` is not assumed; both are required for 3-D values.
    repetition : sequence of int, optional
        Trial index per presentation when single trials are kept.
    region : str or sequence of str, optional
        Brain region per neuroid (``"V4"``, ``"IT"``...).
    presentation_coords, neuroid_coords : mappings of name -> 1-D values, optional
        Extra metadata (``category``, ``object_name``, ``animal``...).

    Returns
    -------
    DataArray with dims ``("presentation", "neuroid", "time_bin")``.
    """
    values = np.asarray(values)
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3:
        raise ValueError(f"neural values must be 2-D or 3-D (presentation, neuroid[, time_bin]), got shape {values.shape}")
    n_pres, n_neur, n_bins = values.shape
    if time_bin_start is None or time_bin_end is None:
        raise ValueError("neural_assembly needs time_bin_start and time_bin_end (ms after stimulus onset)")
    _check_coord_names("neural_assembly", (STIMULUS_ID, NEUROID_ID, TIME_BIN_START, TIME_BIN_END)
                       + ((REPETITION,) if repetition is not None else ()) + ((REGION,) if region is not None else ()),
                       presentation_coords=presentation_coords, neuroid_coords=neuroid_coords)
    pres = {STIMULUS_ID: np.asarray(stimulus_id).astype(str)}
    if repetition is not None:
        pres[REPETITION] = np.asarray(repetition).astype(int)
    pres.update(presentation_coords or {})
    neur: dict[str, Any] = {NEUROID_ID: np.asarray(neuroid_id).astype(str)}
    if region is not None:
        neur[REGION] = region
    neur.update(neuroid_coords or {})
    coords = {}
    coords.update(_coords_for(PRESENTATION, n_pres, pres))
    coords.update(_coords_for(NEUROID, n_neur, neur))
    coords.update(_coords_for(TIME_BIN, n_bins, {
        TIME_BIN_START: np.asarray(time_bin_start, dtype=float),
        TIME_BIN_END: np.asarray(time_bin_end, dtype=float),
    }))
    da = xr.DataArray(values, dims=NEURAL_DIMS, coords=coords, attrs=dict(attrs or {}))
    return validate_neural(da)


def activation_assembly(
    values: np.ndarray,
    *,
    stimulus_id: Sequence[str],
    layer: str | Sequence[str],
    unit: Sequence[int] | None = None,
    time_step: Sequence[int] | None = None,
    region: str | Sequence[str] | None = None,
    presentation_coords: Mapping[str, Any] | None = None,
    neuroid_coords: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Build and validate a model activation assembly.

    Parameters
    ----------
    values : array of shape (n_presentations, n_features, n_time_steps) or (n_presentations, n_features)
        A 2-D array is a single time step (feedforward response).
    layer : str or sequence of str (length n_features)
        Layer of each feature.
    unit : sequence of int, optional
        Index of the feature within its layer (default: running index per layer).
    time_step : sequence of int, optional
        Model time step of each slice (default ``0..T-1``).

    Returns
    -------
    DataArray with dims ``("presentation", "neuroid", "time_step")``.
    """
    values = np.asarray(values)
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3:
        raise ValueError(f"activation values must be 2-D or 3-D (presentation, neuroid[, time_step]), got shape {values.shape}")
    n_pres, n_feat, n_steps = values.shape
    layer_arr = _as_1d(LAYER, layer, n_feat, NEUROID).astype(str)
    if unit is None:
        unit = np.zeros(n_feat, dtype=int)
        for name in np.unique(layer_arr):
            idx = np.flatnonzero(layer_arr == name)
            unit[idx] = np.arange(len(idx))
    _check_coord_names("activation_assembly", (STIMULUS_ID, LAYER, UNIT, TIME_STEP)
                       + ((REGION,) if region is not None else ()),
                       presentation_coords=presentation_coords, neuroid_coords=neuroid_coords)
    neur: dict[str, Any] = {LAYER: layer_arr, UNIT: np.asarray(unit).astype(int)}
    if region is not None:
        neur[REGION] = region
    neur.update(neuroid_coords or {})
    pres = {STIMULUS_ID: np.asarray(stimulus_id).astype(str)}
    pres.update(presentation_coords or {})
    coords = {}
    coords.update(_coords_for(PRESENTATION, n_pres, pres))
    coords.update(_coords_for(NEUROID, n_feat, neur))
    steps = np.arange(n_steps) if time_step is None else np.asarray(time_step)
    coords[TIME_STEP] = (TIME_STEP, _as_1d(TIME_STEP, steps, n_steps, TIME_STEP).astype(int))
    da = xr.DataArray(values, dims=ACTIVATION_DIMS, coords=coords, attrs=dict(attrs or {}))
    return validate_activations(da)
