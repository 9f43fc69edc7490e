"""BrainIO / Brain-Score assemblies and stimulus sets: read them as brainfit data.

A BrainIO data assembly is a netCDF-4 file holding one data variable (named ``data`` when
brainio's ``write_netcdf`` compresses, ``__xarray_dataarray_variable__`` for a plain
``DataArray.to_netcdf``) with dims ``presentation x neuroid [x time_bin]``. In memory, brainio's
``DataAssembly`` gathers every coord of a dim into a pandas MultiIndex; its writer resets those
indexes, so on disk every level is a plain coord along its dim -- the very layout of brainfit's
data model, which is why the names match. Older files call ``stimulus_id`` ``image_id``.

A BrainIO stimulus set is a CSV (one row per stimulus: ``stimulus_id`` or the legacy
``image_id``, ``filename`` -- the file's path inside the zip -- and metadata columns) plus a zip
(or an unzipped folder) of the images. See ``datasets/brainio.md``; the writers live in
:mod:`brainfit.data.brainio_write`.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from brainfit._io import read_netcdf_attrs
from brainfit.assembly import (
    NEURAL_DIMS, NEUROID, PRESENTATION, REGION, REPETITION, STIMULUS_ID, TIME_BIN, TIME_BIN_END, TIME_BIN_START,
    validate_neural,
)
from brainfit.assembly import NEUROID_ID, short_list
from brainfit.data.arrays import ids_to_str, stimulus_set_for
from brainfit.data.brainio_write import (
    BrainIOFiles, load_brainio_scores, write_brainio, write_brainio_scores,
)
from brainfit.data.registry import register_dataset
from brainfit.stimuli import StimulusSet

__all__ = ["load_brainio", "read_brainio_assembly", "read_brainio_stimuli", "write_brainio", "write_brainio_scores",
           "load_brainio_scores", "BrainIOFiles", "LEGACY_STIMULUS_ID", "FILENAME_COLUMNS"]

log = logging.getLogger(__name__)

#: The old name of ``stimulus_id`` in BrainIO files and stimulus CSVs.
LEGACY_STIMULUS_ID = "image_id"
#: Stimulus CSV columns naming each image's file, in order of preference.
FILENAME_COLUMNS = ("filename", "image_file_name")

PathLike = str | os.PathLike


# ----------------------------------------------------------------------------- assembly


def _open_file(path: Path, variable: str | None) -> tuple[xr.DataArray, xr.Dataset]:
    """The data variable, opened lazily (the caller loads what it keeps, then closes the Dataset)."""
    if not path.exists():
        raise FileNotFoundError(f"BrainIO assembly file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a BrainIO assembly (.nc) file")
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except (OSError, ValueError, TypeError, KeyError) as err:
        try:  # a netCDF-3 file (h5netcdf reads only netCDF-4/HDF5)
            ds = xr.open_dataset(path, engine="scipy")
        except Exception:
            raise ValueError(f"cannot read {path} as a netCDF assembly: the file is damaged or not netCDF "
                             f"({type(err).__name__}: {err})") from err
    try:
        return _data_variable(ds, path, variable), ds
    except BaseException:
        ds.close()
        raise


def _data_variable(ds: xr.Dataset, path: Path, variable: str | None) -> xr.DataArray:
    names = [str(n) for n in ds.data_vars]
    if variable is not None:
        if variable not in ds.data_vars:
            raise ValueError(f"{path} has no data variable {variable!r}; its data variables: {names}")
        chosen = variable
    else:
        # the data: a variable over presentation and neuroid; 1-D variables along one dim are metadata
        candidates = [n for n in names if {PRESENTATION, NEUROID} <= set(ds[n].dims)] or \
                     [n for n in names if ds[n].ndim >= 2]
        if not candidates:
            raise ValueError(f"{path} holds no data variable with dims (presentation, neuroid[, time_bin]); "
                             f"data variables: {names}, dims: {dict(ds.sizes)}")
        if len(candidates) > 1:
            raise ValueError(f"{path} holds {len(candidates)} data variables {candidates}: a BrainIO assembly has "
                             "one; choose it with variable=")
        chosen = candidates[0]
    meta = [n for n in names if n != chosen and ds[n].ndim == 1 and ds[n].dims[0] in ds[chosen].dims]
    da = ds.set_coords(meta)[chosen]
    da.attrs = {**ds.attrs, **da.attrs}  # brainio puts attrs on the variable; the spec also allows global ones
    return read_netcdf_attrs(da)


def _reset_multiindexes(da: xr.DataArray) -> xr.DataArray:
    """Turn MultiIndex levels into plain coords along their dim (what brainio's writer does)."""
    multi = [d for d in da.dims if isinstance(da.indexes.get(d), pd.MultiIndex)]
    if multi:
        da = da.reset_index(multi)
    # a dim coordinate left over: a plain index, or ``<dim>_``, what old xarray's reset_index made of
    # a dim with a single coord (the level's name is lost). It is the id when the id is missing.
    ids = {PRESENTATION: (STIMULUS_ID, LEGACY_STIMULUS_ID), NEUROID: ("neuroid_id",)}
    for name in [n for n in da.coords if n in da.dims or (str(n).endswith("_") and str(n)[:-1] in da.dims)]:
        dim = str(name).rstrip("_")
        wanted = ids.get(dim, ())
        if wanted and not any(w in da.coords for w in wanted) and da[name].dims == (dim,):
            log.info("coord %r taken as %r (the only coord on %r)", name, wanted[0], dim)
            da = da.assign_coords({wanted[0]: (dim, da[name].values)})
        da = da.drop_vars(name)
    return da


def _plain_values(values: np.ndarray) -> np.ndarray:
    """Bytes -> str, fixed-width str -> object str (as brainfit's constructors store strings)."""
    if values.dtype.kind == "S":
        return np.array([v.decode() for v in values], dtype=object)
    if values.dtype.kind == "U":
        return values.astype(object)
    if values.dtype.kind == "O" and len(values) and all(isinstance(v, bytes) for v in values):
        return np.array([v.decode() for v in values], dtype=object)
    return values


def _add_time_bin(da: xr.DataArray, time_bin: Sequence[float] | None, label: str) -> xr.DataArray:
    has_start, has_end = TIME_BIN_START in da.coords, TIME_BIN_END in da.coords
    if has_start != has_end:
        missing = TIME_BIN_END if has_start else TIME_BIN_START
        raise ValueError(f"{label} has {TIME_BIN_START if has_start else TIME_BIN_END!r} but no {missing!r}")
    if has_start:
        if time_bin is not None:
            bins = list(zip(np.ravel(da[TIME_BIN_START].values), np.ravel(da[TIME_BIN_END].values)))
            raise ValueError(f"{label} states its own time bin(s) {[(float(a), float(b)) for a, b in bins][:3]}; "
                             "drop the time_bin= option")
        if TIME_BIN not in da.dims:  # a squeezed time bin: scalar start/end coords
            if da[TIME_BIN_START].ndim or da[TIME_BIN_END].ndim:
                raise ValueError(f"{label} has time_bin_start/time_bin_end along {da[TIME_BIN_START].dims} "
                                 "but no time_bin dim")
            start, end = float(da[TIME_BIN_START]), float(da[TIME_BIN_END])
            da = da.drop_vars([TIME_BIN_START, TIME_BIN_END]).expand_dims(TIME_BIN, axis=-1)
            da = da.assign_coords({TIME_BIN_START: (TIME_BIN, [start]), TIME_BIN_END: (TIME_BIN, [end])})
        return da
    if time_bin is None:
        raise ValueError(f"{label} has no time_bin_start/time_bin_end coords: the response window is not in the "
                         "file; pass time_bin=(start_ms, end_ms), the window the responses were counted in")
    if TIME_BIN in da.dims and da.sizes[TIME_BIN] != 1:
        raise ValueError(f"{label} has {da.sizes[TIME_BIN]} time bins without time_bin_start/time_bin_end coords; "
                         "time_bin= can name only a single bin")
    start, end = (float(v) for v in time_bin)
    if TIME_BIN not in da.dims:
        da = da.expand_dims(TIME_BIN, axis=-1)
    da = da.assign_coords({TIME_BIN_START: (TIME_BIN, [start]), TIME_BIN_END: (TIME_BIN, [end])})
    da.attrs["time_window_nominal"] = True
    return da


def _apply_region(da: xr.DataArray, region: str | None, label: str) -> xr.DataArray:
    if REGION in da.coords:
        if region is None:
            return da
        regions = np.asarray(da[REGION].values).astype(str)
        keep = regions == str(region)
        if not keep.any():
            raise ValueError(f"{label} has no neuroid in region {region!r}; its regions: {sorted(set(regions.tolist()))}")
        return da.isel({NEUROID: np.flatnonzero(keep)})
    if region is None:
        raise ValueError(f"{label} has no {REGION!r} coord on 'neuroid'; pass region= (e.g. region='IT') "
                         "to name the recorded area")
    return da.assign_coords({REGION: (NEUROID, np.full(da.sizes[NEUROID], str(region), dtype=object))})


def read_brainio_assembly(assembly: PathLike | xr.DataArray, *, region: str | None = None,
                          time_bin: Sequence[float] | None = None, variable: str | None = None) -> xr.DataArray:
    """Read a BrainIO / Brain-Score neural assembly as a brainfit neural DataArray.

    Parameters
    ----------
    assembly : path or DataArray
        A netCDF file as brainio writes it, or an in-memory assembly (a brainio ``DataAssembly``
        with its MultiIndexes is accepted; the indexes are reset to plain coords).
    region : str, optional
        Without a ``region`` coord: the region of every neuroid. With one: keep only the
        neuroids of this region.
    time_bin : (start_ms, end_ms), optional
        The response window of a 2-D assembly that states none (recorded with
        ``attrs["time_window_nominal"] = True``); an error when the file has its own bins.
    variable : str, optional
        The data variable, when the file holds more than one.

    Returns
    -------
    DataArray (presentation x neuroid x time_bin), validated. ``image_id`` is renamed to
    ``stimulus_id``; ids are str (a numeric id ``3.0`` becomes ``"3"``); ``repetition`` is
    kept (``attrs["trials"]`` says whether single trials are present; without it the data are
    repeat-averaged).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        Naming the problem: unreadable file, several data variables, unexpected dims, missing
        time bins or region, NaNs, duplicate ids.
    """
    if isinstance(assembly, xr.DataArray):
        label, da = "BrainIO assembly", xr.DataArray(assembly).copy()
        da.attrs = {k: v for k, v in da.attrs.items() if not isinstance(v, (pd.DataFrame, xr.DataArray))}
        return _to_neural(da, label, region, time_bin)
    path = Path(assembly)
    da, ds = _open_file(path, variable)
    try:
        return _to_neural(da, f"BrainIO assembly {path}", region, time_bin)
    finally:
        ds.close()


def _to_neural(da: xr.DataArray, label: str, region: str | None, time_bin: Sequence[float] | None) -> xr.DataArray:
    da = _reset_multiindexes(da).rename(None)
    if LEGACY_STIMULUS_ID in da.coords and STIMULUS_ID not in da.coords:
        da = da.rename({LEGACY_STIMULUS_ID: STIMULUS_ID})
    unexpected = [d for d in da.dims if d not in NEURAL_DIMS]
    missing = [d for d in (PRESENTATION, NEUROID) if d not in da.dims]
    if unexpected or missing:
        raise ValueError(f"{label} has dims {tuple(da.dims)}; a neural assembly has dims presentation, neuroid "
                         f"[, time_bin] in any order" + (f" (missing {missing})" if missing else "")
                         + (f" (unexpected {unexpected})" if unexpected else ""))
    da = _add_time_bin(da, time_bin, label)
    # keep coords along exactly one dim; scalar ones (left by .sel) become attrs, others are dropped
    for name in list(da.coords):
        c = da.coords[name]
        if c.ndim == 1 and c.dims[0] in da.dims:
            da = da.assign_coords({name: (c.dims[0], _plain_values(np.asarray(c.values)))})
        else:
            if c.ndim == 0 and name not in da.attrs and isinstance(c.values.item(), (str, int, float)):
                da.attrs[str(name)] = c.values.item()
            log.debug("%s: coord %r with dims %s is not along one dim; dropped", label, name, c.dims)
            da = da.drop_vars(name)
    for name in (TIME_BIN_START, TIME_BIN_END):
        da = da.assign_coords({name: (TIME_BIN, np.asarray(da[name].values, dtype=float))})
    # ids are strings (numeric ids in a file: 3.0 -> "3", as a stimulus CSV spells them)
    for name, dim in ((STIMULUS_ID, PRESENTATION), (NEUROID_ID, NEUROID)):
        if name in da.coords and da[name].dims == (dim,):
            da = da.assign_coords({name: (dim, ids_to_str(da[name].values, f"{label} coord {name!r}"))})
    if REPETITION in da.coords:
        rep = np.asarray(da[REPETITION].values)
        integral = rep.dtype.kind in "iu" or (rep.dtype.kind == "f" and np.all(np.isfinite(rep) & (rep == np.round(rep))))
        if not integral:
            raise ValueError(f"{label} coord 'repetition' must hold integers (trial numbers), got "
                             f"{short_list(np.unique(rep).tolist())} (dtype {rep.dtype})")
        da = da.assign_coords({REPETITION: (PRESENTATION, rep.astype(int))})
    da = _apply_region(da, region, label).load()  # read only the region's neuroids from the file
    da.attrs.setdefault("trials", REPETITION in da.coords)
    try:
        return validate_neural(da.transpose(*NEURAL_DIMS), name=label)
    except ValueError as err:
        coords = {d: [str(n) for n in da.coords if da.coords[n].dims == (d,)] for d in NEURAL_DIMS}
        raise ValueError(f"{err} (coords present: {coords})") from err


# ----------------------------------------------------------------------------- stimulus set


def _id_column(table: pd.DataFrame, csv: Path) -> str:
    for col in (STIMULUS_ID, LEGACY_STIMULUS_ID):
        if col in table.columns:
            return col
    raise ValueError(f"stimulus CSV {csv} has no {STIMULUS_ID!r} (or legacy {LEGACY_STIMULUS_ID!r}) column; "
                     f"columns: {list(table.columns)}")


def _filename_column(table: pd.DataFrame, csv: Path, filename_column: str | None) -> str:
    options = (filename_column,) if filename_column else FILENAME_COLUMNS
    for col in options:
        if col in table.columns:
            return col
    raise ValueError(f"stimulus CSV {csv} has no file-name column {list(options)} (the image's path in the zip "
                     f"or folder); columns: {list(table.columns)}" + ("" if filename_column else
                                                                      "; name it with filename_column="))


def _default_images(csv: Path) -> Path:
    for candidate in (csv.with_suffix(".zip"), csv.with_suffix("")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no images given for stimulus CSV {csv}, and neither {csv.with_suffix('.zip')} nor "
                            f"the folder {csv.with_suffix('')} exists; pass images= (a zip or a folder)")


def _zip_members(path: Path, files: Sequence[str]) -> list[str | None]:
    """Member of each listed file: the exact name, else the one member ending in ``/<name>``
    (zips that keep a top folder)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as err:
        raise ValueError(f"not a valid zip archive: {path}: {err}") from err
    known = set(names)
    by_tail: dict[str, list[str]] = {}
    for n in names:
        if "/" in n:
            by_tail.setdefault(n.split("/", 1)[1], []).append(n)
    out: list[str | None] = []
    for f in files:
        f = f.replace("\\", "/")
        f = f[2:] if f.startswith("./") else f
        hits = by_tail.get(f, [])
        out.append(f if f in known else (hits[0] if len(hits) == 1 else None))
    return out


def read_brainio_stimuli(stimuli: PathLike | None, images: PathLike | None = None, *,
                         stimulus_ids: Sequence[str] | None = None,
                         filename_column: str | None = None) -> StimulusSet:
    """Read a BrainIO stimulus set: a CSV and its images (a zip, or the unzipped folder).

    Parameters
    ----------
    stimuli : path, optional
        The CSV: ``stimulus_id`` (or ``image_id``), a file-name column (``filename`` or
        ``image_file_name``, or ``filename_column``) and metadata columns. Without it, every image
        in ``images`` is a stimulus whose id is its file name without extension (the names
        brainio gives the files it zips; matched by :func:`~brainfit.data.arrays.stimulus_set_for`,
        so files under a top folder are found too).
    images : path, optional
        Zip or folder holding the files; default: the CSV's sibling ``<stem>.zip`` or ``<stem>/``.
    stimulus_ids : sequence of str, optional
        Keep these stimuli only (e.g. an assembly's), in CSV order (without a CSV: sorted by id);
        ids missing from the CSV or the images are an error naming them.

    Returns
    -------
    StimulusSet whose metadata are the CSV's other columns (the file-name column is dropped;
    the source knows the file).
    """
    if stimuli is None:
        if images is None:
            raise ValueError("read_brainio_stimuli needs a stimulus CSV, an images zip/folder, or both")
        images = Path(images)
        if stimulus_ids is not None:  # images named by id, matched as every importer does (a top folder is fine)
            return stimulus_set_for(images, sorted({str(s) for s in stimulus_ids}))
        return StimulusSet.from_zip(images) if images.is_file() else StimulusSet.from_folder(images, recursive=True)
    csv = Path(stimuli)
    if not csv.is_file():
        raise FileNotFoundError(f"stimulus CSV not found: {csv}")
    header = pd.read_csv(csv, nrows=0)
    id_col = _id_column(header, csv)
    fn_col = _filename_column(header, csv, filename_column)
    table = pd.read_csv(csv, dtype={id_col: str, fn_col: str}, keep_default_na=False, na_values=[""])
    table = table.rename(columns={id_col: STIMULUS_ID})
    dup = table[STIMULUS_ID][table[STIMULUS_ID].duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"stimulus CSV {csv} has duplicate stimulus ids: {short_list(dup)}")
    if stimulus_ids is not None:
        wanted = set(map(str, stimulus_ids))
        missing = sorted(wanted - set(table[STIMULUS_ID]))
        if missing:
            raise ValueError(f"stimulus CSV {csv} lacks {len(missing)} stimulus id(s) of the assembly: {short_list(missing)}")
        table = table[table[STIMULUS_ID].isin(wanted)].reset_index(drop=True)
    if table[fn_col].isna().any():
        bad = table[STIMULUS_ID][table[fn_col].isna()].tolist()
        raise ValueError(f"stimulus CSV {csv} has no file name for stimulus id(s) {short_list(bad)}")
    images = _default_images(csv) if images is None else Path(images)
    files = table[fn_col].astype(str).tolist()
    meta = table.drop(columns=[fn_col])
    name = csv.stem
    if images.is_dir():
        lost = [(s, str(images / f)) for s, f in zip(table[STIMULUS_ID], files) if not (images / f).is_file()]
        _raise_missing(lost, csv, images)
        st = StimulusSet.from_folder(images, metadata=table, filename_column=fn_col, name=name)
        st.metadata = st.metadata.drop(columns=[fn_col])
        return st
    if not images.is_file():
        raise FileNotFoundError(f"stimulus images not found: {images} (a zip or a folder)")
    members = _zip_members(images, files)
    _raise_missing([(s, f) for s, f, m in zip(table[STIMULUS_ID], files, members) if m is None], csv, images)
    return StimulusSet.from_zip(images, members=members, stimulus_ids=meta[STIMULUS_ID].tolist(), metadata=meta,
                                name=name)


def _raise_missing(lost: list[tuple[str, str]], csv: Path, images: Path) -> None:
    if lost:
        raise FileNotFoundError(f"{len(lost)} image file(s) listed in {csv} are missing from {images}: "
                                + ", ".join(f"{s!r} -> {f!r}" for s, f in lost[:5])
                                + (f", ... ({len(lost)} in all)" if len(lost) > 5 else ""))


def _merge_metadata(neural: xr.DataArray, stimuli: StimulusSet) -> xr.DataArray:
    """Stimulus metadata as presentation coords (what brainio's merging loader does), for the
    columns the assembly does not already carry."""
    table = stimuli.metadata.set_index(STIMULUS_ID)
    ids = pd.Index(np.asarray(neural[STIMULUS_ID].values).astype(str))
    new = {}
    for col in table.columns:
        if col in neural.coords:
            continue
        values = table[col].reindex(ids).to_numpy()
        new[str(col)] = (PRESENTATION, values.astype(object) if values.dtype.kind in "OUS" else values)
    return neural.assign_coords(new) if new else neural


# ----------------------------------------------------------------------------- the loader


@register_dataset("brainio", needs_data_root=False,
                  description="Import a BrainIO / Brain-Score neural assembly (.nc) with its stimulus CSV and "
                              "images (zip or folder)")
def load_brainio(assembly: PathLike | xr.DataArray, stimuli: PathLike | None = None, images: PathLike | None = None,
                 *, region: str | None = None, time_bin: Sequence[float] | None = None, variable: str | None = None,
                 filename_column: str | None = None,
                 merge_metadata: bool = True) -> tuple[StimulusSet | None, xr.DataArray]:
    """Load a BrainIO / Brain-Score assembly and, optionally, its stimulus set.

    Parameters
    ----------
    assembly : path or DataArray
        The assembly netCDF file (see :func:`read_brainio_assembly`), or the files returned by
        :func:`write_brainio`.
    stimuli : path, optional
        The stimulus CSV (see :func:`read_brainio_stimuli`); without it and without ``images``,
        no StimulusSet is returned.
    images : path, optional
        The images: zip or folder (default: beside the CSV, same stem).
    region, time_bin, variable
        See :func:`read_brainio_assembly`.
    filename_column : str, optional
        The CSV column naming each image's file (default: ``filename``, else ``image_file_name``).
    merge_metadata : bool
        Add the CSV's metadata columns that the assembly lacks as presentation coords.

    Returns
    -------
    (StimulusSet or None, DataArray (presentation x neuroid x time_bin))
        The StimulusSet holds exactly the assembly's stimuli, in CSV order.
    """
    neural = read_brainio_assembly(assembly, region=region, time_bin=time_bin, variable=variable)
    if stimuli is None and images is None:
        return None, neural
    ids = list(dict.fromkeys(np.asarray(neural[STIMULUS_ID].values).astype(str)))
    st = read_brainio_stimuli(stimuli, images, stimulus_ids=ids, filename_column=filename_column)
    if merge_metadata:
        neural = _merge_metadata(neural, st)
    return st, neural
