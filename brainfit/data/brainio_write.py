"""Write brainfit data in BrainIO / Brain-Score's layout: assemblies, stimulus sets and scores.

The assembly file is what brainio's ``write_netcdf`` produces for a compressed assembly: one
data variable named ``data`` with dims ``presentation x neuroid x time_bin``, every coord a plain
1-D variable along its dim (no MultiIndex; brainio gathers them into MultiIndexes when it loads),
the attrs on the variable (JSON-encoded where netCDF cannot hold them, see :mod:`brainfit._io`)
and ``identifier`` / ``stimulus_set_identifier`` also as global attrs (the BrainIO spec). It is
written with the h5netcdf engine (netCDF-4 / HDF5, what brainio's netCDF4 engine reads) and
zlib level 1 on numeric variables. The stimulus set is a CSV (``stimulus_id``, metadata,
``filename``) and a zip whose members are ``<stimulus_id><ext>``, as brainio's packaging does.
Every file is written atomically (temporary file, then rename); an assembly and its stimulus set
are renamed into place only once all of them were written, so an error leaves none behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from PIL import Image

from brainfit._io import atomic_path, encode_attrs, read_netcdf_attrs
from brainfit.assembly import NEURAL_DIMS, NEUROID, STIMULUS_ID, TIME_BIN, short_list, validate_neural
from brainfit.stimuli import StimulusSet

__all__ = ["BrainIOFiles", "write_brainio", "write_brainio_scores", "load_brainio_scores", "SCORE_MEASURES",
           "MEASURE"]

#: The values a score file holds per neuroid and time bin, along its ``measure`` dim.
SCORE_MEASURES = ("r", "ceiled", "ceiling")
MEASURE = "measure"
_DATA = "data"
_COMPRESSION = {"zlib": True, "complevel": 1}


class BrainIOFiles(NamedTuple):
    """Paths written by :func:`write_brainio`; usable as the assembly path itself
    (``load_brainio(files)``) or unpacked (``load_brainio(*files)``)."""

    assembly: Path
    stimuli: Path | None = None
    images: Path | None = None

    def __fspath__(self) -> str:
        return str(self.assembly)


def _storable(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "US":
        return values.astype(str).astype(object)
    if values.dtype.kind == "O":
        if all(isinstance(v, str) for v in values.ravel()):
            return values
        try:
            return values.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"coord {name!r} mixes strings with other values and cannot be stored in netCDF; "
                             "make it all strings or all numbers") from None
    return values


def _to_dataset(da: xr.DataArray, global_attrs: Mapping[str, Any]) -> xr.Dataset:
    """``da`` as the single variable ``data`` of a Dataset ready for netCDF (raises on unstorable coords)."""
    out = xr.DataArray(np.asarray(da.values), dims=da.dims, name=_DATA,
                       coords={str(n): (c.dims, _storable(str(n), c.values)) for n, c in da.coords.items()})
    out.attrs = encode_attrs(da.attrs)
    ds = out.to_dataset()
    ds.attrs = {k: str(v) for k, v in global_attrs.items() if v is not None}
    return ds


def _to_netcdf(ds: xr.Dataset, path: Path, compress: bool) -> None:
    encoding = {n: dict(_COMPRESSION) for n, v in ds.variables.items()
                if compress and v.ndim and v.dtype.kind in "biuf"}
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)


def _write_dataarray(da: xr.DataArray, path: Path, global_attrs: Mapping[str, Any], compress: bool) -> Path:
    """Write ``da`` as the single variable ``data`` of a netCDF-4 file, atomically."""
    ds = _to_dataset(da, global_attrs)
    with atomic_path(path) as tmp:
        _to_netcdf(ds, tmp, compress)
    return path


# ----------------------------------------------------------------------------- stimuli


def _image_bytes(stimuli: StimulusSet, i: int, handle: zipfile.ZipFile | None) -> tuple[bytes, str]:
    """The image file's own bytes and extension (no re-encoding) when the set reads files; PNG otherwise."""
    src = stimuli.source
    if getattr(src, "kind", None) == "folder" and hasattr(src, "paths"):
        p = Path(src.paths[i])
        return p.read_bytes(), p.suffix
    if handle is not None:
        member = src.members[i]
        return handle.read(member), os.path.splitext(member)[1]
    buf = io.BytesIO()
    Image.fromarray(stimuli.load_image(i)).save(buf, format="PNG")
    return buf.getvalue(), ".png"


def _write_stimuli(stimuli: StimulusSet, csv_path: Path, zip_path: Path) -> None:
    """Write the CSV and the zip to these (temporary) paths; the caller renames them into place."""
    src = stimuli.source
    is_zip = getattr(src, "kind", None) == "zip" and hasattr(src, "path") and hasattr(src, "members")
    names = []
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as out:  # images are compressed already
        handle = zipfile.ZipFile(src.path) if is_zip else None
        try:
            for i, sid in enumerate(stimuli.stimulus_ids):
                data, ext = _image_bytes(stimuli, i, handle)
                names.append(f"{sid}{ext}")
                out.writestr(names[-1], data)
        finally:
            if handle is not None:
                handle.close()
    table = stimuli.metadata.copy()
    table["filename"] = names
    csv_path.write_text(table.to_csv(index=False))


# ----------------------------------------------------------------------------- assemblies


def write_brainio(neural: xr.DataArray, path: str | os.PathLike, *, stimuli: StimulusSet | None = None,
                  stimuli_csv: str | os.PathLike | None = None, images_zip: str | os.PathLike | None = None,
                  identifier: str | None = None, stimulus_set_identifier: str | None = None,
                  compress: bool = True) -> BrainIOFiles:
    """Write a neural assembly (and optionally its stimulus set) in BrainIO / Brain-Score's layout.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin)
        Validated first; every coord and attr is written.
    path : path
        The assembly netCDF file (Brain-Score names them ``assy_<identifier>.nc``).
    stimuli : StimulusSet, optional
        Written as a CSV and a zip of images; must hold every ``stimulus_id`` of ``neural``.
        Image files are copied byte for byte; images held in memory are written as PNG.
    stimuli_csv, images_zip : path, optional
        Where to write them (default ``<path stem>_stimuli.csv`` beside ``path``, and the CSV's
        path with ``.zip``, where :func:`load_brainio` looks by default). Need ``stimuli``.
    identifier, stimulus_set_identifier : str, optional
        Stored as attrs (BrainIO's lookup keys); the stimulus set identifier defaults to the
        StimulusSet's name when one is written.
    compress : bool
        zlib level 1 on numeric variables, as brainio's writer.

    Returns
    -------
    BrainIOFiles (assembly, stimuli, images): the paths written (``None`` for the stimulus files
    when no StimulusSet was given); ``load_brainio(*files)`` reads them back.
    """
    neural = validate_neural(neural, name="neural assembly to write")
    path = Path(path)
    if stimuli is None and (stimuli_csv is not None or images_zip is not None):
        raise ValueError("stimuli_csv= and images_zip= say where to write a stimulus set: pass it as stimuli=")
    csv_path = zip_path = None
    if stimuli is not None:
        if not isinstance(stimuli, StimulusSet):
            raise ValueError(f"stimuli must be a StimulusSet, got {type(stimuli).__name__}")
        known = set(stimuli.stimulus_ids)
        missing = sorted({str(s) for s in np.asarray(neural[STIMULUS_ID].values)} - known)
        if missing:
            raise ValueError(f"the StimulusSet {stimuli.name!r} lacks {len(missing)} stimulus id(s) of the assembly: "
                             f"{short_list(missing)}")
        csv_path = Path(stimuli_csv) if stimuli_csv is not None else path.with_name(f"{path.stem}_stimuli.csv")
        zip_path = Path(images_zip) if images_zip is not None else csv_path.with_suffix(".zip")
        if csv_path.suffix.lower() != ".csv" or zip_path.suffix.lower() != ".zip":
            raise ValueError(f"stimulus files must end in .csv and .zip, got {csv_path.name!r} and {zip_path.name!r}")
        if len({path.resolve(), csv_path.resolve(), zip_path.resolve()}) != 3:
            raise ValueError(f"the assembly, stimulus CSV and zip need three different paths, got {path}, "
                             f"{csv_path}, {zip_path}")
        stimulus_set_identifier = stimulus_set_identifier or stimuli.name
    ids = {"identifier": identifier, "stimulus_set_identifier": stimulus_set_identifier}
    out = neural.copy(deep=False)
    out.attrs = {**neural.attrs, **{k: v for k, v in ids.items() if v is not None}}
    ds = _to_dataset(out.transpose(*NEURAL_DIMS), ids)  # an unstorable coord fails before anything is written
    # all files or none: each is written to a temporary file, renamed into place only when every one succeeded
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(path))
        if stimuli is not None:
            _write_stimuli(stimuli, stack.enter_context(atomic_path(csv_path)),
                           stack.enter_context(atomic_path(zip_path)))
        _to_netcdf(ds, tmp, compress)
    return BrainIOFiles(path, csv_path, zip_path)


# ----------------------------------------------------------------------------- scores


def write_brainio_scores(scores: xr.Dataset, path: str | os.PathLike, *, layer: str | None = None,
                         identifier: str | None = None, compress: bool = True) -> Path:
    """Write a score Dataset's per-neuroid values as a Brain-Score-style DataArray file.

    The file holds one variable ``data`` with dims ``(neuroid, time_bin[, layer...], measure)``;
    ``measure`` is ``("r", "ceiled", "ceiling")`` (raw Pearson r, ceiled score, noise ceiling),
    the neuroid coords (``neuroid_id``, ``region``, ``animal``...) and ``time_bin_start`` /
    ``time_bin_end`` are plain coords along their dims, and the attrs are the Dataset's
    (settings, ceiling convention, version). Read it back with :func:`load_brainio_scores`.

    Parameters
    ----------
    scores : Dataset
        From ``fit_and_score`` / ``score_predictions`` (needs ``r``, ``ceiled``, ``ceiling``).
        With nested layer selection (``r_selected``), the selected-layer scores are written.
    path : path
    layer : str, optional
        Write this layer's scores (from a per-layer ``layer`` dim) instead of the selected ones
        or every layer.
    identifier : str, optional
        Stored as attr and global attr ``identifier``.
    compress : bool
        zlib level 1 on numeric variables.

    Returns
    -------
    Path of the written file.
    """
    if not isinstance(scores, xr.Dataset):
        raise ValueError(f"scores must be an xarray.Dataset (fit_and_score's output), got {type(scores).__name__}")
    suffix = "_selected" if layer is None and "r_selected" in scores.data_vars else ""
    names = [f"r{suffix}", f"ceiled{suffix}", "ceiling"]
    missing = [n for n in names if n not in scores.data_vars]
    if missing:
        raise ValueError(f"scores lack variable(s) {missing}; variables: {sorted(map(str, scores.data_vars))[:12]}")
    arrays = [scores[n] for n in names]
    for n, a in zip(names, arrays):
        if NEUROID not in a.dims or TIME_BIN not in a.dims:
            raise ValueError(f"score variable {n!r} has dims {a.dims}; expected (neuroid, time_bin[, ...])")
    if layer is not None:
        if "layer" not in scores["r"].dims:
            raise ValueError(f"layer={layer!r} given but the scores have no 'layer' dim (dims of r: {scores['r'].dims})")
        layers = [str(v) for v in scores["layer"].values]
        if str(layer) not in layers:
            raise ValueError(f"layer {layer!r} is not in the scores; layers: {layers}")
        arrays = [a.sel(layer=layer, drop=True) if "layer" in a.dims else a for a in arrays]
    stacked = xr.concat(list(xr.broadcast(*[a.rename(None) for a in arrays])), dim=MEASURE, coords="minimal",
                        compat="override", join="exact")
    stacked = stacked.assign_coords({MEASURE: (MEASURE, np.array(SCORE_MEASURES, dtype=object))})
    extra = [d for d in stacked.dims if d not in (NEUROID, TIME_BIN, MEASURE)]
    stacked = stacked.transpose(NEUROID, TIME_BIN, *extra, MEASURE)
    stacked.attrs = {**scores.attrs, "scores_from": names[0], **({"layer": layer} if layer is not None else {}),
                     **({"identifier": identifier} if identifier else {})}
    path = Path(path)
    return _write_dataarray(stacked, path, {"identifier": identifier}, compress)


def load_brainio_scores(path: str | os.PathLike) -> xr.Dataset:
    """Read a file written by :func:`write_brainio_scores` as a Dataset with variables
    ``r``, ``ceiled``, ``ceiling`` (neuroid x time_bin [x layer]) and the attrs restored.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not netCDF or lacks the ``measure`` dim of a score file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"score file not found: {path}")
    try:
        ds = xr.load_dataset(path, engine="h5netcdf")
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise ValueError(f"cannot read scores from {path}: damaged or not netCDF ({type(err).__name__}: {err})") from err
    if _DATA not in ds.data_vars or MEASURE not in ds[_DATA].dims:
        raise ValueError(f"{path} is not a BrainIO score file: expected a variable 'data' with a {MEASURE!r} dim, "
                         f"found {[(str(n), v.dims) for n, v in ds.data_vars.items()]}")
    da = read_netcdf_attrs(ds[_DATA])
    da = da.assign_coords({str(n): (c.dims, c.values.astype(object) if c.values.dtype.kind in "US" else c.values)
                           for n, c in da.coords.items()})
    measures = [str(m) for m in da[MEASURE].values]
    out = {m: da.sel({MEASURE: m}, drop=True) for m in measures}
    if "ceiling" in out:  # the ceiling was copied along layer-like dims when written: undo that
        for d in [d for d in out["ceiling"].dims if d not in (NEUROID, TIME_BIN)]:
            c = out["ceiling"]
            if (c == c.isel({d: 0})).where(c.notnull(), True).all():
                out["ceiling"] = c.isel({d: 0}, drop=True)
    out = xr.Dataset(out)
    out.attrs = dict(da.attrs)
    for v in out.data_vars.values():
        v.attrs = {}
    return out
