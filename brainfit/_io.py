"""Small file-system helpers shared by caches, checkpoints and results: atomic writes, hashing,
and netCDF files whose non-scalar attrs survive the round trip (stored as JSON)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_json", "sha256_file", "stable_hash", "write_netcdf",
           "read_netcdf_attrs", "encode_attrs"]

_JSON_PREFIX = "__json__:"


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    A crash or exception leaves ``path`` untouched (the old version, or nothing) and removes the
    temporary file, so readers never see a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; give the final file the permissions a plain open() would (umask),
    # so results and caches on shared cluster storage stay readable by the group
    os.chmod(tmp_path, 0o666 & ~_UMASK)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20, *, start: int = 0, length: int | None = None) -> str:
    """Hex SHA-256 of a file's bytes (``length`` bytes from ``start``; default: to the end).

    Reads into one reused buffer; hashlib releases the GIL, so ranges of one file can be hashed
    in parallel threads (the activation cache's seal does).
    """
    h = hashlib.sha256()
    buf = memoryview(bytearray(chunk))
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        left = float("inf") if length is None else length
        while left > 0:
            got = f.readinto(buf[:int(min(chunk, left))])
            if not got:
                break
            h.update(buf[:got])
            left -= got
    return h.hexdigest()


def stable_hash(obj: Any, length: int = 16) -> str:
    """Short hex digest of a JSON-serialisable object (keys sorted), stable across runs."""
    payload = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(payload).hexdigest()[:length]


# ----------------------------------------------------------------------------- netCDF


def encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` ready for a netCDF file: str/int/float values as they are, anything else (lists,
    dicts, bools, None) as a JSON string under a prefix that :func:`read_netcdf_attrs` decodes."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[k] = v
        else:
            out[k] = _JSON_PREFIX + json.dumps(v, default=_json_default)
    return out


def _json_default(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (set, tuple)):
        return list(v)
    return str(v)


def _decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in attrs.items():
        if isinstance(v, str) and v.startswith(_JSON_PREFIX):
            out[k] = json.loads(v[len(_JSON_PREFIX):])
        elif isinstance(v, np.generic):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def write_netcdf(obj: xr.DataArray | xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a DataArray or Dataset atomically with the h5netcdf engine, no validation.

    Non-scalar attrs are stored as JSON (restored by :func:`read_netcdf_attrs`); fixed-width
    strings are written as variable-length strings.
    """
    out = obj.copy(deep=False)
    out.attrs = encode_attrs(obj.attrs)
    for name, c in out.coords.items():
        if c.dtype.kind in "US":
            out.coords[name] = c.astype(object)
    if isinstance(out, xr.Dataset):
        for name, v in out.data_vars.items():
            if v.dtype.kind in "US":
                out[name] = v.astype(object)
    path = Path(path)
    with atomic_path(path) as tmp:
        out.to_netcdf(tmp, engine="h5netcdf")
    return path


def read_netcdf_attrs(obj: xr.DataArray | xr.Dataset) -> xr.DataArray | xr.Dataset:
    """Restore the attrs that :func:`write_netcdf` stored as JSON (in place; returns ``obj``)."""
    obj.attrs = _decode_attrs(obj.attrs)
    return obj
