"""Split-half reliability of single neuroids per time bin, with region summaries.

A thin layer over :func:`brainfit.scoring.split_half_ceiling` (the same random halves over
``(stimulus_id, repetition)``, the same Spearman-Brown correction): this adds the uncorrected
``r`` as a variable and the median and interquartile range over each region's neuroids per bin.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from brainfit.assembly import NEUROID, REGION, REPETITION, TIME_BIN, validate_neural
from brainfit.neural._common import region_names
from brainfit.scoring import split_half_ceiling

__all__ = ["split_half_reliability"]

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
    rel = ceiling.values
    regions = region_names(neural)
    all_regions = np.asarray(neural.coords[REGION].values).astype(str) if REGION in neural.coords else None
    stats = np.full((3, len(regions), rel.shape[1]), np.nan)
    for j, r in enumerate(regions):
        v = rel if r is None else rel[all_regions == r]
        with warnings.catch_warnings():  # a bin where every neuroid is NaN stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            stats[:, j] = np.nanpercentile(v, [50, 25, 75], axis=0)
    ds = xr.Dataset({"reliability": ceiling.drop_vars("split_half_r"),
                     "split_half_r": ((NEUROID, TIME_BIN), ceiling.coords["split_half_r"].values)})
    summary = ((SUMMARY_DIM, TIME_BIN))
    ds = ds.assign({"median": (summary, stats[0]), "q25": (summary, stats[1]), "q75": (summary, stats[2])})
    ds = ds.assign_coords({SUMMARY_DIM: ["all" if r is None else r for r in regions]})
    ds.attrs.update(ceiling.attrs)
    ds.attrs["analysis"] = "split-half reliability"
    return ds
