"""The content-addressed activation cache: its key, its file format, and damage detection.

A cache file is named ``<prefix>-<key>.nc``, the key being a hash over everything that
determines the numbers (:func:`cache_key_fields`): a hash of the model's weights and buffers
(:func:`weights_hash`), of its architecture (:func:`architecture_hash`), the stimulus fingerprint
(ids and image bytes), the preprocessing, the layers, the reduction, the schedule and the brainfit
version.

The file is HDF5/netCDF4 holding one variable ``activations`` (presentation x neuroid x
time_step, float32) with fletcher32 checksums, its coords, and the attrs ``cache_key``,
``weights_hash``, ``settings``, ... plus ``completed``, the number of presentations already on
disk. It is written as ``<prefix>-<key>.partial.nc``, one batch of presentations at a time, and
renamed when complete, so an interrupted extraction resumes from its last completed batch and a
damaged or stale file is detected (:func:`_check_file`) instead of being read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import h5netcdf
import h5py
import numpy as np
import torch
import xarray as xr
from torch import nn

from brainfit import __version__
from brainfit._io import stable_hash
from brainfit.assembly import ACTIVATION_DIMS, LAYER, NEUROID, PRESENTATION, REGION, STIMULUS_ID, TIME_STEP, UNIT
from brainfit.paths import activation_cache_dir

__all__ = ["weights_hash", "architecture_hash", "cache_key_fields", "cache_key", "cache_paths", "open_activations",
           "default_cache_dir"]

log = logging.getLogger(__name__)

_VAR = "activations"

# Kept under its old name for callers of ``brainfit.activations.default_cache_dir``; the folder and
# its environment variable are resolved in brainfit.paths only.
default_cache_dir = activation_cache_dir


# ----------------------------------------------------------------------------- key


def weights_hash(model: nn.Module) -> str:
    """SHA-256 over the model's class name and every parameter and buffer (name, shape, bytes)."""
    h = hashlib.sha256(type(model).__qualname__.encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes() if t.dtype != torch.bfloat16
                 else t.float().cpu().numpy().tobytes())
    return h.hexdigest()


def architecture_hash(model: nn.Module) -> str:
    """SHA-256 over the module tree (``repr``) and the model's ``architecture`` settings, if any.

    Two models with identical weights can compute different things (a ConvRNN and its
    ``unrolled`` control share every weight but not the recurrence), so the activation cache is
    keyed on this as well as on :func:`weights_hash`. brainfit models describe themselves with an
    ``architecture`` dict (:class:`brainfit.models.base.VisionModel`); for any other module the
    printed module tree stands in.
    """
    h = hashlib.sha256(repr(model).encode())
    arch = getattr(model, "architecture", None)
    if arch is not None:
        h.update(json.dumps(arch, sort_keys=True, default=str).encode())
    return h.hexdigest()


def cache_key_fields(*, weights: str, architecture: str, stimuli: str, preprocessing: dict, layers: list[str],
                     reduction: dict, n_steps: int | None, on_steps: int | None) -> dict[str, Any]:
    """Everything that determines an extraction's numbers, as the dict the cache key hashes.

    Parameters
    ----------
    weights, architecture : str
        :func:`weights_hash` and :func:`architecture_hash` of the model.
    stimuli : str
        The stimulus set's fingerprint (ids and image bytes).
    preprocessing : dict
        ``Preprocessing.to_dict()``.
    layers : list of str
        Extracted layers, in order.
    reduction : dict
        ``Reducer.key()``.
    n_steps, on_steps : int or None
        The schedule (None for a model with a single time step).

    Returns
    -------
    dict
        Also records the brainfit version and that the numbers do not depend on the batch size.
        Changing a field name or value changes every key (and so invalidates existing caches).
    """
    return {
        "weights": weights, "architecture": architecture, "stimuli": stimuli, "preprocessing": preprocessing,
        "layers": list(layers), "reduction": reduction, "n_steps": n_steps, "on_steps": on_steps,
        "batch_size_independent": True, "version": __version__,
    }


def cache_key(fields: dict[str, Any]) -> str:
    """The 24-hex-digit cache key of :func:`cache_key_fields`."""
    return stable_hash(fields, length=24)


def cache_paths(folder: Path, prefix: str, key: str) -> tuple[Path, Path]:
    """``(final, partial)`` file paths of ``key`` in ``folder`` (``prefix``: readable model name)."""
    prefix = prefix.replace("/", "_")
    return folder / f"{prefix}-{key}.nc", folder / f"{prefix}-{key}.partial.nc"


def _file_attrs(fields: dict[str, Any], *, is_recurrent: bool, time_varying: bool, n_steps: int) -> dict[str, Any]:
    """File attrs of an extraction keyed on ``fields`` (:func:`cache_key_fields`); ``n_steps``: time steps stored."""
    return {"cache_key": cache_key(fields), "weights_hash": fields["weights"], "is_recurrent": int(is_recurrent),
            "constant_over_time": int(not time_varying), "brainfit_version": __version__,
            "settings": stable_hash(fields, 64), "n_steps": int(n_steps),
            "pooling": str(fields["reduction"]["pooling"]), "projection": str(fields["reduction"]["projection"])}


# ----------------------------------------------------------------------------- files


def _create_file(path: Path, ids: np.ndarray, layer_of: np.ndarray, unit: np.ndarray, region: np.ndarray,
                 arrival: np.ndarray, steps: np.ndarray, meta: dict[str, np.ndarray], attrs: dict,
                 chunk_rows: int = 64) -> None:
    """Create an empty activation file with its coords and attrs (``completed`` = 0).

    Parameters
    ----------
    path : Path
    ids : (N,) str
        ``stimulus_id`` per presentation.
    layer_of, unit, region, arrival : (F,) arrays
        Neuroid coords ``layer``, ``unit``, ``region``, ``arrival_step``.
    steps : (T,) int
        ``time_step`` coord.
    meta : dict name -> (N,) array
        Further presentation coords (string or numeric; others are skipped).
    attrs : dict
        File attrs (:func:`_file_attrs`).
    chunk_rows : int
        Presentations per chunk: the batch size.
    """
    strtype = h5py.string_dtype()
    n, f, t = len(ids), len(layer_of), len(steps)
    with h5netcdf.File(path, "w") as nc:
        nc.dimensions = {PRESENTATION: n, NEUROID: f, TIME_STEP: t}
        # fletcher32: every chunk carries a checksum that HDF5 verifies when it is read.
        # Chunks span exactly one batch of presentations, so each batch write fills whole chunks
        # (no read-modify-write) and one time step of every stimulus reads contiguously.
        v = nc.create_variable(_VAR, ACTIVATION_DIMS, "f4", chunks=(min(n, chunk_rows), min(f, 4096), 1),
                               fletcher32=True)
        coords = [STIMULUS_ID, LAYER, UNIT, REGION, "arrival_step"]
        nc.create_variable(STIMULUS_ID, (PRESENTATION,), strtype)[:] = ids.astype(object)
        nc.create_variable(LAYER, (NEUROID,), strtype)[:] = layer_of.astype(object)
        nc.create_variable(UNIT, (NEUROID,), "i8")[:] = unit
        nc.create_variable(REGION, (NEUROID,), strtype)[:] = region.astype(object)
        nc.create_variable("arrival_step", (NEUROID,), "i8")[:] = arrival
        nc.create_variable(TIME_STEP, (TIME_STEP,), "i8")[:] = steps
        for name, values in meta.items():
            vals = np.asarray(values)
            if vals.dtype.kind in "OUS":
                nc.create_variable(name, (PRESENTATION,), strtype)[:] = vals.astype(str).astype(object)
            elif vals.dtype.kind in "biuf":
                nc.create_variable(name, (PRESENTATION,), vals.dtype)[:] = vals
            else:
                continue
            coords.append(name)
        v.attrs["coordinates"] = " ".join(coords)
        for k, val in attrs.items():
            nc.attrs[k] = val
        nc.attrs["completed"] = 0


def _write_block(nc: Any, block: np.ndarray, start: int) -> None:
    """Write presentations ``start:start + B`` (block (B, F, T)) to an open file, then mark them completed."""
    nc.variables[_VAR][start:start + len(block)] = block
    nc.attrs["completed"] = start + len(block)
    nc.flush()


def open_activations(path: str | os.PathLike) -> xr.DataArray:
    """Open a complete activation file lazily (values are read on access).

    Returns
    -------
    DataArray (presentation x neuroid x time_step)
        With the file's attrs; ``encoding["source"]`` is ``path``; closing it releases the file.
        Raises ValueError when the file is incomplete.
    """
    ds = xr.open_dataset(path, engine="h5netcdf")
    da = ds[_VAR]
    da.attrs.update(ds.attrs)
    if int(da.attrs.get("completed", -1)) != da.sizes[PRESENTATION]:
        ds.close()
        raise ValueError(f"{path} is incomplete ({da.attrs.get('completed')} of {da.sizes[PRESENTATION]} "
                         "presentations)")
    da.encoding["source"] = str(path)
    da.set_close(ds.close)  # closing the DataArray releases the file
    return da


def _check_file(path: Path, key: str, ids: np.ndarray, n_features: int | None, n_steps: int) -> int:
    """Presentations already written in ``path`` (raises ValueError when it is damaged or stale)."""
    try:
        with h5netcdf.File(path, "r") as nc:
            if nc.attrs.get("cache_key") != key:
                raise ValueError("cache key mismatch")
            v = nc.variables[_VAR]
            shape = v.shape
            if shape[0] != len(ids) or shape[2] != n_steps or (n_features is not None and shape[1] != n_features):
                raise ValueError(f"shape {shape} does not match the request")
            stored = np.asarray(nc.variables[STIMULUS_ID][:]).astype(str)
            if not np.array_equal(stored, ids.astype(str)):
                raise ValueError("stimulus ids differ")
            done = int(nc.attrs["completed"])
            if done:  # the last written batch must read back
                v[done - 1, :, :]
            return done
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise ValueError(f"damaged or stale activation file {path}: {err}") from err


def _cached(final: Path, key: str, ids: np.ndarray, n_steps: int) -> xr.DataArray | None:
    """The complete cache file ``final`` opened, or None when there is none.

    A damaged, stale or incomplete file is removed with a RuntimeWarning (attributed to the
    caller of :func:`brainfit.activations.extract`) so that it is extracted again.
    """
    if not final.exists():
        return None
    try:
        if _check_file(final, key, ids, None, n_steps) == len(ids):
            log.info("activation cache hit: %s", final)
            return open_activations(final)
        raise ValueError("incomplete")
    except ValueError as err:
        warnings.warn(f"{err}; removing it and extracting again", RuntimeWarning, stacklevel=3)
        final.unlink()
        return None


def _resume_point(partial: Path, key: str, ids: np.ndarray, n_steps: int) -> int:
    """Presentations already in the partial file (0 when there is none; a bad one is removed with a warning)."""
    if not partial.exists():
        return 0
    try:
        done = _check_file(partial, key, ids, None, n_steps)
        log.info("resuming extraction at presentation %d of %d", done, len(ids))
        return done
    except ValueError as err:
        warnings.warn(f"{err}; starting this extraction again", RuntimeWarning, stacklevel=3)
        partial.unlink()
        return 0
