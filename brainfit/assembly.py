"""The data model: names of dims and coords, constructors, validators and helpers.

Everything is a plain :class:`xarray.DataArray` (no subclass, no MultiIndex):

* neural assemblies have dims ``("presentation", "neuroid", "time_bin")``; ``presentation``
  carries ``stimulus_id`` (str), optionally ``repetition`` (int, single trials) and stimulus
  metadata; ``neuroid`` carries ``neuroid_id`` and usually ``region``/``animal``/``session``;
  ``time_bin`` carries ``time_bin_start``/``time_bin_end`` in ms after stimulus onset.
* activation assemblies have dims ``("presentation", "neuroid", "time_step")``; ``neuroid``
  carries ``layer``, ``unit`` and (when assigned) ``region``; ``time_step`` is an integer coord.

The names match Brain-Score/BrainIO assemblies so their data can be read without renaming.
Data are always matched by coordinate (``stimulus_id``, ``time_bin_*``), never by position.
Every validator raises :class:`ValueError` naming the missing dim/coord, the non-finite values or
the mismatched ids; bad input never yields a number.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainfit._io import read_netcdf_attrs, write_netcdf

__all__ = [
    "PRESENTATION", "NEUROID", "TIME_BIN", "TIME_STEP",
    "STIMULUS_ID", "REPETITION", "NEUROID_ID", "REGION", "LAYER", "UNIT",
    "TIME_BIN_START", "TIME_BIN_END", "NEURAL_DIMS", "ACTIVATION_DIMS",
    "make_time_bins", "neural_assembly", "activation_assembly",
    "validate_neural", "validate_activations", "has_repetitions", "is_neural", "is_activations",
    "average_repetitions", "select_region", "align", "reorder_to", "stimulus_ids",
    "save_assembly", "load_assembly",
]

log = logging.getLogger(__name__)

PRESENTATION = "presentation"
NEUROID = "neuroid"
TIME_BIN = "time_bin"
TIME_STEP = "time_step"
STIMULUS_ID = "stimulus_id"
REPETITION = "repetition"
NEUROID_ID = "neuroid_id"
REGION = "region"
LAYER = "layer"
UNIT = "unit"
TIME_BIN_START = "time_bin_start"
TIME_BIN_END = "time_bin_end"

NEURAL_DIMS = (PRESENTATION, NEUROID, TIME_BIN)
ACTIVATION_DIMS = (PRESENTATION, NEUROID, TIME_STEP)



# ----------------------------------------------------------------------------- constructors


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


# ----------------------------------------------------------------------------- validation


def _describe(name: str) -> str:
    return name or "assembly"


def _check_dataarray(a: Any, name: str) -> None:
    if not isinstance(a, xr.DataArray):
        raise ValueError(f"{_describe(name)} must be an xarray.DataArray, got {type(a).__name__}")


def _check_dims(a: xr.DataArray, dims: tuple[str, ...], name: str) -> xr.DataArray:
    missing = [d for d in dims if d not in a.dims]
    extra = [d for d in a.dims if d not in dims]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing dim(s) {missing}")
        if extra:
            parts.append(f"unexpected dim(s) {extra}")
        raise ValueError(f"{_describe(name)} has dims {tuple(a.dims)}: {', '.join(parts)}; expected {dims}")
    if any(isinstance(a.indexes.get(d), pd.MultiIndex) for d in a.dims):
        raise ValueError(f"{_describe(name)} uses a MultiIndex; brainfit expects plain coords (call .reset_index())")
    return a.transpose(*dims)


def _check_coord(a: xr.DataArray, coord: str, dim: str, name: str) -> np.ndarray:
    if coord not in a.coords:
        raise ValueError(f"{_describe(name)} is missing coord {coord!r} on dim {dim!r}")
    c = a.coords[coord]
    if c.dims != (dim,):
        raise ValueError(f"{_describe(name)} coord {coord!r} must lie along dim {dim!r}, found dims {c.dims}")
    return c.values


def _check_finite(a: xr.DataArray, name: str) -> None:
    values = a.values
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{_describe(name)} must hold numbers, got dtype {values.dtype}")
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        n_bad = int(bad.sum())
        if n_bad:
            first = np.argwhere(bad)[0]
            where = []
            for dim, i in zip(a.dims, first):
                label = {PRESENTATION: STIMULUS_ID, NEUROID: NEUROID_ID if NEUROID_ID in a.coords else LAYER}.get(dim)
                if label is not None and label in a.coords:
                    where.append(f"{dim}={i} ({label}={a.coords[label].values[i]!r})")
                else:
                    where.append(f"{dim}={i}")
            n_nan = int(np.isnan(values).sum())
            raise ValueError(
                f"{_describe(name)} contains {n_bad} non-finite value(s) ({n_nan} NaN, {n_bad - n_nan} inf); "
                f"first at {', '.join(where)}"
            )


def _duplicates(values: Iterable) -> list:
    return [v for v, c in Counter(values).items() if c > 1]


def _short(items: Sequence, k: int = 5) -> str:
    items = [x.item() if isinstance(x, np.generic) else x for x in items]
    head = ", ".join(repr(x) for x in items[:k])
    return head + (f", ... ({len(items)} in all)" if len(items) > k else "")


def validate_neural(a: Any, *, name: str = "neural assembly", require_repetitions: bool = False) -> xr.DataArray:
    """Check a neural assembly and return it with dims in canonical order.

    Raises
    ------
    ValueError
        Naming the missing dim or coord, non-finite values, duplicate stimulus/neuroid ids, or time
        bins that are empty, unsorted or overlapping.
    """
    _check_dataarray(a, name)
    a = _check_dims(a, NEURAL_DIMS, name)
    sid = _check_coord(a, STIMULUS_ID, PRESENTATION, name)
    nid = _check_coord(a, NEUROID_ID, NEUROID, name)
    starts = _check_coord(a, TIME_BIN_START, TIME_BIN, name).astype(float)
    ends = _check_coord(a, TIME_BIN_END, TIME_BIN, name).astype(float)
    if a.sizes[PRESENTATION] == 0 or a.sizes[NEUROID] == 0 or a.sizes[TIME_BIN] == 0:
        raise ValueError(f"{name} is empty: sizes {dict(a.sizes)}")
    _check_finite(a, name)
    dup_n = _duplicates(nid)
    if dup_n:
        raise ValueError(f"{name} has duplicate neuroid_id(s): {_short(dup_n)}")
    if REPETITION in a.coords:
        rep = _check_coord(a, REPETITION, PRESENTATION, name)
        dup = _duplicates(zip(sid, rep))
        if dup:
            raise ValueError(f"{name} has duplicate (stimulus_id, repetition) pair(s): {_short(dup)}")
    else:
        if require_repetitions:
            raise ValueError(f"{name} has no {REPETITION!r} coord on {PRESENTATION!r}: single trials are needed here (e.g. for noise ceilings)")
        dup = _duplicates(sid)
        if dup:
            raise ValueError(
                f"{name} has duplicate stimulus_id(s) {_short(dup)} and no {REPETITION!r} coord; "
                "add a repetition coord for single trials or average them"
            )
    if not np.all(np.isfinite(starts)) or not np.all(np.isfinite(ends)):
        raise ValueError(f"{name} has non-finite time_bin_start/time_bin_end")
    if np.any(ends <= starts):
        i = int(np.flatnonzero(ends <= starts)[0])
        raise ValueError(f"{name} time bin {i} is empty or reversed: [{starts[i]}, {ends[i]}) ms")
    if np.any(np.diff(starts) <= 0):
        i = int(np.flatnonzero(np.diff(starts) <= 0)[0])
        raise ValueError(f"{name} time bins are not sorted by start: bin {i} starts at {starts[i]} ms, bin {i + 1} at {starts[i + 1]} ms")
    if np.any(starts[1:] < ends[:-1] - 1e-9):
        i = int(np.flatnonzero(starts[1:] < ends[:-1] - 1e-9)[0])
        raise ValueError(
            f"{name} time bins overlap: bin {i} [{starts[i]}, {ends[i]}) and bin {i + 1} [{starts[i + 1]}, {ends[i + 1]}) ms"
        )
    return a


def validate_activations(a: Any, *, name: str = "activations") -> xr.DataArray:
    """Check a model activation assembly and return it with dims in canonical order.

    Raises
    ------
    ValueError
        Naming the missing dim or coord, non-finite values, duplicate stimulus ids or unsorted
        time steps.
    """
    _check_dataarray(a, name)
    a = _check_dims(a, ACTIVATION_DIMS, name)
    sid = _check_coord(a, STIMULUS_ID, PRESENTATION, name)
    _check_coord(a, LAYER, NEUROID, name)
    if TIME_STEP not in a.coords:
        raise ValueError(f"{name} is missing coord {TIME_STEP!r}")
    steps = np.asarray(a.coords[TIME_STEP].values)
    if a.sizes[PRESENTATION] == 0 or a.sizes[NEUROID] == 0 or a.sizes[TIME_STEP] == 0:
        raise ValueError(f"{name} is empty: sizes {dict(a.sizes)}")
    if steps.dtype.kind not in "iu":
        raise ValueError(f"{name} coord 'time_step' must be integers, got dtype {steps.dtype}")
    if np.any(np.diff(steps) <= 0):
        raise ValueError(f"{name} time steps must be strictly increasing, got {steps.tolist()}")
    _check_finite(a, name)
    dup = _duplicates(sid)
    if dup:
        raise ValueError(f"{name} has duplicate stimulus_id(s): {_short(dup)}")
    return a


def is_neural(a: xr.DataArray) -> bool:
    """True when ``a`` has a ``time_bin`` dim (a neural assembly)."""
    return isinstance(a, xr.DataArray) and TIME_BIN in a.dims


def is_activations(a: xr.DataArray) -> bool:
    """True when ``a`` has a ``time_step`` dim (model activations)."""
    return isinstance(a, xr.DataArray) and TIME_STEP in a.dims


def has_repetitions(a: xr.DataArray) -> bool:
    """True when the assembly keeps single trials (a ``repetition`` coord)."""
    return REPETITION in a.coords


def stimulus_ids(a: xr.DataArray) -> np.ndarray:
    """The ``stimulus_id`` of every presentation, as an array of str."""
    if STIMULUS_ID not in a.coords:
        raise ValueError(f"assembly is missing coord {STIMULUS_ID!r}")
    return np.asarray(a.coords[STIMULUS_ID].values).astype(str)


# ----------------------------------------------------------------------------- helpers


def _presentation_coord_names(a: xr.DataArray) -> list[str]:
    return [k for k, c in a.coords.items() if c.dims == (PRESENTATION,)]


def average_repetitions(a: xr.DataArray) -> xr.DataArray:
    """Average single trials over repetitions: one presentation per ``stimulus_id``.

    Presentations keep the order in which each stimulus first appears. Presentation coords that
    are constant within every stimulus (``category``, ``variation``...) are kept; trial-level
    coords (``repetition``...) are dropped. A coord ``n_repetitions`` counts the trials averaged.
    An assembly without a ``repetition`` coord is returned unchanged (after validation).

    Returns
    -------
    DataArray with dims ``("presentation", "neuroid", "time_bin")``.
    """
    a = validate_neural(a)
    if not has_repetitions(a):
        return a
    sid = stimulus_ids(a)
    uniq, first, inverse = np.unique(sid, return_index=True, return_inverse=True)
    order = np.argsort(first)  # first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse]
    n_groups = len(uniq)
    counts = np.bincount(group, minlength=n_groups)
    values = a.values.astype(np.float64, copy=False)
    sums = np.zeros((n_groups,) + values.shape[1:], dtype=np.float64)
    np.add.at(sums, group, values)
    mean = sums / counts[:, None, None]
    first_idx = first[order]
    pres = {STIMULUS_ID: uniq[order]}
    for name in _presentation_coord_names(a):
        if name in (STIMULUS_ID, REPETITION):
            continue
        vals = np.asarray(a.coords[name].values)
        per_stim = vals[first_idx]
        if np.all(vals == per_stim[group]):
            pres[name] = per_stim
        else:
            log.debug("dropping trial-level coord %r when averaging repetitions", name)
    pres["n_repetitions"] = counts
    coords = {k: (PRESENTATION, v) for k, v in pres.items()}
    for k, c in a.coords.items():
        if PRESENTATION not in c.dims:
            coords[k] = c
    return xr.DataArray(mean, dims=NEURAL_DIMS, coords=coords, attrs=dict(a.attrs))


def select_region(a: xr.DataArray, region: str) -> xr.DataArray:
    """Neuroids of one region (``"V4"``, ``"IT"``...); raises listing the regions present."""
    if REGION not in a.coords:
        raise ValueError(f"assembly has no {REGION!r} coord on {NEUROID!r}; cannot select region {region!r}")
    regions = np.asarray(a.coords[REGION].values).astype(str)
    mask = regions == region
    if not mask.any():
        raise ValueError(f"region {region!r} not in assembly; regions present: {sorted(set(regions.tolist()))}")
    return a.isel({NEUROID: np.flatnonzero(mask)})


def reorder_to(a: xr.DataArray, ids: Sequence[str], *, name: str = "assembly") -> xr.DataArray:
    """Select and order ``a``'s presentations to follow ``ids`` (unique ``stimulus_id`` values).

    Raises
    ------
    ValueError
        When ``a`` has duplicate stimulus ids or lacks some of ``ids`` (the first few are named).
    """
    sid = stimulus_ids(a)
    dup = _duplicates(sid)
    if dup:
        raise ValueError(f"{name} has duplicate stimulus_id(s) {_short(dup)}; average repetitions before aligning")
    ids = np.asarray(ids).astype(str)
    dup = _duplicates(ids)
    if dup:
        raise ValueError(f"requested stimulus ids contain duplicates: {_short(dup)}")
    index = {s: i for i, s in enumerate(sid)}
    missing = [s for s in ids if s not in index]
    if missing:
        raise ValueError(f"{name} lacks {len(missing)} requested stimulus_id(s): {_short(missing)}")
    return a.isel({PRESENTATION: np.fromiter((index[s] for s in ids), dtype=int, count=len(ids))})


def align(a: xr.DataArray, b: xr.DataArray, *, join: str = "exact") -> tuple[xr.DataArray, xr.DataArray]:
    """Align two assemblies on ``stimulus_id`` (by coordinate, never by position).

    Parameters
    ----------
    a, b : DataArray
        Each with a ``presentation`` dim and unique ``stimulus_id`` values.
    join : {"exact", "inner", "left"}
        ``"exact"``: both must hold the same stimuli (error naming the extra/missing ones).
        ``"inner"``: keep stimuli present in both. ``"left"``: every stimulus of ``a`` must be in ``b``.

    Returns
    -------
    (a_aligned, b_aligned) with presentations in ``a``'s order.
    """
    if join not in ("exact", "inner", "left"):
        raise ValueError(f"join must be 'exact', 'inner' or 'left', got {join!r}")
    sa, sb = stimulus_ids(a), stimulus_ids(b)
    for name, s in (("first assembly", sa), ("second assembly", sb)):
        dup = _duplicates(s)
        if dup:
            raise ValueError(f"{name} has duplicate stimulus_id(s) {_short(dup)}; average repetitions before aligning")
    set_a, set_b = set(sa), set(sb)
    if join == "exact" and set_a != set_b:
        only_a = [s for s in sa if s not in set_b]
        only_b = [s for s in sb if s not in set_a]
        raise ValueError(
            "assemblies hold different stimuli: "
            f"{len(only_a)} only in the first ({_short(only_a)}), {len(only_b)} only in the second ({_short(only_b)})"
        )
    if join == "left":
        ids = sa
    else:
        ids = [s for s in sa if s in set_b]
        if not ids:
            raise ValueError("assemblies share no stimulus_id")
        if len(ids) < len(sa) or len(ids) < len(sb):
            log.info("align: keeping %d shared stimuli (%d and %d before)", len(ids), len(sa), len(sb))
    return reorder_to(a, ids, name="first assembly"), reorder_to(b, ids, name="second assembly")


# ----------------------------------------------------------------------------- netCDF I/O


def save_assembly(a: xr.DataArray, path: str | os.PathLike) -> Path:
    """Validate and write an assembly to netCDF4/HDF5 (h5netcdf engine), atomically.

    Non-scalar attrs (dicts, lists, booleans) are stored as JSON and restored by
    :func:`load_assembly`.
    """
    if is_neural(a):
        a = validate_neural(a)
    elif is_activations(a):
        a = validate_activations(a)
    else:
        raise ValueError(f"cannot save: assembly has dims {tuple(getattr(a, 'dims', ()))}, expected {NEURAL_DIMS} or {ACTIVATION_DIMS}")
    return write_netcdf(a, path)


def load_assembly(path: str | os.PathLike) -> xr.DataArray:
    """Read an assembly written by :func:`save_assembly` (or any compatible netCDF) and validate it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"assembly file not found: {path}")
    try:
        with xr.open_dataarray(path, engine="h5netcdf") as da:
            a = da.load()
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read assembly from {path}: {err}") from err
    read_netcdf_attrs(a)
    if is_neural(a):
        return validate_neural(a, name=f"assembly {path.name}")
    if is_activations(a):
        return validate_activations(a, name=f"assembly {path.name}")
    raise ValueError(f"{path} holds dims {tuple(a.dims)}, expected {NEURAL_DIMS} or {ACTIVATION_DIMS}")
