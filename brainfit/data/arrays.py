"""Users' own recordings from arrays or files: :func:`from_arrays` and :func:`from_files`.

``from_files`` is registered as dataset ``"files"``: ``load_dataset("files", responses=...,
metadata=..., images=...)``. See ``datasets/arrays.md`` for what the files must hold.

Both return ``(StimulusSet or None, neural DataArray)``; the StimulusSet is built only when
``images`` (a folder or a zip of images named by stimulus id) is given. Every error names the
file or argument and what is wrong with it.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainfit.assembly import (
    NEURAL_DIMS, NEUROID, NEUROID_ID, PRESENTATION, REGION, REPETITION, STIMULUS_ID, TIME_BIN_END, TIME_BIN_START,
    neural_assembly, short_list,
)
from brainfit.data.registry import register_dataset
from brainfit.stimuli import IMAGE_EXTENSIONS, StimulusSet

__all__ = ["from_arrays", "from_files", "read_array", "read_table", "stimulus_set_for", "occurrence_index"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
ARRAY_SUFFIXES = (".npy", ".npz", ".h5", ".hdf5", ".mat")


# ----------------------------------------------------------------------------- small helpers


def ids_to_str(values: Any, what: str) -> np.ndarray:
    """Ids as an object array of str; integral floats lose their ``.0`` (``3.0 -> "3"``)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8")
    out = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in arr.tolist()], dtype=object)
    bad = np.flatnonzero([v.strip() in ("", "nan", "None") for v in out])
    if len(bad):
        raise ValueError(f"{what} is empty or missing at {len(bad)} position(s), first at index {int(bad[0])}")
    return out


def occurrence_index(ids: Sequence[str]) -> np.ndarray:
    """Repetition of each presentation: 0 for a stimulus' first occurrence, 1 for its second..."""
    seen: dict[str, int] = {}
    out = np.empty(len(ids), dtype=int)
    for i, s in enumerate(ids):
        out[i] = seen.get(s, 0)
        seen[s] = out[i] + 1
    return out


def _coord(values: Any) -> np.ndarray:
    """A table column as coord values: strings as str objects (missing -> ""), numbers unchanged."""
    arr = np.asarray(values)
    if arr.dtype.kind in "OUS":
        return np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else
                         (v.decode() if isinstance(v, bytes) else str(v)) for v in arr.tolist()], dtype=object)
    return arr


def _per_stimulus(ids: np.ndarray, coords: Mapping[str, np.ndarray]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Unique ids (first-appearance order) and the coords that are constant within every stimulus."""
    uniq, first, inverse = np.unique(ids.astype(str), return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group, first_idx = rank[inverse], first[order]
    meta = {}
    for name, vals in coords.items():
        vals = np.asarray(vals)
        per = vals[first_idx]
        if np.all((vals == per[group]) | ((vals != vals) & (per[group] != per[group]))):
            meta[name] = per
    return uniq[order].tolist(), meta


def _strip_image_ext(name: str) -> str:
    stem, ext = os.path.splitext(name)
    return stem if ext.lower() in IMAGE_EXTENSIONS else name


def stimulus_set_for(images: PathLike | StimulusSet | None, stimulus_ids: Sequence[str],
                     metadata: Mapping[str, Any] | None = None, *, name: str | None = None) -> StimulusSet | None:
    """The images of ``stimulus_ids`` (unique, in order) from a folder, a zip or a StimulusSet.

    Images are matched to ids by path without extension (``cat/img1`` for ``cat/img1.png``),
    else by file name without extension (``img1``); an id that carries an image extension
    (``img1.png``) matches too. ``metadata`` (one row per id) becomes the set's metadata.

    Raises
    ------
    FileNotFoundError
        When ``images`` does not exist.
    ValueError
        Naming the stimulus ids that have no image.
    """
    if images is None:
        return None
    ids = [str(s) for s in stimulus_ids]
    if isinstance(images, StimulusSet):
        full, label = images, f"StimulusSet {images.name!r}"
    else:
        p = Path(images)
        label = str(p)
        if p.is_dir():
            full = StimulusSet.from_folder(p, recursive=True)
        elif p.is_file() and zipfile.is_zipfile(p):
            full = StimulusSet.from_zip(p)
        elif not p.exists():
            raise FileNotFoundError(f"images not found: {p} (expected a folder or a .zip of images named by stimulus id)")
        else:
            raise ValueError(f"images {p} is neither a folder nor a zip archive of images")
    have = [str(s).replace("\\", "/") for s in full.stimulus_ids]
    by_path = {s: i for i, s in enumerate(have)}
    base = [s.rsplit("/", 1)[-1] for s in have]
    n_base = Counter(base)
    by_base = {b: i for i, b in enumerate(base) if n_base[b] == 1}  # an ambiguous file name matches nothing
    idx, missing = [], []
    for s in ids:
        for k in (s, _strip_image_ext(s)):
            if k in by_path or k in by_base:
                idx.append(by_path.get(k, by_base.get(k)))
                break
        else:
            missing.append(s)
    if missing:
        twice = sorted({b for s in missing for b in (s, _strip_image_ext(s)) if n_base[b] > 1})
        raise ValueError(f"{label} has no image for {len(missing)} stimulus id(s): {short_list(missing)}; images are "
                         f"matched by file name without extension, found e.g. {short_list(have, 3)}"
                         + (f"; file name(s) {short_list(twice)} are in several folders: name those stimuli "
                            "by their path (folder/name)" if twice else ""))
    return StimulusSet(ids, full.source.subset(np.asarray(idx)), metadata, name=name or full.name)


# ----------------------------------------------------------------------------- arrays


def _parse_dims(dims: str | Sequence[str] | None, ndim: int, what: str) -> tuple[str, ...]:
    if dims is None:
        return NEURAL_DIMS[:ndim]
    names = tuple(dims.replace(",", " ").split()) if isinstance(dims, str) else tuple(dims)
    allowed = set(NEURAL_DIMS)
    if len(names) != ndim or len(set(names)) != ndim or not set(names) <= allowed or \
            not {PRESENTATION, NEUROID} <= set(names):
        raise ValueError(f"{what}: dims {' '.join(names)!r} do not fit an array with {ndim} axes; name each axis once "
                         f"from {NEURAL_DIMS} (presentation and neuroid required), e.g. 'neuroid presentation'")
    return names


def canonical_responses(responses: Any, dims: str | Sequence[str] | None, what: str) -> np.ndarray:
    """``responses`` as a numeric array ordered (presentation, neuroid[, time_bin])."""
    values = np.asarray(responses)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold numbers, got dtype {values.dtype}")
    if values.ndim not in (2, 3):
        raise ValueError(f"{what} must be 2-D (presentation, neuroid) or 3-D (presentation, neuroid, time_bin), "
                         f"got shape {values.shape}")
    names = _parse_dims(dims, values.ndim, what)
    return values.transpose([names.index(d) for d in NEURAL_DIMS[:values.ndim]])


def _time_bins(n_bins: int, start: Any, end: Any, width: float | None) -> tuple[np.ndarray, np.ndarray]:
    if start is None:
        raise ValueError(f"responses have {n_bins} time bin(s): pass time_bin_start (ms after onset) and "
                         "time_bin_end or bin_width (e.g. time_bin_start=70, time_bin_end=170 for one window)")
    s = np.atleast_1d(np.asarray(start, dtype=float))
    if width is not None:
        if end is not None:
            raise ValueError("pass time_bin_end or bin_width, not both")
        if not width > 0:
            raise ValueError(f"bin_width must be > 0 ms, got {width}")
        if len(s) == 1:
            s = s[0] + float(width) * np.arange(n_bins)
        e = s + float(width)
    elif end is None:
        raise ValueError("pass time_bin_end (ms after onset) or bin_width along with time_bin_start")
    else:
        e = np.atleast_1d(np.asarray(end, dtype=float))
    if len(s) != n_bins or len(e) != n_bins:
        raise ValueError(f"time_bin_start has {len(s)} and time_bin_end {len(e)} value(s) for {n_bins} time bin(s) "
                         "in the responses")
    return s, e


def _length(name: str, values: Any, n: int, axis: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{name} has shape {arr.shape} but the responses have {n} {axis}(s)")
    return arr


def _table(table: pd.DataFrame | Mapping[str, Any] | None, n: int, what: str, axis: str) -> dict[str, np.ndarray]:
    if table is None:
        return {}
    df = table if isinstance(table, pd.DataFrame) else pd.DataFrame({k: np.asarray(v) if np.ndim(v) else [v] * n
                                                                     for k, v in table.items()})
    if len(df) != n:
        raise ValueError(f"{what} has {len(df)} row(s) but the responses have {n} {axis}(s)")
    return {str(c): _coord(df[c].to_numpy()) for c in df.columns}


def from_arrays(responses: Any, *, stimulus_id: Sequence[Any], region: str | Sequence[str],
                neuroid_id: Sequence[Any] | None = None, time_bin_start: float | Sequence[float] | None = None,
                time_bin_end: float | Sequence[float] | None = None, bin_width: float | None = None,
                repetition: Sequence[int] | None = None, dims: str | Sequence[str] | None = None,
                images: PathLike | StimulusSet | None = None,
                metadata: pd.DataFrame | Mapping[str, Any] | None = None,
                neuroid_coords: pd.DataFrame | Mapping[str, Any] | None = None, animal: Any = None,
                session: Any = None, attrs: Mapping[str, Any] | None = None,
                ) -> tuple[StimulusSet | None, xr.DataArray]:
    """A neural assembly (and optionally its stimuli) from in-memory arrays.

    Parameters
    ----------
    responses : array, 2-D or 3-D
        Responses, axes as in ``dims``; 2-D data are one time window (one time bin).
    stimulus_id : sequence, length n_presentations
        The stimulus of each presentation (converted to str; integral floats lose ``.0``).
    region : str or sequence of str (length n_neuroids)
        Brain region of every neuroid (``"V4"``, ``"IT"``...).
    neuroid_id : sequence, length n_neuroids, optional
        Default ``"n0", "n1", ...``.
    time_bin_start, time_bin_end : float or sequence of float (ms after onset)
        The time bins, one value per bin; or ``time_bin_start`` (first start or all starts) with
        ``bin_width``.
    bin_width : float, optional
        Bin width in ms, instead of ``time_bin_end``.
    repetition : sequence of int, optional
        Trial index per presentation. Default: the occurrence index of each stimulus when ids
        repeat (single trials), none when they are unique.
    dims : str or sequence of str, optional
        Axis order of ``responses``, e.g. ``"neuroid presentation time_bin"``; default
        ``"presentation neuroid [time_bin]"``.
    images : folder, zip or StimulusSet, optional
        Images named by stimulus id; see :func:`stimulus_set_for`.
    metadata : DataFrame or mapping, one row per presentation, optional
        Becomes presentation coords (``category``...); columns constant within every stimulus
        also become the StimulusSet's metadata.
    neuroid_coords : DataFrame or mapping, one row per neuroid, optional
    animal, session : scalar or sequence (length n_neuroids), optional
    attrs : mapping, optional

    Returns
    -------
    (StimulusSet or None, DataArray (presentation x neuroid x time_bin))

    Raises
    ------
    ValueError
        Naming the argument with the wrong shape or values (ids vs responses, NaN, time bins...).
    """
    values = canonical_responses(responses, dims, "responses")
    n_pres, n_neur = values.shape[:2]
    n_bins = values.shape[2] if values.ndim == 3 else 1
    sid = ids_to_str(_length("stimulus_id", stimulus_id, n_pres, "presentation"), "stimulus_id")
    nid = ids_to_str(_length("neuroid_id", neuroid_id, n_neur, "neuroid"), "neuroid_id") if neuroid_id is not None \
        else np.array([f"n{i}" for i in range(n_neur)], dtype=object)
    if region is None or (isinstance(region, str) and not region.strip()):
        raise ValueError("region is required: the brain region of the neuroids, e.g. region='IT', or one per neuroid")
    region_values = region if isinstance(region, str) else ids_to_str(_length("region", region, n_neur, "neuroid"),
                                                                       "region")
    if repetition is not None:
        rep = _length("repetition", repetition, n_pres, "presentation")
        if rep.dtype.kind not in "iu" and not (rep.dtype.kind == "f" and np.all(rep == np.round(rep))):
            raise ValueError(f"repetition must hold integers, got dtype {rep.dtype}")
        rep = rep.astype(int)
    elif len(set(sid.tolist())) < n_pres:
        rep = occurrence_index(sid)
        log.info("stimulus ids repeat: repetition = occurrence index of each stimulus (max %d)", rep.max())
    else:
        rep = None
    starts, ends = _time_bins(n_bins, time_bin_start, time_bin_end, bin_width)
    pres = _table(metadata, n_pres, "metadata", "presentation")
    for name, given in ((STIMULUS_ID, sid), (REPETITION, rep)):
        if name in pres:
            col = pres.pop(name)
            if given is None or not np.array_equal(col.astype(str), np.asarray(given).astype(str)):
                raise ValueError(f"metadata column {name!r} differs from the {name} argument; drop it or make them equal")
    neur = _table(neuroid_coords, n_neur, "neuroid_coords", "neuroid")
    for name in (NEUROID_ID, REGION):
        if name in neur:
            raise ValueError(f"neuroid_coords has a {name!r} column: pass it as the {name}= argument")
    for name, v in (("animal", animal), ("session", session)):
        if v is not None:
            neur[name] = _coord(v) if np.ndim(v) else v
    clash = sorted(set(pres) & (set(neur) | {NEUROID_ID, REGION, TIME_BIN_START, TIME_BIN_END}))
    if clash:  # a coord lives on one dim: the presentation column would silently lose to the other
        raise ValueError(f"metadata column(s) {clash} are also neuroid or time-bin coords: rename them")
    da = neural_assembly(values, stimulus_id=sid, neuroid_id=nid, repetition=rep, region=region_values,
                         time_bin_start=starts, time_bin_end=ends, presentation_coords=pres, neuroid_coords=neur,
                         attrs=dict(attrs or {}))
    stimuli = None
    if images is not None:
        uniq, meta = _per_stimulus(sid, pres)
        stimuli = stimulus_set_for(images, uniq, meta)
    return stimuli, da


# ----------------------------------------------------------------------------- files


def _pick(names: Sequence[str], key: str | None, path: Path) -> str:
    if not names:
        raise ValueError(f"{path} holds no numeric array")
    if key is None:
        if len(names) > 1:
            raise ValueError(f"{path} holds {len(names)} arrays {list(names)}: pass key=... to choose one")
        return names[0]
    if key not in names:
        raise ValueError(f"{path} has no array {key!r}; it holds {list(names)}")
    return key


def _hdf5_datasets(f: Any) -> list[str]:
    import h5py

    found: list[str] = []
    f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset)
                 and not name.startswith("#") else None)
    return found


def read_array(path: PathLike, key: str | None = None) -> np.ndarray:
    """One numeric array from ``.npy``, ``.npz``, ``.h5``/``.hdf5`` or ``.mat`` (v5 or v7.3).

    ``key`` names the array in files that hold several (an ``.npz`` member, an HDF5 dataset path,
    a MATLAB variable). MATLAB v7.3 files are HDF5 files whose arrays are stored with their axes
    reversed; they are transposed back, so the shape is the one MATLAB shows (as for v5 files).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"responses file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in ARRAY_SUFFIXES:
        raise ValueError(f"{path}: unsupported responses file type {suffix!r}; use one of {', '.join(ARRAY_SUFFIXES)}")
    import h5py  # (installed with h5netcdf, brainfit's netCDF engine)

    if suffix == ".npy":
        if key is not None:
            raise ValueError(f"{path}: key={key!r} is only for .npz/.h5/.hdf5/.mat files (a .npy file holds one array)")
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path} cannot be read as a numeric .npy array: {err}") from err
    elif suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                arr = z[_pick(list(z.files), key, path)]
        except (ValueError, OSError, zipfile.BadZipFile) as err:
            if str(path) in str(err):  # _pick's own message
                raise
            raise ValueError(f"{path} cannot be read as a numeric .npz archive: {err}") from err
    elif suffix in (".h5", ".hdf5") or (suffix == ".mat" and h5py.is_hdf5(path)):
        try:
            with h5py.File(path, "r") as f:
                arr = f[_pick(_hdf5_datasets(f), key, path)][()]
        except OSError as err:
            raise ValueError(f"{path} cannot be read as an HDF5 file: {err}") from err
        if suffix == ".mat":
            arr = np.asarray(arr).T  # MATLAB writes column-major: reverse the axes back
    else:
        from scipy.io import loadmat
        from scipy.io.matlab import MatReadError

        try:
            mat = loadmat(path)
        except (MatReadError, ValueError, NotImplementedError, OSError) as err:
            raise ValueError(f"{path} cannot be read as a MATLAB file: {err}") from err
        names = [k for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)
                 and v.dtype.kind in "biuf"]
        arr = mat[_pick(names, key, path)]
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}{'' if key is None else f'[{key!r}]'} is not a numeric array (dtype {arr.dtype})")
    return arr


def read_table(path: PathLike, id_column: str | None = None, what: str = "table") -> pd.DataFrame:
    """A ``.csv`` or ``.tsv`` table; ``id_column`` (if present) is read as str."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv"):
        raise ValueError(f"{path}: {what} must be a .csv or .tsv file, got {suffix!r}")
    try:
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={id_column: str} if id_column else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} cannot be read as a {what}: {err}") from err


@register_dataset("files", description="Your own recordings: a responses array (.npy/.npz/.h5/.mat) with a "
                                       "per-presentation metadata table (.csv/.tsv), optional neuroids table and images")
def from_files(responses: PathLike, *, metadata: PathLike, key: str | None = None, neuroids: PathLike | None = None,
               images: PathLike | None = None, region: str | None = None, dims: str | Sequence[str] | None = None,
               time_bin_start: float | Sequence[float] | None = None,
               time_bin_end: float | Sequence[float] | None = None, bin_width: float | None = None,
               stimulus_column: str = STIMULUS_ID, animal: str | None = None, session: str | None = None,
               ) -> tuple[StimulusSet | None, xr.DataArray]:
    """A neural assembly (and optionally its stimuli) from a responses file and tables.

    Parameters
    ----------
    responses : path
        ``.npy``, ``.npz``, ``.h5``/``.hdf5`` or ``.mat`` holding a 2-D (presentation, neuroid)
        or 3-D (presentation, neuroid, time_bin) numeric array; see :func:`read_array`.
    metadata : path (.csv or .tsv)
        One row per presentation, in the order of the responses: ``stimulus_column`` (required),
        ``repetition`` (optional; default the occurrence index of each stimulus); the other
        columns become presentation coords.
    key : str, optional
        The array to read when the file holds several.
    neuroids : path (.csv or .tsv), optional
        One row per neuroid: ``neuroid_id``, ``region``, ``animal``, ``session`` (all optional)
        and other columns (neuroid coords).
    images : folder or zip, optional
        Images named by stimulus id (file name without extension).
    region : str, optional
        Region of every neuroid; overrides the neuroids table. One of the two is required.
    dims : str, optional
        Axis order of the array, e.g. ``"neuroid presentation"`` (MATLAB exports often are).
    time_bin_start, time_bin_end, bin_width
        Time bins in ms after onset, as in :func:`from_arrays`.
    stimulus_column : str
        Name of the stimulus id column of ``metadata``.
    animal, session : str, optional
        Neuroid coords for all neuroids (override the neuroids table).

    Returns
    -------
    (StimulusSet or None, DataArray (presentation x neuroid x time_bin))
    """
    label = str(responses) if key is None else f"{responses}[{key!r}]"
    values = canonical_responses(read_array(responses, key), dims, label)
    n_pres, n_neur = values.shape[:2]
    table = read_table(metadata, stimulus_column, "metadata")
    if stimulus_column not in table.columns:
        raise ValueError(f"{metadata} has no {stimulus_column!r} column; columns: {list(table.columns)}")
    if len(table) != n_pres:
        raise ValueError(f"{metadata} has {len(table)} row(s) but {label} has {n_pres} presentations "
                         f"(array shape {values.shape} as presentation x neuroid{' x time_bin' if values.ndim == 3 else ''}"
                         "; pass dims= if the axes are in another order)")
    sid = ids_to_str(table[stimulus_column].to_numpy(), f"{metadata} column {stimulus_column!r}")
    rep = None
    if REPETITION in table.columns:
        r = table[REPETITION].to_numpy()
        if r.dtype.kind not in "iu":
            raise ValueError(f"{metadata} column 'repetition' must hold integers (no missing values), got dtype {r.dtype}")
        rep = r
    pres = table.drop(columns=[c for c in (stimulus_column, STIMULUS_ID, REPETITION) if c in table.columns])
    neur = None
    neuroid_id = None
    if neuroids is not None:
        neur = read_table(neuroids, NEUROID_ID, "neuroids table")
        if len(neur) != n_neur:
            raise ValueError(f"{neuroids} has {len(neur)} row(s) but {label} has {n_neur} neuroids "
                             f"(array shape {values.shape}; pass dims= if the axes are in another order)")
        if NEUROID_ID in neur.columns:
            neuroid_id = ids_to_str(neur.pop(NEUROID_ID).to_numpy(), f"{neuroids} column 'neuroid_id'")
        if REGION in neur.columns:
            table_region = ids_to_str(neur.pop(REGION).to_numpy(), f"{neuroids} column 'region'")
            region = region if region is not None else table_region
    if region is None:
        raise ValueError(f"no region for the neuroids of {label}: pass region='IT' (say) or a neuroids table "
                         "with a 'region' column")
    for name, v in (("animal", animal), ("session", session)):
        if v is not None and neur is not None and name in neur.columns:
            neur = neur.drop(columns=[name])
    try:
        _, da = from_arrays(values, stimulus_id=sid, region=region, neuroid_id=neuroid_id,
                            time_bin_start=time_bin_start, time_bin_end=time_bin_end, bin_width=bin_width,
                            repetition=rep, metadata=pres, neuroid_coords=neur, animal=animal, session=session,
                            attrs={"dataset": "files", "source": Path(responses).name})
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from err
    stimuli = None
    if images is not None:
        uniq, meta = _per_stimulus(sid, {k: _coord(pres[k].to_numpy()) for k in pres.columns})
        stimuli = stimulus_set_for(images, uniq, meta)
    return stimuli, da
