"""Shared plumbing of the figures: the lazy pyplot import, new axes, atomic saving, and the checks
every score-Dataset figure makes (metric, region, time bins)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from brainfit._io import atomic_path
from brainfit.assembly import LAYER, NEUROID, REGION, TIME_BIN, TIME_BIN_END, TIME_BIN_START

METRIC_LABELS = {"ceiled": "ceiled score (r² / ceiling)", "r": "Pearson r"}


def _pyplot() -> Any:
    """``matplotlib.pyplot``, selecting the ``Agg`` backend when none has been chosen yet."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    """``ax``, or the axes of a new figure of ``figsize`` (constrained layout: labels and colorbars fit)."""
    if ax is None:
        _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 120, close: bool = True) -> Path:
    """Write ``fig`` atomically (the format follows the suffix of ``path``); closes it by default."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix or ".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format=(path.suffix.lstrip(".") or "png"))
    if close:
        _pyplot().close(fig)
    return path


def _check_metric(metric: str) -> None:
    if metric not in METRIC_LABELS:
        raise ValueError(f"metric must be 'ceiled' or 'r', got {metric!r}")


def _bin_centres(obj: xr.Dataset | xr.DataArray, name: str) -> np.ndarray:
    """(n_bins,) centres in ms of the ``time_bin_start``/``time_bin_end`` coords of ``obj``."""
    missing = [c for c in (TIME_BIN_START, TIME_BIN_END) if c not in obj.coords]
    if missing:
        raise ValueError(f"{name} is missing coord(s) {missing} on {TIME_BIN!r}")
    start = np.asarray(obj.coords[TIME_BIN_START].values, float)
    return (start + np.asarray(obj.coords[TIME_BIN_END].values, float)) / 2


def _region_mask(obj: xr.Dataset | xr.DataArray, region: str | None, name: str) -> np.ndarray:
    """(n_neuroid,) bool: the neuroids of ``region`` (all of them for None)."""
    n = obj.sizes[NEUROID]
    if region is None:
        return np.ones(n, dtype=bool)
    if REGION not in obj.coords:
        raise ValueError(f"{name} has no {REGION!r} coord on {NEUROID!r}; cannot select region {region!r}")
    regions = np.asarray(obj.coords[REGION].values).astype(str)
    if region not in set(regions.tolist()):
        raise ValueError(f"region {region!r} not in {name}; regions: {sorted(set(regions.tolist()))}")
    return regions == region


def _layer_medians(fit: xr.Dataset, region: str | None, metric: str, name: str = "fit") -> tuple[np.ndarray, list[str]]:
    """Median ``metric`` over the region's reliable neuroids: ``(layer x time_bin array, layer names)``."""
    from brainfit.scoring import median_over

    _check_metric(metric)
    if not isinstance(fit, xr.Dataset):
        raise ValueError(f"{name} must be a fit_and_score Dataset, got {type(fit).__name__}")
    for var in (metric, "reliable"):
        if var not in fit:
            raise ValueError(f"{name} has no {var!r} variable (pass the Dataset fit_and_score returns)")
    values = fit[metric]
    want = {NEUROID, TIME_BIN, LAYER}
    if set(values.dims) != want:
        raise ValueError(f"{name}[{metric!r}] must have dims neuroid x time_bin x layer, got {values.dims}")
    keep = _region_mask(fit, region, name)
    v = values.transpose(LAYER, NEUROID, TIME_BIN).values[:, keep]
    mask = fit["reliable"].transpose(NEUROID, TIME_BIN).values[keep].astype(bool)
    med = median_over(v, mask[None], axis=1)
    layers = ([str(x) for x in fit.coords[LAYER].values] if LAYER in fit.coords
              else [str(i) for i in range(values.sizes[LAYER])])
    return med, layers
