"""Peri-stimulus time histograms: mean firing rate per group of presentations, region and time bin."""

from __future__ import annotations

import numpy as np
import xarray as xr

from brainfit.assembly import (
    NEUROID, PRESENTATION, REGION, TIME_BIN, TIME_BIN_END, TIME_BIN_START, validate_neural,
)
from brainfit.neural._common import presentation_coord, region_names, restrict_region

__all__ = ["psth"]


def psth(neural: xr.DataArray, *, by: str | None = "category", region: str | None = None,
         per_second: bool = True) -> xr.Dataset:
    """Mean firing rate (spikes/s) per group of trials, region and time bin, with its SEM over neuroids.

    With ``per_second`` (default) the values are read as spike counts per bin and turned into
    rates by dividing by the bin width in seconds: ``rate = count / ((time_bin_end -
    time_bin_start) / 1000)``. Data that are already rates (or any other response measure) need
    ``per_second=False``: the values are averaged as they are (``rate`` attr ``units="as given"``).

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin) of spike counts
        Single trials or averages; ``region`` coord on ``neuroid`` (all neuroids form one group
        named ``"all"`` without it).
    by : str or None
        Presentation coord whose values group the trials (``"category"``, ``"position"``,
        ``"stimulus_id"``...); None: one group of all trials (no group dim).
    region : str, optional
        Only this region (default: every region, in order of appearance).

    Returns
    -------
    Dataset with dims ``(by, "region", "time_bin")`` (``("region", "time_bin")`` for
    ``by=None``), coords ``time_bin_start``/``time_bin_end``, and variables

    * ``rate``: mean over the group's trials and the region's neuroids (spikes/s);
    * ``sem``: standard error of that mean *over neuroids*: the SD (ddof=1) across neuroids of
      each neuroid's trial-averaged rate, divided by sqrt(n_neuroids); trial-to-trial variability
      enters only through those averages. NaN for a single neuroid;
    * ``n_neuroids`` (region) and, with ``by``, ``n_trials`` (by).

    Raises
    ------
    ValueError
        For an invalid assembly, an unknown ``by`` coord (listing the presentation coords) or an
        unknown region (listing those present).
    """
    neural = validate_neural(neural, name="neural")
    groups = presentation_coord(neural, by, "by") if by is not None else None
    regions = [region] if region is not None else region_names(neural)
    for r in regions:
        restrict_region(neural, r)  # an unknown region fails here, naming those present
    width_s = (np.asarray(neural.coords[TIME_BIN_END].values, float)
               - np.asarray(neural.coords[TIME_BIN_START].values, float)) / 1000.0
    values = np.asarray(neural.values, dtype=np.float64)  # (presentation, neuroid, bin)
    if per_second:
        values = values / width_s  # counts -> spikes/s
    if groups is None:
        names, rows = ["all"], [np.ones(neural.sizes[PRESENTATION], dtype=bool)]
    else:
        names = list(dict.fromkeys(groups.tolist()))
        rows = [groups == g for g in names]
    all_regions = (np.asarray(neural.coords[REGION].values).astype(str) if REGION in neural.coords else None)
    rate = np.empty((len(names), len(regions), neural.sizes[TIME_BIN]))
    sem = np.full_like(rate, np.nan)
    n_neur = []
    for j, r in enumerate(regions):
        keep = np.ones(neural.sizes[NEUROID], dtype=bool) if r is None else all_regions == r
        n_neur.append(int(keep.sum()))
        for i, sel in enumerate(rows):
            per_neuroid = values[sel][:, keep].mean(axis=0)  # (neuroid, bin): each neuroid's mean over trials
            rate[i, j] = per_neuroid.mean(axis=0)
            if keep.sum() > 1:
                sem[i, j] = per_neuroid.std(axis=0, ddof=1) / np.sqrt(keep.sum())
    dims = ("group" if by is None else by, REGION, TIME_BIN)
    coords = {dims[0]: names, REGION: ["all" if r is None else r for r in regions],
              TIME_BIN_START: (TIME_BIN, neural.coords[TIME_BIN_START].values.astype(float)),
              TIME_BIN_END: (TIME_BIN, neural.coords[TIME_BIN_END].values.astype(float))}
    ds = xr.Dataset({"rate": (dims, rate), "sem": (dims, sem), "n_neuroids": (REGION, np.array(n_neur))},
                    coords=coords)
    if by is None:
        ds = ds.squeeze("group", drop=True)
    else:
        ds["n_trials"] = (by, np.array([int(s.sum()) for s in rows]))
    ds["rate"].attrs["units"] = ds["sem"].attrs["units"] = "spikes/s" if per_second else "as given"
    ds.attrs.update(analysis="psth", by="none" if by is None else by,
                    sem="over neuroids, of each neuroid's trial-averaged rate (ddof=1)",
                    rate=("spike count per bin / bin width in s" if per_second else "the values as given")
                    + ", averaged over trials and neuroids")
    return ds
