"""Score results: the arrays behind a score Dataset, the Dataset itself, its settings attrs, and I/O.

A score Dataset holds ``r``/``ceiled`` per neuroid and time bin (and layer), the ceiling, the
reliability flags, summaries over reliable neuroids per bin with bootstrap CIs, and in ``attrs``
every setting needed to reproduce it: the :class:`ScoringConfig` fields as flat keys (read back
with :meth:`ScoringConfig.from_attrs`), the ceiling convention, the brainfit version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from brainfit._io import read_netcdf_attrs, write_netcdf
from brainfit.assembly import NEUROID, PRESENTATION, TIME_BIN
from brainfit.scoring.bootstrap import _bootstrap, median_over
from brainfit.scoring.ceiling import CEILING_CONVENTION, ceiled_score
from brainfit.scoring.config import ScoringConfig
from brainfit.scoring.correlation import (
    _coords_without,
    pearson_r,
    standardize_within_folds,
)

__all__ = ["load_scores", "save_scores"]

#: Score arrays with a leading layer axis (split into per-layer and selected-layer parts).
_PER_LAYER = {"r", "ceiled", "median_r", "median_ceiled", "median_r_unreliable", "median_r_ci", "median_ceiled_ci"}


def save_scores(scores: xr.Dataset, path: Any) -> Any:
    """Write a score Dataset (:func:`fit_and_score`, :func:`score_predictions`) to netCDF,
    atomically, with its settings attrs; read it back with :func:`load_scores`.

    Parameters
    ----------
    scores : Dataset
    path : str or path-like

    Returns
    -------
    Path of the written file.
    """
    # stored predictions and responses (what comparisons resample) in single precision: half the
    # disk, and r changes by ~1e-7
    cast = {v: scores[v].astype(np.float32) for v in ("prediction", "response", "prediction_selected")
            if v in scores.data_vars and scores[v].dtype == np.float64}
    return write_netcdf(scores.assign(cast) if cast else scores, path)


def load_scores(path: Any) -> xr.Dataset:
    """Read scores written by :func:`save_scores` (into memory; attrs restored, so
    ``ScoringConfig.from_attrs(ds.attrs)`` gives the settings back).

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        When ``path`` does not exist or is a directory.
    ValueError
        Naming the file, when it cannot be read as netCDF (truncated, or another format) or is a
        netCDF file without the score variable ``r`` (not a brainfit score file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"score file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a score file")
    try:
        ds = xr.load_dataset(path, engine="h5netcdf")
        ds = read_netcdf_attrs(ds)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        # h5py reports truncation and foreign formats as OSError; broken attrs as ValueError
        raise ValueError(f"cannot read scores from {path}: the file is truncated, damaged or not a brainfit "
                         f"score file ({type(err).__name__}: {err})") from err
    if "r" not in ds.data_vars:
        raise ValueError(f"{path} is a netCDF file but not a brainfit score file: it has no 'r' variable "
                         f"(variables: {sorted(map(str, ds.data_vars))[:10]})")
    return ds


def _settings(config: ScoringConfig, *, r_within_folds: bool) -> dict[str, Any]:
    """The settings attrs of every score Dataset: convention, version, the config's fields, and
    ``r_within_folds`` (whether ``r`` was computed within test folds: ``r_over="folds"`` and the
    folds known; ``r_over`` alone is what was asked)."""
    from brainfit import __version__

    return {"convention": CEILING_CONVENTION, "brainfit_version": __version__, **config.to_dict(),
            "r_within_folds": r_within_folds}


def _score_arrays(pred: np.ndarray, y: np.ndarray, ceiling: np.ndarray, ceil_info: dict[str, Any] | None,
                  config: ScoringConfig, fold_of: np.ndarray | None = None, *,
                  ceiling_absent: bool = False) -> dict[str, np.ndarray]:
    """All score arrays for predictions ``pred`` (L, n, N, T) against averaged ``y`` (n, N, T),
    standardised within test folds when ``fold_of`` (n,) is given (package docstring); the caller
    passes ``None`` for ``r_over="pooled"`` (and checks the fold sizes for ``"folds"``).

    Returns ``r``, ``ceiled`` (L, N, T), ``reliable`` (N, T), the medians (L, T), the counts
    (T,) and, with ``config.n_bootstrap > 0``, the CIs (L, T, 2). With ``ceiling_absent`` (data
    without single trials and no given ceiling; ``ceiling`` all NaN) reliability is not assessed:
    every neuroid-bin counts as reliable for the medians of ``r``, and the ceiled values stay NaN.
    """
    reliability_threshold, n_bootstrap, seed, ci = (config.reliability_threshold, config.n_bootstrap, config.seed,
                                                    config.ci)
    pred = standardize_within_folds(pred, fold_of, axis=1)
    y = standardize_within_folds(y, fold_of, axis=0)
    r = np.stack([pearson_r(p, y, axis=0) for p in pred])  # (L, N, T)
    ceiled = ceiled_score(r, ceiling[None])
    if ceiling_absent:
        reliable = np.ones(ceiling.shape, dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            reliable = np.nan_to_num(ceiling, nan=-np.inf) >= reliability_threshold  # (N, T)
    out = {
        "r": r, "ceiled": ceiled, "reliable": reliable,
        "median_r": median_over(r, reliable[None], axis=1),
        "median_ceiled": median_over(ceiled, reliable[None], axis=1),
        "median_r_unreliable": median_over(r, ~reliable[None], axis=1),
        "n_reliable": reliable.sum(axis=0), "n_unreliable": (~reliable).sum(axis=0),
    }
    if n_bootstrap > 0:
        boot = _bootstrap(pred, y, ceil_info, ceiling, reliable, n_bootstrap, seed, ci)
        out["median_r_ci"] = np.moveaxis(boot["r"], 0, -1)  # (L, T, 2)
        out["median_ceiled_ci"] = np.moveaxis(boot["ceiled"], 0, -1)
    return out


def _build_dataset(avg: xr.DataArray, arrays: dict[str, np.ndarray], ceil: np.ndarray, info: dict[str, Any] | None,
                   layer_dim: str | None, extra_coords: dict[str, Any], suffix: str = "") -> xr.Dataset:
    """Score Dataset from :func:`_score_arrays` output, with ``avg``'s neuroid and bin coords.

    ``layer_dim`` names the leading axis of the per-layer arrays (None: a single layer, dropped).
    With a ``suffix`` (e.g. ``"_selected"``) only the per-layer variables are built, suffixed.
    """
    coords = _coords_without(avg, PRESENTATION)
    ld = layer_dim

    def per_layer(a: np.ndarray, dims: tuple[str, ...]) -> xr.DataArray:
        if ld is None:
            return xr.DataArray(a[0], dims=dims)
        return xr.DataArray(np.moveaxis(a, 0, -1) if a.ndim == len(dims) + 1 else a, dims=dims + (ld,))
    data = {
        "r" + suffix: per_layer(arrays["r"], (NEUROID, TIME_BIN)),
        "ceiled" + suffix: per_layer(arrays["ceiled"], (NEUROID, TIME_BIN)),
        "median_r" + suffix: per_layer(arrays["median_r"], (TIME_BIN,)),
        "median_ceiled" + suffix: per_layer(arrays["median_ceiled"], (TIME_BIN,)),
        "median_r_unreliable" + suffix: per_layer(arrays["median_r_unreliable"], (TIME_BIN,)),
    }
    if "median_ceiled_ci" in arrays:
        for name in ("median_r_ci", "median_ceiled_ci"):
            a = arrays[name]  # (L, T, 2)
            data[name + suffix] = (xr.DataArray(a[0], dims=(TIME_BIN, "bound")) if ld is None
                                   else xr.DataArray(np.moveaxis(a, 0, 1), dims=(TIME_BIN, ld, "bound")))
    if not suffix:
        data["ceiling"] = xr.DataArray(ceil, dims=(NEUROID, TIME_BIN))
        data["reliable"] = xr.DataArray(arrays["reliable"], dims=(NEUROID, TIME_BIN))
        data["n_reliable"] = xr.DataArray(arrays["n_reliable"], dims=(TIME_BIN,))
        data["n_unreliable"] = xr.DataArray(arrays["n_unreliable"], dims=(TIME_BIN,))
        if info is not None:
            data["split_half_r"] = xr.DataArray(info["split_half_r"], dims=(NEUROID, TIME_BIN))
    ds = xr.Dataset(data, coords=coords)
    if "median_ceiled_ci" + suffix in ds:
        ds = ds.assign_coords(bound=["low", "high"])
    for k, v in extra_coords.items():
        ds = ds.assign_coords({k: v})
    return ds
