"""Split-half reliability of single neuroids per time bin, with region summaries.

A thin layer over :func:`brainfit.scoring.split_half_ceiling` (the same random halves over
``(stimulus_id, repetition)``, the same Spearman-Brown correction): this adds the uncorrected
``r`` as a variable and the median and interquartile range over each region's neuroids per bin.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from brainfit.assembly import NEUROID, REGION, REPETITION, TIME_BIN, TIME_BIN_END, TIME_BIN_START, validate_neural
from brainfit.neural._common import region_names
from brainfit.scoring import split_half_ceiling

__all__ = ["split_half_reliability", "region_summary"]

SUMMARY_DIM = "summary_region"


def split_half_reliability(neural: xr.DataArray, *, n_splits: int = 100, seed: int = 0) -> xr.Dataset:
    """Spearman-Brown-corrected split-half reliability per neuroid and bin, and per region.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin) with a ``repetition`` coord
        Single trials (or pseudo-trials).
    n_splits : int
        Random split halves averaged (default 100).
    seed : int

    Returns
    -------
    Dataset with the neural data's neuroid and time-bin coords and variables

    * ``reliability`` (neuroid x time_bin): the Spearman-Brown-corrected split-half reliability
      of the trial-averaged responses (= :func:`~brainfit.scoring.split_half_ceiling`);
    * ``split_half_r`` (neuroid x time_bin): the mean uncorrected r between half-averages;
    * ``median``, ``q25``, ``q75`` (summary_region x time_bin): over each region's neuroids
      (NaNs ignored; ``"all"`` without a ``region`` coord) of ``reliability``.

    attrs: those of the ceiling (``n_splits``, ``seed``, ``spearman_brown_k``, ``n_stimuli``,
    ``convention``).

    Raises
    ------
    ValueError
        Without a ``repetition`` coord, or with fewer than 3 stimuli with >= 2 repetitions.
    """
    if isinstance(neural, xr.DataArray) and REPETITION not in neural.coords:
        raise ValueError(f"neural has no {REPETITION!r} coord: split-half reliability needs single trials "
                         "(pass the assembly before averaging repetitions)")
    neural = validate_neural(neural, name="neural", require_repetitions=True)
    ceiling = split_half_ceiling(neural, n_splits=n_splits, seed=seed).transpose(NEUROID, TIME_BIN)
    ds = xr.Dataset({"reliability": ceiling.drop_vars("split_half_r"),
                     "split_half_r": ((NEUROID, TIME_BIN), ceiling.coords["split_half_r"].values)})
    ds = ds.merge(region_summary(ceiling.drop_vars("split_half_r")))
    ds.attrs.update(ceiling.attrs)
    ds.attrs["analysis"] = "split-half reliability"
    return ds


def region_summary(values: xr.DataArray, regions: list[str | None] | None = None) -> xr.Dataset:
    """Median and interquartile range over each region's neuroids, per time bin (NaNs ignored).

    Parameters
    ----------
    values : DataArray (neuroid x time_bin)
        E.g. a reliability or a ceiling, with a ``region`` coord on ``neuroid`` (all neuroids form
        one group, ``"all"``, without it).
    regions : list of str, optional
        Regions to summarise (default: every region, in order of appearance); an unknown one is a
        ``ValueError`` listing those present.

    Returns
    -------
    Dataset with ``median``, ``q25``, ``q75`` (summary_region x time_bin) and ``n_neuroids``
    (summary_region); each neuroid's region is read off ``values``' own coord.
    """
    if not isinstance(values, xr.DataArray) or set(values.dims) != {NEUROID, TIME_BIN}:
        raise ValueError("values must be a DataArray with dims (neuroid, time_bin)")
    values = values.transpose(NEUROID, TIME_BIN)
    present = region_names(values)
    regions = present if regions is None else list(regions)
    if any(r is not None for r in regions) and REGION not in values.coords:
        raise ValueError(f"values have no {REGION!r} coord on {NEUROID!r}; cannot select regions {regions}")
    unknown = [r for r in regions if r is not None and r not in present]
    if unknown:
        raise ValueError(f"region(s) {unknown} not in the data; regions present: {present}")
    all_regions = np.asarray(values.coords[REGION].values).astype(str) if REGION in values.coords else None
    v = np.asarray(values.values, dtype=np.float64)
    stats = np.full((3, len(regions), v.shape[1]), np.nan)
    counts = []
    for j, r in enumerate(regions):
        part = v if r is None else v[all_regions == r]
        counts.append(len(part))
        with warnings.catch_warnings():  # a bin where every neuroid is NaN stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            stats[:, j] = np.nanpercentile(part, [50, 25, 75], axis=0)
    summary = (SUMMARY_DIM, TIME_BIN)
    coords = {SUMMARY_DIM: ["all" if r is None else r for r in regions]}
    coords.update({c: (TIME_BIN, np.asarray(values.coords[c].values)) for c in (TIME_BIN_START, TIME_BIN_END)
                   if c in values.coords})
    return xr.Dataset({"median": (summary, stats[0]), "q25": (summary, stats[1]), "q75": (summary, stats[2]),
                       "n_neuroids": (SUMMARY_DIM, np.array(counts))}, coords=coords)
