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
renamed when complete:

* **Durable progress.** Each batch is written through h5py and the file is flushed
  (``H5Fflush``) before ``completed`` counts it, so a process killed with SIGKILL leaves a
  partial file whose ``completed`` rows are on disk; the rerun checks those rows (every chunk
  carries a fletcher32 checksum, :func:`_verified_rows`) and resumes after the last good batch.
* **Sealed files.** A complete file starts with a 512-byte HDF5 user block (bytes HDF5 itself
  ignores) holding a SHA-256 digest of every byte after it (:func:`_seal`; a tree of 64 MiB
  segments hashed in parallel). Opening a cache file checks the seal (:func:`_check_seal`, a
  read of the file at ~2.5 GB/s on 2 cores), so corruption anywhere in the file (data chunks,
  coords, attrs) is detected and the file is extracted again instead of being served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5netcdf
import h5py
import numpy as np
import torch
import xarray as xr
from torch import nn

from brainfit import __version__
from brainfit._io import sha256_file, stable_hash
from brainfit.assembly import ACTIVATION_DIMS, LAYER, NEUROID, PRESENTATION, REGION, STIMULUS_ID, TIME_STEP, UNIT
from brainfit.paths import activation_cache_dir

__all__ = ["weights_hash", "architecture_hash", "cache_key_fields", "cache_key", "cache_paths", "open_activations",
           "default_cache_dir"]

log = logging.getLogger(__name__)

_VAR = "activations"
_USERBLOCK = 512  # bytes before the HDF5 superblock; holds the seal of a complete file
_SEAL = b"brainfit-activations sha256-tree64M:"  # digest of the 64 MiB segments' digests (_digest_after_userblock)
_SEAL_V1 = b"brainfit-activations sha256:"  # one digest of the whole file (files sealed before the tree)
_SEGMENT = 64 << 20  # bytes per hashed segment of a seal

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
                     reduction: dict, n_steps: int | None, on_steps: int | None,
                     batch_size: int) -> dict[str, Any]:
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
    batch_size : int
        Part of the key because the numbers depend on it: convolution kernels pick their
        algorithm and summation order by batch shape (on CPU, batch 1 and batch 4 differ by
        ~1e-4), so an extraction is reproducible bit for bit only at the same batch size.

    Returns
    -------
    dict
        Also records the brainfit version. Changing a field name or value changes every key (and
        so invalidates existing caches).
    """
    return {
        "weights": weights, "architecture": architecture, "stimuli": stimuli, "preprocessing": preprocessing,
        "layers": list(layers), "reduction": reduction, "n_steps": n_steps, "on_steps": on_steps,
        "batch_size": int(batch_size), "version": __version__,
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
    with h5netcdf.File(path, "w", userblock_size=_USERBLOCK) as nc:
        nc.dimensions = {PRESENTATION: n, NEUROID: f, TIME_STEP: t}
        # fletcher32: every chunk carries a checksum that HDF5 verifies when it is read.
        # Chunks span exactly one batch of presentations and one time step, so each batch write
        # fills whole chunks (no read-modify-write) and one time step of every stimulus reads
        # contiguously.
        v = nc.create_variable(_VAR, ACTIVATION_DIMS, "f4", chunks=(min(n, chunk_rows), _chunk_width(f), 1),
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


def _chunk_width(f: int, most: int = 4096) -> int:
    """Neuroids per chunk: ``f`` split into as few chunks of at most ``most`` as possible, of
    near-equal width, so the last chunk, which is stored in full, is padded by fewer than one
    column per chunk (5000 neuroids in chunks of 4096 took 64% more disk than the data)."""
    n = -(-max(f, 1) // most)
    return -(-max(f, 1) // n)


def _write_block(f: h5py.File, block: np.ndarray, start: int) -> None:
    """Write presentations ``start:start + B`` to the open file ``f``, then count them.

    ``block`` is time-major, (T, B, F): each time step is one contiguous (B, F) plane, written
    chunk by chunk of the file without gathering strided values (writing a (B, F, T) block took
    1.5x as long). The rows are written and flushed to the file (``H5Fflush``: raw data first,
    then the metadata) before ``completed`` is raised and flushed again, so a process killed at
    any point leaves ``completed`` counting only rows that reached the file.
    """
    v = f[_VAR]
    b = block.shape[1]
    for t, plane in enumerate(block):
        v[start:start + b, :, t] = plane
    f.flush()
    f.attrs["completed"] = np.int64(start + b)
    f.flush()


def _open_for_writing(path: Path) -> h5py.File:
    """The partial file opened for block writes (a clear error when another process holds it)."""
    try:
        return h5py.File(path, "a")
    except OSError as err:
        if "lock" in str(err).lower():
            raise RuntimeError(f"{path} is being written by another process (HDF5 file lock); wait for that "
                               "extraction to finish, or stop it") from err
        raise


def _seal(path: Path) -> None:
    """Write the digest of everything after the user block (:func:`_digest_after_userblock`) into
    the user block of a complete file.

    No ``fsync``: forcing the file to disk took as long as 12% of an extraction, and buys
    nothing here. A file whose bytes never reached the disk (power loss) fails its seal on the
    next open and is extracted again.
    """
    digest = _digest_after_userblock(path)
    with open(path, "r+b") as fh:
        fh.write(_SEAL + digest.encode())


def _digest_after_userblock(path: Path, *, tree: bool = True) -> str:
    """SHA-256 of the bytes after the user block.

    ``tree`` (the seal's format): the SHA-256 of the concatenated SHA-256 digests of successive
    64 MiB segments, hashed in parallel threads (hashlib releases the GIL): on 2 cores a 500 MB
    file takes 0.20 s instead of 0.48 s, at every extraction and every verified open. Otherwise
    one SHA-256 over all of them (files sealed by earlier versions).
    """
    size = path.stat().st_size - _USERBLOCK
    if not tree:
        return sha256_file(path, 4 << 20, start=_USERBLOCK)
    starts = range(_USERBLOCK, _USERBLOCK + max(size, 0), _SEGMENT)
    workers = max(1, min(len(starts), os.cpu_count() or 1, 8))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="brainfit-seal") as pool:
        parts = list(pool.map(lambda s: bytes.fromhex(sha256_file(path, 4 << 20, start=s, length=_SEGMENT)), starts))
    return hashlib.sha256(b"".join(parts)).hexdigest()


def _is_sealed(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(len(_SEAL))
    return head.startswith((_SEAL, _SEAL_V1))


def _check_seal(path: Path) -> None:
    """Raise ValueError unless ``path`` is a sealed activation file whose bytes match its seal."""
    with open(path, "rb") as fh:
        head = fh.read(_USERBLOCK)
    tree = head.startswith(_SEAL)
    prefix = _SEAL if tree else _SEAL_V1
    if not head.startswith(prefix):
        raise ValueError("not a sealed brainfit activation file (no checksum in its user block)")
    stored = head[len(prefix):len(prefix) + 64].decode("ascii", "replace")
    if _digest_after_userblock(path, tree=tree) != stored:
        raise ValueError("checksum mismatch: the file changed after it was written (corrupted bytes)")


def open_activations(path: str | os.PathLike, *, verify: bool = True) -> xr.DataArray:
    """Open a complete activation file lazily (values are read on access).

    Parameters
    ----------
    path : path-like
    verify : bool
        Check the SHA-256 seal of a cache file first (reads the whole file once). Files without a
        seal (an assembly written by ``save_assembly``) are opened as they are.

    Returns
    -------
    DataArray (presentation x neuroid x time_step)
        With the file's attrs; ``encoding["source"]`` is ``path``; closing it releases the file.

    Raises
    ------
    ValueError
        Naming the file, when it is incomplete, or (``verify``) unsealed or corrupted.
    """
    if verify and _is_sealed(Path(path)):
        try:
            _check_seal(Path(path))
        except ValueError as err:
            raise ValueError(f"activation file {path}: {err}") from err
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


def _check_file(path: Path, key: str, ids: np.ndarray, n_steps: int, *, sealed: bool) -> int:
    """Presentations already written in ``path`` and readable (raises ValueError when it is damaged or stale).

    ``sealed``: a complete file, whose seal is checked; otherwise a partial file, whose
    ``completed`` rows are read back chunk by chunk (fletcher32) and counted up to the first bad one.
    """
    try:
        if sealed:
            _check_seal(path)
        with h5netcdf.File(path, "r") as nc:
            if nc.attrs.get("cache_key") != key:
                raise ValueError("cache key mismatch")
            v = nc.variables[_VAR]
            shape = v.shape
            if shape[0] != len(ids) or shape[2] != n_steps:
                raise ValueError(f"shape {shape} does not match the request")
            stored = np.asarray(nc.variables[STIMULUS_ID][:]).astype(str)
            if not np.array_equal(stored, ids.astype(str)):
                raise ValueError("stimulus ids differ")
            done = int(nc.attrs["completed"])
        return done if sealed else _verified_rows(path, done)
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        if isinstance(err, OSError) and "lock" in str(err).lower():
            raise RuntimeError(f"{path} is being written by another process (HDF5 file lock); wait for that "
                               "extraction to finish, or stop it") from err
        raise ValueError(f"damaged or stale activation file {path}: {err}") from err


def _verified_rows(path: Path, done: int) -> int:
    """How many of the first ``done`` rows read back (every chunk's fletcher32 checksum verified)."""
    with h5py.File(path, "r") as f:
        v = f[_VAR]
        step = v.chunks[0] if v.chunks else max(done, 1)
        for start in range(0, done, step):
            try:
                v[start:min(start + step, done)]
            except OSError:
                log.warning("%s: rows from %d fail their checksum; resuming there", path, start)
                return start
    return done


def _cached(final: Path, key: str, ids: np.ndarray, n_steps: int) -> xr.DataArray | None:
    """The complete cache file ``final`` opened, or None when there is none.

    A damaged, stale or incomplete file is removed with a RuntimeWarning (attributed to the
    caller of :func:`brainfit.activations.extract`) so that it is extracted again.
    """
    if not final.exists():
        return None
    try:
        if _check_file(final, key, ids, n_steps, sealed=True) == len(ids):
            log.info("activation cache hit: %s", final)
            return open_activations(final, verify=False)
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
        done = _check_file(partial, key, ids, n_steps, sealed=False)
        log.info("resuming extraction at presentation %d of %d", done, len(ids))
        return done
    except ValueError as err:
        warnings.warn(f"{err}; starting this extraction again", RuntimeWarning, stacklevel=3)
        partial.unlink()
        return 0
