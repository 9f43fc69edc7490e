"""Neurodata Without Borders (NWB) files: spike times binned per presentation.

Registered as dataset ``"nwb"``: ``load_dataset("nwb", path=..., images=...)``. The file must
hold a units table with spike times and an intervals table (``trials`` or any other
TimeIntervals) with one row per stimulus presentation: its onset (``start_time``) and a stimulus
id column. See ``datasets/nwb.md``.

pynwb is an optional dependency (``pip install "brainfit[nwb]"``), imported only when a file is
read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import make_time_bins, neural_assembly, short_list
from brainfit.data.arrays import _coord, ids_to_str, occurrence_index, stimulus_set_for
from brainfit.data.registry import register_dataset
from brainfit.stimuli import StimulusSet

__all__ = ["load_nwb", "bin_spike_times"]

log = logging.getLogger(__name__)

EDGE_TOLERANCE_S = 1e-9
REGION_COLUMNS = ("location", "brain_area", "region", "area")
_MISSING = ("", "unknown", "none", "nan", "n/a")
# unit/interval columns that are never coords (ragged, references or handled separately)
_SKIP_UNIT_COLUMNS = ("spike_times", "electrodes", "obs_intervals", "electrode_group", "waveform_mean",
                      "waveform_sd", "waveforms")


def bin_spike_times(spike_times: Sequence[np.ndarray], onsets: np.ndarray, starts: np.ndarray,
                    ends: np.ndarray) -> np.ndarray:
    """Spike counts of every unit in ``[onset + start, onset + end)`` for every onset and bin.

    Times within :data:`EDGE_TOLERANCE_S` (1 ns) of an edge count as on it.

    Parameters
    ----------
    spike_times : sequence of 1-D arrays (seconds), one per unit
    onsets : array (n_presentations,), seconds
    starts, ends : arrays (n_bins,), ms after onset (may be negative: baseline bins)

    Returns
    -------
    float32 array (n_presentations, n_units, n_bins)
    """
    # Edges move 1 ns earlier: a spike on an edge (times are often quantised to the sampling
    # clock, like onsets) then goes to the bin that starts there whatever the float rounding of
    # onset + offset (0.1 + 0.2 > 0.3 in float64); 1 ns is far below any timing precision.
    lo = onsets[:, None] + np.asarray(starts, dtype=float)[None, :] / 1000.0 - EDGE_TOLERANCE_S
    hi = onsets[:, None] + np.asarray(ends, dtype=float)[None, :] / 1000.0 - EDGE_TOLERANCE_S
    out = np.empty((len(onsets), len(spike_times), len(starts)), dtype=np.float32)
    for u, t in enumerate(spike_times):
        t = np.sort(np.asarray(t, dtype=float))
        # searchsorted 'left' on both edges counts spikes with lo <= t < hi
        out[:, u, :] = np.searchsorted(t, hi, side="left") - np.searchsorted(t, lo, side="left")
    return out


def _ragged(table: Any, name: str) -> list[np.ndarray]:
    """A ragged column (VectorIndex) of an NWB table as one array per row."""
    col = table[name]
    if not hasattr(col, "target"):
        data = np.asarray(col.data[:])
        return [data[i:i + 1] for i in range(len(data))]
    ends = np.asarray(col.data[:], dtype=np.int64)
    flat = np.asarray(col.target.data[:])
    return np.split(flat, ends[:-1]) if len(ends) else []


def _column(table: Any, name: str) -> np.ndarray | None:
    """A scalar column as a 1-D array, or None when it is ragged, a reference or not 1-D."""
    col = table[name]
    if hasattr(col, "target") or hasattr(col, "table"):
        return None
    try:
        data = np.asarray(col.data[:])
    except (TypeError, ValueError):
        return None
    if data.ndim != 1 or data.dtype.kind not in "biufUSO":
        return None
    if data.dtype.kind == "O" and not all(isinstance(v, (str, bytes, int, float, np.generic)) for v in data.tolist()):
        return None
    return data


def _intervals_table(nwbfile: Any, name: str, path: Path) -> Any:
    tables = {}
    for attr in ("trials", "epochs"):
        if getattr(nwbfile, attr, None) is not None:
            tables[attr] = getattr(nwbfile, attr)
    tables.update(dict(nwbfile.intervals or {}))
    if name not in tables:
        raise ValueError(f"{path} has no intervals table {name!r}; tables present: {sorted(tables) or 'none'} "
                         "(pass intervals='<name>')")
    return tables[name]


def _regions(nwbfile: Any, units: Any, rows: np.ndarray, ids: np.ndarray, region: Any, region_column: str | None,
             path: Path) -> tuple[np.ndarray, str | None]:
    """Region of each selected unit, and the units column it came from (None otherwise)."""
    n = len(rows)
    if region is not None:
        if isinstance(region, str):
            return np.array([region] * n, dtype=object), None
        values = np.asarray(region, dtype=object)
        if values.shape != (n,):
            raise ValueError(f"region has {values.size} value(s) for {n} selected unit(s); pass one str or one per unit")
        return values, None
    electrodes = nwbfile.electrodes
    e_cols = list(electrodes.colnames) if electrodes is not None else []
    unit_cols = list(units.colnames)
    if region_column is not None:
        if region_column not in unit_cols and not (region_column in e_cols and "electrodes" in unit_cols):
            raise ValueError(f"{path}: region_column {region_column!r} is neither a units column {unit_cols} nor an "
                             f"electrodes column {e_cols} reachable from the units")
        candidates = [region_column]
    else:
        candidates = [c for c in REGION_COLUMNS if c in unit_cols]
        if "electrodes" in unit_cols and "location" in e_cols:
            candidates.append("location")
    if not candidates:
        raise ValueError(f"{path}: no region for the units: the units table has no {list(REGION_COLUMNS)} column "
                         f"(columns: {unit_cols}) and no electrodes with a 'location'; pass region='IT' (say) or "
                         "region_column=...")
    name = candidates[0]
    if name in unit_cols and name not in _SKIP_UNIT_COLUMNS:
        values = _column(units, name)
        if values is None:
            raise ValueError(f"{path}: units column {name!r} is not a column of scalars; pass region=...")
        values = values[rows]
        where, source = f"units column {name!r}", name
    else:  # the location of each unit's first electrode
        per_unit = _ragged(units, "electrodes")
        locs = _column(electrodes, name)
        if locs is None:
            raise ValueError(f"{path}: electrodes column {name!r} is not a column of scalars; pass region=...")
        empty = [ids[i] for i, r in enumerate(rows) if len(per_unit[r]) == 0]
        if empty:
            raise ValueError(f"{path}: unit(s) {short_list(empty)} have no electrode, so no region; pass region=...")
        values = locs[[int(per_unit[r][0]) for r in rows]]
        where, source = f"electrodes column {name!r}", None
    values = _coord(values)
    missing = [ids[i] for i, v in enumerate(values) if str(v).strip().lower() in _MISSING]
    if missing:
        raise ValueError(f"{path}: {where} gives no region for unit(s) {short_list(missing)}; pass region=... or "
                         "units=... to leave them out")
    return values, source


def _check_recording(units: Any, rows: np.ndarray, ids: np.ndarray, spikes: list[np.ndarray], table: Any,
                     onsets: np.ndarray, sids: np.ndarray, first: float, last: float, path: Path) -> None:
    """Refuse bins outside the recording: before the session start (time 0), after the last spike
    and the last interval's stop, or outside a unit's ``obs_intervals`` when the file has them."""
    w0, w1 = onsets + first / 1000.0, onsets + last / 1000.0
    non_empty = [t for t in spikes if len(t)]
    lo = min([0.0] + [float(np.min(t)) for t in non_empty])
    stops = np.asarray(table["stop_time"].data[:], dtype=float) if "stop_time" in table.colnames else np.array([])
    hi = max([float(np.max(t)) for t in non_empty] + [float(np.nanmax(stops)) if len(stops) else -np.inf])
    bad = np.flatnonzero((w0 < lo) | (w1 > hi))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{path}: bins {first:g}..{last:g} ms after onset fall outside the recording ({lo:g}..{hi:g} s) for "
            f"{len(bad)} presentation(s), first at onset {onsets[i]:g} s (stimulus_id {sids[i]!r}); "
            "change bin_start/bin_stop")
    if "obs_intervals" not in units.colnames:
        return
    obs = _ragged(units, "obs_intervals")
    for k, r in enumerate(rows):
        iv = np.asarray(obs[r], dtype=float).reshape(-1, 2)
        iv = iv[np.argsort(iv[:, 0])]
        j = np.searchsorted(iv[:, 0], w0, side="right") - 1
        ok = (j >= 0) & (w1 <= iv[np.maximum(j, 0), 1])
        if not np.all(ok):
            i = int(np.flatnonzero(~ok)[0])
            raise ValueError(
                f"{path}: unit {ids[k]!r} was not observed during bins {first:g}..{last:g} ms of {int(np.sum(~ok))} "
                f"presentation(s), first at onset {onsets[i]:g} s (its obs_intervals); leave it out with units=... "
                "or change bin_start/bin_stop")


@register_dataset("nwb", description="Spike times from an NWB file (units + trials or other intervals table), "
                                     "binned per presentation; optional images folder or zip")
def load_nwb(path: str | os.PathLike, *, stimulus_column: str = "stimulus_id", intervals: str = "trials",
             bin_start: float = 70.0, bin_stop: float = 260.0, bin_width: float = 10.0,
             region: str | Sequence[str] | None = None, region_column: str | None = None,
             units: Sequence[Any] | None = None, neuroid_column: str | None = None,
             images: str | os.PathLike | StimulusSet | None = None) -> tuple[StimulusSet | None, xr.DataArray]:
    """Bin an NWB file's spike times into counts per presentation and time bin.

    Parameters
    ----------
    path : path to an ``.nwb`` file (HDF5)
    stimulus_column : str
        Column of the intervals table holding each presentation's stimulus id.
    intervals : str
        ``"trials"``, ``"epochs"`` or the name of another TimeIntervals table in
        ``nwbfile.intervals``; one row per presentation, onset = ``start_time``.
    bin_start, bin_stop, bin_width : float
        Bins ``[start, start + width), ...`` in ms after onset, as :func:`make_time_bins`;
        negative starts give baseline bins before onset.
    region : str or sequence of str (one per selected unit), optional
        Overrides the region read from the file.
    region_column : str, optional
        Units (or electrodes) column naming each unit's region; default the first of
        ``location``, ``brain_area``, ``region``, ``area`` in the units table, else the electrodes'
        ``location`` (of each unit's first electrode).
    units : sequence of unit ids, optional
        Subset of units (ids of the units table, or of ``neuroid_column``), in the order given.
    neuroid_column : str, optional
        Units column used as ``neuroid_id``; default the unit ids.
    images : folder, zip or StimulusSet, optional
        Images named by stimulus id; returned as a StimulusSet of the unique stimuli.

    Returns
    -------
    (StimulusSet or None, DataArray (presentation x neuroid x time_bin))
        Spike counts; presentations in onset order, one per row of the intervals table, with
        ``stimulus_id``, ``repetition`` (occurrence index of the stimulus; none when every
        stimulus is shown once) and the table's other scalar columns as coords (except those
        named like a neuroid or time-bin coord, left out with a logged warning); neuroid coords
        ``neuroid_id``, ``region``, ``animal`` (subject id), ``session`` (session id, else the
        file identifier) and the units' scalar columns.

    Raises
    ------
    ImportError
        When pynwb is not installed.
    ValueError
        Naming the missing table, column, unit ids or region, and bins outside the recording.
    """
    try:
        from pynwb import NWBHDF5IO
    except ImportError as err:
        raise ImportError('reading NWB files needs pynwb: pip install "brainfit[nwb]"') from err
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NWB file not found: {path}")
    starts, ends = make_time_bins(bin_start, bin_stop, bin_width)
    unreadable = (OSError, ValueError, TypeError, KeyError)  # what h5py/hdmf raise on a non-NWB file
    try:
        io = NWBHDF5IO(str(path), "r")
    except unreadable as err:
        raise ValueError(f"{path} cannot be opened as an NWB file: {err}") from err
    with io:
        try:
            nwbfile = io.read()
        except unreadable as err:
            raise ValueError(f"{path} cannot be read as an NWB file: {err}") from err
        table = _intervals_table(nwbfile, intervals, path)
        if stimulus_column not in table.colnames:
            raise ValueError(f"{path}: intervals table {intervals!r} has no column {stimulus_column!r}; columns: "
                             f"{list(table.colnames)} (pass stimulus_column=...)")
        onsets = np.asarray(table["start_time"].data[:], dtype=float)
        if len(onsets) == 0:
            raise ValueError(f"{path}: intervals table {intervals!r} is empty")
        raw_ids = _column(table, stimulus_column)
        if raw_ids is None:
            raise ValueError(f"{path}: column {stimulus_column!r} of {intervals!r} is not a column of scalars")
        sids = ids_to_str(raw_ids, f"{path}: column {stimulus_column!r} of {intervals!r}")
        order = np.argsort(onsets, kind="stable")
        onsets, sids = onsets[order], sids[order]
        pres = {}
        for name in table.colnames:
            if name in (stimulus_column, "stimulus_id", "repetition"):
                continue
            values = _column(table, name)
            if values is not None and len(values) == len(order):
                pres[name] = _coord(values[order])

        u = nwbfile.units
        if u is None or len(u) == 0 or "spike_times" not in u.colnames:
            raise ValueError(f"{path} has no units with spike times (nwbfile.units is "
                             f"{'missing' if u is None else 'empty or lacks spike_times'})")
        if neuroid_column is not None:
            if neuroid_column not in u.colnames:
                raise ValueError(f"{path}: units table has no column {neuroid_column!r}; columns: {list(u.colnames)}")
            column = _column(u, neuroid_column)
            if column is None:
                raise ValueError(f"{path}: units column {neuroid_column!r} is not a column of scalars")
            all_ids = ids_to_str(column, f"{path}: units column {neuroid_column!r}")
        else:
            all_ids = ids_to_str(np.asarray(u.id[:]), f"{path}: unit ids")
        if units is None:
            rows = np.arange(len(all_ids))
        else:
            wanted = ids_to_str(np.asarray(list(units)), "units")
            pos = {s: i for i, s in enumerate(all_ids)}
            unknown = [s for s in wanted if s not in pos]
            if unknown:
                raise ValueError(f"{path}: unknown unit id(s) {short_list(unknown)}; the units table has {short_list(all_ids)}")
            rows = np.array([pos[s] for s in wanted], dtype=int)
        ids = all_ids[rows]
        regions, region_source = _regions(nwbfile, u, rows, ids, region, region_column, path)
        spikes_all = _ragged(u, "spike_times")
        spikes = [np.asarray(spikes_all[r], dtype=float) for r in rows]
        _check_recording(u, rows, ids, spikes_all, table, onsets, sids, float(starts[0]), float(ends[-1]), path)
        neur = {}
        for name in u.colnames:
            if name in _SKIP_UNIT_COLUMNS or name in (neuroid_column, region_source, "neuroid_id", "region"):
                continue
            values = _column(u, name)
            if values is not None and len(values) == len(all_ids):
                neur[name] = _coord(values[rows])
        subject = getattr(nwbfile.subject, "subject_id", None) if nwbfile.subject is not None else None
        neur["animal"] = str(subject) if subject else "unknown"
        neur["session"] = str(nwbfile.session_id or nwbfile.identifier)
        # a coord name lives on one dim: an intervals column named like a neuroid or time-bin coord
        # (e.g. "session") would silently lose to it, so it is left out, and said so
        clash = sorted(set(pres) & (set(neur) | {"neuroid_id", "region", "time_bin_start", "time_bin_end"}))
        if clash:
            log.warning("%s: intervals column(s) %s share their name with a neuroid or time-bin coord and are "
                        "left out", path.name, clash)
            pres = {k: v for k, v in pres.items() if k not in clash}
        attrs = {"dataset": "nwb", "source": path.name, "identifier": str(nwbfile.identifier),
                 "intervals": intervals, "response": "spike counts per time bin"}

    values = bin_spike_times(spikes, onsets, starts, ends)
    # every stimulus shown once: no repetitions (raw r, no ceiling), as from_arrays
    rep = occurrence_index(sids) if len(set(sids.tolist())) < len(sids) else None
    da = neural_assembly(values, stimulus_id=sids, repetition=rep, neuroid_id=ids, region=regions,
                         time_bin_start=starts, time_bin_end=ends, presentation_coords=pres,
                         neuroid_coords=neur, attrs=attrs)
    stimuli = None
    if images is not None:
        uniq = list(dict.fromkeys(sids.tolist()))
        stimuli = stimulus_set_for(images, uniq, name=path.stem)
    log.info("%s: %d presentations x %d units x %d bins", path.name, *values.shape)
    return stimuli, da
