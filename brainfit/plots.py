"""Figures. Every function takes ``ax=`` (a new figure when omitted) and returns the axes.

Matplotlib is imported lazily so that the rest of brainfit never needs a display; the ``Agg``
backend is selected only when no backend has been chosen yet.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import REGION, TIME_BIN_END, TIME_BIN_START
from brainfit._io import atomic_path
from brainfit.scoring import median_over

__all__ = ["plot_timecourse", "timecourse_panels", "plot_step_accuracy", "save_figure"]


def _pyplot():
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_timecourse(scores: Mapping[str, xr.Dataset], *, region: str | None = None, metric: str = "ceiled",
                    selected: bool = True, layer: str | None = None, ax: Any = None) -> Any:
    """Per-time-bin predictivity curves (median over reliable neuroids, bootstrap CI band).

    Parameters
    ----------
    scores : mapping ``label -> Dataset``
        Outputs of :func:`brainfit.scoring.fit_and_score` (one per model), on the same bins.
    region : str, optional
        Restrict the median to the neuroids of one region (the CI band is drawn only when the
        dataset's precomputed CI covers exactly these neuroids, i.e. ``region`` is None).
    metric : {"ceiled", "r"}
    selected : bool
        Use the layer chosen on training folds (``*_selected``); otherwise ``layer``.
    layer : str, optional
        With ``selected=False``: which layer's scores to draw.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if metric not in ("ceiled", "r"):
        raise ValueError(f"metric must be 'ceiled' or 'r', got {metric!r}")
    if not scores:
        raise ValueError("scores is empty: pass {label: fit_and_score(...) dataset}")
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(5, 3.5))
    for label, ds in scores.items():
        var = f"{metric}_selected" if selected else metric
        if var not in ds:
            raise ValueError(f"scores[{label!r}] has no {var!r} (fit with several layers and select_layers=True, "
                             "or pass selected=False and a layer)")
        values = ds[var]
        if not selected:
            if "layer" in values.dims:
                if layer is None:
                    raise ValueError(f"scores[{label!r}] has layers {list(ds.layer.values)}: pass layer=")
                values = values.sel(layer=layer)
        if region is None:  # the summary fit_and_score already computed over reliable neuroids
            med_var = f"median_{metric}" + ("_selected" if selected else "")
            med = ds[med_var].sel(layer=layer).values if "layer" in ds[med_var].dims else ds[med_var].values
        else:
            regions = np.asarray(ds.coords[REGION].values).astype(str)
            if region not in set(regions):
                raise ValueError(f"region {region!r} not in scores[{label!r}]; regions: {sorted(set(regions))}")
            keep = regions == region
            med = median_over(values.values[keep], ds["reliable"].values[keep], axis=0)
        t = (ds.coords[TIME_BIN_START].values + ds.coords[TIME_BIN_END].values) / 2.0
        line, = ax.plot(t, med, marker="o", ms=3, label=label)
        ci_var = f"median_{metric}_ci" + ("_selected" if selected else "")
        if region is None and ci_var in ds:
            ci = ds[ci_var]
            if not selected and "layer" in ci.dims:
                ci = ci.sel(layer=layer)
            ax.fill_between(t, ci.sel(bound="low").values, ci.sel(bound="high").values, color=line.get_color(),
                            alpha=0.2, lw=0)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("ceiled score (r² / ceiling)" if metric == "ceiled" else "Pearson r")
    if region is not None:
        ax.set_title(region)
    ax.legend(fontsize=8, frameon=False)
    return ax


def timecourse_panels(scores: Mapping[str, Mapping[str, xr.Dataset]], regions: Sequence[str], *,
                      metric: str = "ceiled", selected: bool = False, layer: str | None = None,
                      panel_size: tuple[float, float] = (5.0, 3.6)) -> Any:
    """One per-time-bin predictivity panel per region, a line (and CI band) per model.

    Parameters
    ----------
    scores : mapping ``label -> {region -> Dataset}``
        Score Datasets per model and region (e.g. the selected layer's predictions scored per
        region with :func:`brainfit.scoring.score_predictions`, which carry the CIs).
    regions : sequence of str
        Panel order.
    metric, selected, layer
        See :func:`plot_timecourse`.

    Returns
    -------
    matplotlib Figure (panels share the y axis).
    """
    missing = [(label, r) for label, by_region in scores.items() for r in regions if r not in by_region]
    if missing:
        raise ValueError(f"no scores for (model, region) {missing[:3]}")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(regions), figsize=(panel_size[0] * len(regions), panel_size[1]), sharey=True)
    for ax, region in zip(np.atleast_1d(axes), regions):
        plot_timecourse({label: by_region[region] for label, by_region in scores.items()}, metric=metric,
                        selected=selected, layer=layer, ax=ax)
        ax.set_title(f"{region}: per-time-bin predictivity")
    fig.tight_layout()
    return fig


def plot_step_accuracy(curves: Mapping[str, Sequence[float] | np.ndarray], *, on_steps: int,
                       readout_step: int | None = None, chance: float | None = 0.1, title: str | None = None,
                       ax: Any = None) -> Any:
    """Task accuracy against unroll step, the image-on period shaded.

    Parameters
    ----------
    curves : mapping ``label -> (T,) accuracies``
        One curve per model or set of weights, all on the same schedule (steps ``0..T-1``).
    on_steps : int
        The image is on for steps ``< on_steps`` (shaded), mean gray after.
    readout_step : int, optional
        First step whose logits depend on the image (dotted line).
    chance : float, optional
        Chance accuracy (dashed line; 0.1 for CIFAR-10).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if not curves:
        raise ValueError("curves is empty: pass {label: per-step accuracies}")
    lengths = {label: len(np.asarray(c)) for label, c in curves.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"curves differ in length: {lengths}")
    n = next(iter(lengths.values()))
    if ax is None:
        fig, ax = _pyplot().subplots(figsize=(5.5, 3.3))
        fig.subplots_adjust(bottom=0.16, right=0.97)
    ax.axvspan(-0.5, on_steps - 0.5, color="0.9", lw=0, label=f"image on (steps 0-{on_steps - 1})")
    for label, c in curves.items():
        ax.plot(np.arange(n), 100.0 * np.asarray(c, dtype=float), marker="o", ms=3, label=label)
    if readout_step is not None:
        ax.axvline(readout_step, color="0.5", ls=":", lw=1, label=f"readout reached (step {readout_step})")
    if chance is not None:
        ax.axhline(100.0 * chance, color="0.6", ls="--", lw=0.8)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(0, 100)
    ax.set_xlabel("time step (~10 ms each)")
    ax.set_ylabel("top-1 accuracy (%)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return ax


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 120, close: bool = True) -> Path:
    """Write ``fig`` atomically (the format follows the suffix of ``path``); closes it by default."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix or ".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format=(path.suffix.lstrip(".") or "png"))
    if close:
        _pyplot().close(fig)
    return path
