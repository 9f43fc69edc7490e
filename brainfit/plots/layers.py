"""Scores per layer and time bin: a layer x bin heatmap, and which layer is best in each bin (and
which one the nested selection chose on training folds)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import TIME_BIN_START
from brainfit.plots._base import METRIC_LABELS, _axes, _bin_centres, _layer_medians

__all__ = ["plot_layer_heatmap", "plot_selected_layer"]


def _where(region: str | None) -> str:
    return region if region is not None else "all neuroids"


def _chosen_layers(fit: xr.Dataset, region: str | None) -> list[str]:
    """The layer chosen on each training fold for ``region`` (empty without a selection for it)."""
    if region is None or "selected_layer" not in fit:
        return []
    sel = fit["selected_layer"]
    if set(sel.dims) != {"fold", "selection_region"} or "selection_region" not in sel.coords:
        raise ValueError("fit['selected_layer'] must have dims fold x selection_region (with that coord), got "
                         f"{sel.dims}")
    if region not in set(np.asarray(sel.coords["selection_region"].values).astype(str).tolist()):
        return []
    return [str(x) for x in sel.sel(selection_region=region).values]


def plot_layer_heatmap(fit: xr.Dataset, region: str | None, *, metric: str = "ceiled", ax: Any = None) -> Any:
    """Median score of every layer in every time bin, as an image with a colorbar.

    Parameters
    ----------
    fit : Dataset
        A :func:`brainfit.scoring.fit_and_score` result: ``metric`` (neuroid x time_bin x layer),
        ``reliable`` (neuroid x time_bin), neuroid coord ``region``, coords ``time_bin_start``,
        ``time_bin_end`` and ``layer``.
    region : str or None
        Neuroids of this region (None: all neuroids).
    metric : {"ceiled", "r"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Its image holds the medians (layer x time_bin): rows in the order of the ``layer``
        coord, columns labelled by bin start (ms); NaN where a bin has no reliable neuroid.

    Raises
    ------
    ValueError
        For an unknown metric or region, or a Dataset without the needed variables/dims/coords.
    """
    med, layers = _layer_medians(fit, region, metric)
    _bin_centres(fit, "fit")  # checks both bin coords
    starts = np.asarray(fit.coords[TIME_BIN_START].values, float)
    ax = _axes(ax, (max(4.0, 0.35 * len(starts) + 2.0), max(2.5, 0.35 * len(layers) + 1.5)))
    im = ax.imshow(med, aspect="auto", origin="upper", interpolation="nearest", cmap="viridis")
    ax.figure.colorbar(im, ax=ax, label=f"median {METRIC_LABELS[metric]}")
    ax.set_yticks(np.arange(len(layers)), layers)
    step = max(1, int(np.ceil(len(starts) / 12)))  # at most ~12 tick labels
    ticks = np.arange(0, len(starts), step)
    ax.set_xticks(ticks, [f"{s:g}" for s in starts[ticks]])
    ax.set_xlabel("time bin start (ms after stimulus onset)")
    ax.set_ylabel("layer")
    ax.set_title(f"{_where(region)}: median over reliable neuroids", fontsize=10)
    return ax


def plot_selected_layer(fit: xr.Dataset, region: str | None, *, metric: str = "ceiled", ax: Any = None) -> Any:
    """The best layer in every time bin, and the layer(s) the nested selection chose on training folds.

    Parameters
    ----------
    fit : Dataset
        A :func:`brainfit.scoring.fit_and_score` result (see :func:`plot_layer_heatmap`); when it
        holds ``selected_layer`` (fold x selection_region), the choice for ``region`` is drawn too.
    region : str or None
        Neuroids of this region (None: all neuroids; no training-fold choice is drawn then).
    metric : {"ceiled", "r"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Markers at (bin centre ms, index of the layer with the highest held-out median over the
        region's reliable neuroids; none where every layer is NaN or the best ones tie), and per layer chosen on
        training folds a horizontal line labelled with its fraction of folds. The y axis lists
        the layers in the order of the ``layer`` coord.

    Raises
    ------
    ValueError
        As :func:`plot_layer_heatmap`.
    """
    med, layers = _layer_medians(fit, region, metric)
    t = _bin_centres(fit, "fit")
    ax = _axes(ax, (5.5, max(2.5, 0.35 * len(layers) + 1.5)))
    finite = np.where(np.isfinite(med), med, -np.inf)
    best = np.argmax(finite, axis=0)
    # a bin where every layer ties (e.g. all score 0 on a blank screen) has no best layer
    ties = (finite == finite[best, np.arange(finite.shape[1])][None, :]).sum(axis=0) > 1
    has = np.isfinite(med).any(axis=0) & ~ties
    ax.plot(t[has], best[has], ls="none", marker="o", ms=6, color="tab:blue",
            label=f"best held-out median {metric} per bin")
    chosen = _chosen_layers(fit, region)
    if chosen:
        unknown = sorted(set(chosen) - set(layers))
        if unknown:
            raise ValueError(f"fit['selected_layer'] names layer(s) {unknown} that are not in the layer coord {layers}")
        for name, count in Counter(chosen).most_common():
            frac = count / len(chosen)
            ax.axhline(layers.index(name), color="tab:orange", alpha=0.35 + 0.4 * frac, lw=2 + 8 * frac, zorder=0,
                       label=f"chosen on training folds: {name} ({count}/{len(chosen)} folds)")
    ax.set_yticks(np.arange(len(layers)), layers)
    ax.set_ylim(len(layers) - 0.5, -0.5)  # first layer on top, as in the heatmap
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("layer")
    ax.set_title(f"{_where(region)}: best layer per bin", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return ax
