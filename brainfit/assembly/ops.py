"""Operations on validated assemblies: averaging repetitions, selecting a region, matching
stimuli by id, and the netCDF round trip."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from brainfit._io import read_netcdf_attrs, write_netcdf
from brainfit.assembly.names import (
    PRESENTATION, NEUROID, STIMULUS_ID, REPETITION, REGION, NEURAL_DIMS, ACTIVATION_DIMS,
)
from brainfit.assembly.validate import (
    _duplicates, has_repetitions, is_activations, is_neural, short_list, stimulus_ids, validate_activations,
    validate_neural,
)

__all__ = ["average_repetitions", "select_region", "reorder_to", "align", "save_assembly", "load_assembly"]

log = logging.getLogger(__name__)


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
        raise ValueError(f"{name} has duplicate stimulus_id(s) {short_list(dup)}; average repetitions before aligning")
    ids = np.asarray(ids).astype(str)
    dup = _duplicates(ids)
    if dup:
        raise ValueError(f"requested stimulus ids contain duplicates: {short_list(dup)}")
    index = {s: i for i, s in enumerate(sid)}
    missing = [s for s in ids if s not in index]
    if missing:
        raise ValueError(f"{name} lacks {len(missing)} requested stimulus_id(s): {short_list(missing)}")
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
            raise ValueError(f"{name} has duplicate stimulus_id(s) {short_list(dup)}; average repetitions before aligning")
    set_a, set_b = set(sa), set(sb)
    if join == "exact" and set_a != set_b:
        only_a = [s for s in sa if s not in set_b]
        only_b = [s for s in sb if s not in set_a]
        raise ValueError(
            "assemblies hold different stimuli: "
            f"{len(only_a)} only in the first ({short_list(only_a)}), {len(only_b)} only in the second ({short_list(only_b)})"
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
