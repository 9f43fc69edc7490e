"""Provenance records of a results folder (``provenance.json``): versions, time, dataset hash."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import numpy as np

from brainfit import __version__

__all__ = ["provenance", "dataset_sha256"]


def provenance(**parts: Any) -> dict[str, Any]:
    """A provenance record for ``provenance.json``: ``created`` (UTC, ISO 8601) and ``versions``
    (brainfit, torch, numpy, xarray, scipy, pandas, scikit-learn, python, platform; ``None`` for a
    package not installed), then ``parts`` as given (``command``, ``dataset``, ``splits``,
    ``models``, ``settings``, ...). A ``versions`` mapping in ``parts`` adds to (and overrides) the
    detected versions; ``created`` overrides the time. Write it with
    :func:`brainfit._io.atomic_write_json`. (Versions come from package metadata: importing torch
    would take seconds.)"""
    versions: dict[str, Any] = {"brainfit": __version__}
    for package in ("torch", "numpy", "xarray", "scipy", "pandas", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions.update(python=platform.python_version(), platform=platform.platform())
    extra = parts.pop("versions", None) or {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"provenance: 'versions' must be a mapping of name -> version, got {type(extra).__name__}")
    out: dict[str, Any] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "versions": {**versions, **extra}}
    out.update(parts)
    return out


def dataset_sha256(neural: Any, stimulus_ids: Sequence[str] | None = None) -> str:
    """SHA-256 (hex) of an assembly's dims, shape, values (as float64) and stimulus ids (default:
    its ``stimulus_id`` coord; one per presentation): the ``dataset.sha256`` of provenance.json.

    Equal hashes mean the same numbers in the same order: reordered presentations hash
    differently, and coords other than the ids do not count. Raises ``ValueError`` when
    ``neural`` is not a numeric DataArray or the ids are missing or of the wrong length.
    """
    import xarray as xr

    if not isinstance(neural, xr.DataArray):
        raise ValueError(f"dataset_sha256: expected an xarray.DataArray, got {type(neural).__name__}")
    if stimulus_ids is None:
        if "stimulus_id" not in neural.coords:
            raise ValueError(f"dataset_sha256: the assembly has no 'stimulus_id' coord (coords: "
                             f"{sorted(map(str, neural.coords))}); pass stimulus_ids")
        stimulus_ids = neural.coords["stimulus_id"].values
    ids = [str(s) for s in np.asarray(stimulus_ids).ravel()]
    n = neural.sizes.get("presentation")
    if n is not None and len(ids) != n:
        raise ValueError(f"dataset_sha256: {len(ids)} stimulus ids for {n} presentations")
    if neural.dtype.kind not in "biuf":
        raise ValueError(f"dataset_sha256: values must be numeric, got dtype {neural.dtype}")
    h = hashlib.sha256()
    h.update(json.dumps({"dims": list(map(str, neural.dims)), "shape": list(neural.shape)}).encode())
    h.update(np.ascontiguousarray(neural.values, dtype="<f8").tobytes())
    h.update("\0".join(ids).encode())
    return h.hexdigest()
