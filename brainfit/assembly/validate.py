"""Validators: every public function that takes an assembly checks it here first, and a
``ValueError`` names the missing dim or coord, the non-finite values or the mismatched ids."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainfit.assembly.names import (
    PRESENTATION, NEUROID, TIME_BIN, TIME_STEP, STIMULUS_ID, REPETITION, NEUROID_ID, LAYER, TIME_BIN_START, TIME_BIN_END, NEURAL_DIMS, ACTIVATION_DIMS,
)

__all__ = ["validate_neural", "validate_activations", "is_neural", "is_activations", "has_repetitions",
           "stimulus_ids", "short_list"]


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


def short_list(items: Sequence, k: int = 5) -> str:
    """The first ``k`` of ``items`` as a comma-separated list of reprs, for error messages.

    More than ``k`` items end in ``", ... (n in all)"``; numpy scalars are shown as Python values
    (``'a', 'b', 3``, not ``np.str_('a')``). E.g. ``short_list(["s1", "s2", "s3"], 2)`` is
    ``"'s1', 's2', ... (3 in all)"``.
    """
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
        raise ValueError(f"{name} has duplicate neuroid_id(s): {short_list(dup_n)}")
    if REPETITION in a.coords:
        rep = _check_coord(a, REPETITION, PRESENTATION, name)
        dup = _duplicates(zip(sid, rep))
        if dup:
            raise ValueError(f"{name} has duplicate (stimulus_id, repetition) pair(s): {short_list(dup)}")
    else:
        if require_repetitions:
            raise ValueError(f"{name} has no {REPETITION!r} coord on {PRESENTATION!r}: single trials are needed here (e.g. for noise ceilings)")
        dup = _duplicates(sid)
        if dup:
            raise ValueError(
                f"{name} has duplicate stimulus_id(s) {short_list(dup)} and no {REPETITION!r} coord; "
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
        raise ValueError(f"{name} has duplicate stimulus_id(s): {short_list(dup)}")
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
