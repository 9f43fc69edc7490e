"""The neural side: mean responses over time (PSTH) and split-half reliability per time bin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import NEUROID, REGION, REPETITION, validate_neural
from brainfit.plots._base import _axes, _bin_centres, _region_mask

__all__ = ["plot_psth", "plot_reliability"]


def plot_psth(neural: xr.DataArray | xr.Dataset, *, region: str | None = None, by: str | None = None,
              ax: Any = None) -> Any:
    """Mean response per time bin over presentations and neuroids, SEM over neuroids as a band.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin), or a :func:`brainfit.neural.psth` Dataset
        A neural assembly (single trials or averaged), coords ``time_bin_start``/``time_bin_end``
        and, to select a region, ``region`` on ``neuroid``: its values are averaged as they are
        (``psth(..., per_second=False)``). Or the Dataset that :func:`brainfit.neural.psth`
        returned (e.g. in spikes/s), drawn as it is.
    region : str, optional
        Neuroids of this region (default: all).
    by : str, optional
        A presentation coord (``"category"``, ``"variation"``...): one line per value, each the
        mean over that value's presentations (ignored for a psth Dataset, which is grouped already).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Per line: y = mean over neuroids of each neuroid's mean over presentations, at the bin
        centres (ms); band (fill_between) = that mean +- the SEM over neuroids (no band for a
        single neuroid).

    Raises
    ------
    ValueError
        For an invalid assembly, an unknown region (listing those present) or an unknown ``by``
        coord (listing the presentation coords).
    """
    from brainfit.neural import psth

    if isinstance(neural, xr.Dataset):
        ds = neural
        if "rate" not in ds or "sem" not in ds:
            raise ValueError("a Dataset given to plot_psth must be brainfit.neural.psth's (variables 'rate', 'sem')")
        if region is not None:
            present = [str(r) for r in ds.coords[REGION].values]
            if region not in present:
                raise ValueError(f"region {region!r} not in the psth; regions present: {present}")
            ds = ds.sel({REGION: region})
        elif ds.sizes.get(REGION, 1) > 1:
            raise ValueError(f"the psth has several regions {[str(r) for r in ds.coords[REGION].values]}: give region=")
        else:
            ds = ds.isel({REGION: 0}) if REGION in ds.dims else ds
        group = ds.attrs.get("by", "none")
        units = ds["rate"].attrs.get("units", "as given")
    else:
        if isinstance(neural, xr.DataArray) and NEUROID in neural.dims:
            _region_mask(neural, region, "neural")  # an unknown region is named as in every figure
            if region is None and REGION in neural.coords:  # all neuroids as one group
                neural = neural.drop_vars(REGION)
        ds = psth(neural, by=by, region=region, per_second=False)
        if REGION in ds.dims:
            ds = ds.isel({REGION: 0})
        group = "none" if by is None else by
        units = None
    t = _bin_centres(ds, "psth")
    lines = ([(None, ds)] if group == "none" else
             [(f"{group}={v}", ds.sel({group: v})) for v in ds.coords[group].values])
    ax = _axes(ax, (5, 3.5))
    for label, part in lines:
        mean, sem = part["rate"].values, part["sem"].values
        line, = ax.plot(t, mean, marker="o", ms=3, label=label)
        if np.isfinite(sem).any():
            ax.fill_between(t, mean - sem, mean + sem, color=line.get_color(), alpha=0.2, lw=0)
    n = int(ds["n_neuroids"].values)
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("mean response (band: SEM over neuroids)" if units in (None, "as given")
                  else f"{units} (band: SEM over neuroids)")
    ax.set_title(f"{region if region is not None else 'all neuroids'} (n={n})", fontsize=10)
    if group != "none":
        ax.legend(fontsize=7, frameon=False, loc="best")
    return ax


def plot_reliability(neural: xr.DataArray | None = None, *, regions: Sequence[str] | None = None, n_splits: int = 100,
                     seed: int = 0, corrected: bool = True, ceiling: xr.DataArray | None = None,
                     ax: Any = None) -> Any:
    """Split-half reliability per time bin: median over each region's neuroids, interquartile band.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin), optional
        Single trials (a ``repetition`` coord on ``presentation``); or give ``ceiling``.
    regions : sequence of str, optional
        Regions to draw (default: every region, in order of appearance; all neuroids as one
        group when there is no ``region`` coord).
    n_splits, seed : int
        Passed to :func:`brainfit.scoring.split_half_ceiling`.
    corrected : bool
        Draw the Spearman-Brown-corrected reliability (the noise ceiling, default) or the raw
        split-half ``r`` between half-averages.
    ceiling : DataArray (neuroid x time_bin), optional
        A reliability already computed, e.g. the ``ceiling`` of score Datasets (with its
        ``region`` coord, and ``split_half_r`` for ``corrected=False``): drawn instead of
        computing it from ``neural``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        One line per region (median over neuroids per bin, NaNs ignored) at the bin centres (ms),
        with a band (fill_between) from the 25th to the 75th percentile.

    Raises
    ------
    ValueError
        Without a ``repetition`` coord (single trials are needed), for an unknown region
        (listing those present), or the errors of :func:`~brainfit.scoring.split_half_ceiling`.
    """
    from brainfit.scoring import split_half_ceiling

    if ceiling is not None:
        return _draw_reliability(ceiling, regions, corrected, ax)
    if neural is None:
        raise ValueError("give the single-trial neural data or a precomputed ceiling=")
    if isinstance(neural, xr.DataArray) and REPETITION not in neural.coords:
        raise ValueError(f"neural has no {REPETITION!r} coord: single trials are needed for split-half reliability "
                         "(pass the assembly before averaging repetitions)")
    neural = validate_neural(neural, name="neural", require_repetitions=True)
    if regions is None:
        regions = (list(dict.fromkeys(np.asarray(neural.coords[REGION].values).astype(str).tolist()))
                   if REGION in neural.coords else [None])
    for r in regions or []:  # an unknown region fails before the split halves are computed
        _region_mask(neural, r, "neural")
    ceiling = split_half_ceiling(neural, n_splits=n_splits, seed=seed).transpose(NEUROID, ...)
    return _draw_reliability(ceiling, regions, corrected, ax)


def _draw_reliability(ceiling: xr.DataArray, regions: Sequence[str] | None, corrected: bool, ax: Any) -> Any:
    """Median and interquartile band over each region's neuroids of ``ceiling`` (neuroid x time_bin)."""
    if not isinstance(ceiling, xr.DataArray) or set(ceiling.dims) != {NEUROID, "time_bin"}:
        raise ValueError("ceiling must be a DataArray with dims (neuroid, time_bin)")
    if not corrected and "split_half_r" not in ceiling.coords:
        raise ValueError("corrected=False needs the uncorrected split-half r: ceiling has no 'split_half_r' coord")
    ceiling = ceiling.transpose(NEUROID, "time_bin")
    if regions is None:
        regions = (list(dict.fromkeys(np.asarray(ceiling.coords[REGION].values).astype(str).tolist()))
                   if REGION in ceiling.coords else [None])
    from brainfit.neural import region_summary

    for r in regions:  # an unknown region is named as in every figure
        _region_mask(ceiling, r, "ceiling")
    values = ceiling if corrected else ceiling.copy(data=ceiling.coords["split_half_r"].transpose(NEUROID, ...).values)
    summary = region_summary(values.drop_vars("split_half_r", errors="ignore"), list(regions))
    t = _bin_centres(ceiling, "ceiling")
    ax = _axes(ax, (5, 3.5))
    for j, name in enumerate(summary.coords["summary_region"].values):
        part = summary.isel(summary_region=j)
        line, = ax.plot(t, part["median"].values, marker="o", ms=3, label=f"{name} (n={int(part['n_neuroids'])})")
        ax.fill_between(t, part["q25"].values, part["q75"].values, color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("split-half reliability" + (" (Spearman-Brown)" if corrected else " r (uncorrected)"))
    ax.legend(fontsize=7, frameon=False, loc="best")
    return ax
