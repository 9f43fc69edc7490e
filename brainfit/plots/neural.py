"""The neural side: mean responses over time (PSTH) and split-half reliability per time bin."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import NEUROID, PRESENTATION, REGION, REPETITION, validate_neural
from brainfit.plots._base import _axes, _bin_centres, _region_mask

__all__ = ["plot_psth", "plot_reliability"]


def _presentation_coord(neural: xr.DataArray, by: str) -> np.ndarray:
    coords = [k for k, c in neural.coords.items() if c.dims == (PRESENTATION,)]
    if by not in coords:
        raise ValueError(f"coord {by!r} is not a presentation coord of neural; presentation coords: {sorted(coords)}")
    return np.asarray(neural.coords[by].values)


def plot_psth(neural: xr.DataArray, *, region: str | None = None, by: str | None = None, ax: Any = None) -> Any:
    """Mean response per time bin over presentations and neuroids, SEM over neuroids as a band.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin)
        A neural assembly (single trials or averaged), coords ``time_bin_start``/``time_bin_end``
        and, to select a region, ``region`` on ``neuroid``.
    region : str, optional
        Neuroids of this region (default: all).
    by : str, optional
        A presentation coord (``"category"``, ``"variation"``...): one line per value, each the
        mean over that value's presentations.
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
    neural = validate_neural(neural, name="neural")
    keep = _region_mask(neural, region, "neural")
    groups: list[tuple[str | None, np.ndarray]]
    if by is None:
        groups = [(None, np.ones(neural.sizes[PRESENTATION], dtype=bool))]
    else:
        values = _presentation_coord(neural, by)
        groups = [(f"{by}={v}", values == v) for v in dict.fromkeys(values.tolist())]
    t = _bin_centres(neural, "neural")
    x = neural.values[:, keep].astype(np.float64)  # (presentation, neuroid, time_bin)
    n = int(keep.sum())
    ax = _axes(ax, (5, 3.5))
    for label, rows in groups:
        per_neuroid = x[rows].mean(axis=0)  # (neuroid, time_bin)
        mean = per_neuroid.mean(axis=0)
        line, = ax.plot(t, mean, marker="o", ms=3, label=label)
        if n > 1:
            sem = per_neuroid.std(axis=0, ddof=1) / np.sqrt(n)
            ax.fill_between(t, mean - sem, mean + sem, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("mean response (band: SEM over neuroids)")
    ax.set_title(f"{region if region is not None else 'all neuroids'} (n={n})", fontsize=10)
    if by is not None:
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
    masks = {r: _region_mask(ceiling, r, "ceiling") for r in regions}
    values = ceiling.values if corrected else ceiling.coords["split_half_r"].transpose(NEUROID, ...).values
    t = _bin_centres(ceiling, "ceiling")
    ax = _axes(ax, (5, 3.5))
    for region, keep in masks.items():
        v = values[keep]
        with warnings.catch_warnings():  # a bin where every neuroid is NaN stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(v, axis=0)
            q1, q3 = np.nanpercentile(v, [25, 75], axis=0)
        name = region if region is not None else "all"
        line, = ax.plot(t, med, marker="o", ms=3, label=f"{name} (n={int(keep.sum())})")
        ax.fill_between(t, q1, q3, color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("split-half reliability" + (" (Spearman-Brown)" if corrected else " r (uncorrected)"))
    ax.legend(fontsize=7, frameon=False, loc="best")
    return ax
