"""Per-time-bin predictivity curves (one axes, or one panel per region) with optional rows of
significance markers, and task accuracy against unroll step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from brainfit.plots._base import METRIC_LABELS, _axes, _bin_centres, _check_metric, _pyplot, _region_mask
from brainfit.scoring import median_over

__all__ = ["plot_timecourse", "timecourse_panels", "plot_step_accuracy"]

# significance rows: markers and colours apart from the model curves (matplotlib's default cycle)
_SIG_MARKERS = ("s", "^", "v", "D", "P", "X")
_SIG_COLORS = ("black", "0.45", "darkred", "darkgreen", "indigo", "saddlebrown")
_SIG_STEP = 0.06  # row spacing, as a fraction of the curves' y range


def plot_timecourse(scores: Mapping[str, xr.Dataset], *, region: str | None = None, metric: str = "ceiled",
                    selected: bool = True, layer: str | None = None,
                    significance: Mapping[str, Sequence[bool] | np.ndarray] | None = None, ax: Any = None) -> Any:
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
    significance : mapping ``label -> bool array (time_bin,)``, optional
        Bins where a contrast is significant (e.g. ``"RGC > ff wider, cluster p<0.05"``): each
        label becomes a row of markers below the lowest curve or band of the axes, at the centres
        of its True bins, one row per label (listed in the legend). Needs every Dataset on the
        same bins.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        For an unknown metric, region or layer, a Dataset without the needed variables, or a
        ``significance`` entry that is not one boolean per time bin.
    """
    _check_metric(metric)
    if not scores:
        raise ValueError("scores is empty: pass {label: fit_and_score(...) dataset}")
    centres = {label: _bin_centres(ds, f"scores[{label!r}]") for label, ds in scores.items()}
    if significance:
        first = next(iter(centres.values()))
        differ = [label for label, t in centres.items() if len(t) != len(first) or not np.allclose(t, first)]
        if differ:
            raise ValueError(f"scores {differ} are on other time bins than {next(iter(centres))!r}; significance rows "
                             "need every Dataset on the same bins")
        sig = _significance_arrays(significance, len(first))
    ax = _axes(ax, (5, 3.5))
    # past the 10 colours of matplotlib's default cycle, 20 (else curves share colours)
    tab20 = _pyplot().get_cmap("tab20").colors  # dark shades first, so that neighbours differ in hue
    colors = tab20[0::2] + tab20[1::2] if len(scores) > 10 else None
    for i, (label, ds) in enumerate(scores.items()):
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
            if med_var not in ds:
                raise ValueError(f"scores[{label!r}] has no {med_var!r} (pass the Dataset fit_and_score returns)")
            med = ds[med_var].sel(layer=layer).values if "layer" in ds[med_var].dims else ds[med_var].values
        else:
            keep = _region_mask(ds, region, f"scores[{label!r}]")
            med = median_over(values.values[keep], ds["reliable"].values[keep], axis=0)
        t = centres[label]
        line, = ax.plot(t, med, marker="o", ms=3, label=label,
                        **({"color": colors[i % len(colors)]} if colors is not None else {}))
        ci_var = f"median_{metric}_ci" + ("_selected" if selected else "")
        if region is None and ci_var in ds:
            ci = ds[ci_var]
            if not selected and "layer" in ci.dims:
                ci = ci.sel(layer=layer)
            ax.fill_between(t, ci.sel(bound="low").values, ci.sel(bound="high").values, color=line.get_color(),
                            alpha=0.2, lw=0)
    if significance:
        _significance_rows(ax, sig, next(iter(centres.values())))
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel(METRIC_LABELS[metric])
    if region is not None:
        ax.set_title(region)
    ax.legend(fontsize=8, frameon=False)
    return ax


def _significance_arrays(significance: Mapping[str, Any], n_bins: int) -> dict[str, np.ndarray]:
    """Check ``label -> (n_bins,) bool`` (0/1 integers accepted) and return the bool arrays."""
    if not isinstance(significance, Mapping):
        raise ValueError(f"significance must be a mapping label -> bool array (time_bin,), got "
                         f"{type(significance).__name__}")
    out = {}
    for label, values in significance.items():
        a = np.asarray(values)
        if a.ndim != 1 or len(a) != n_bins:
            raise ValueError(f"significance[{label!r}] has shape {a.shape}, but there are {n_bins} time bins: "
                             "pass one bool per bin")
        if a.dtype != bool:
            if a.dtype.kind not in "iu" or not np.isin(a, (0, 1)).all():
                raise ValueError(f"significance[{label!r}] must hold booleans (True = significant bin), got "
                                 f"dtype {a.dtype}")
            a = a.astype(bool)
        out[str(label)] = a
    return out


def _data_yrange(ax: Any) -> tuple[float, float]:
    """Lowest and highest y of the data-space lines and bands (fill_between) drawn on ``ax``."""
    ys = [np.asarray(line.get_ydata(), float) for line in ax.lines if line.get_transform() is ax.transData]
    ys += [path.vertices[:, 1] for c in ax.collections if c.get_transform() is ax.transData for path in c.get_paths()]
    ys = [y[np.isfinite(y)] for y in ys]
    ys = [y for y in ys if y.size]
    if not ys:
        return 0.0, 1.0
    return float(min(y.min() for y in ys)), float(max(y.max() for y in ys))


def _significance_rows(ax: Any, significance: Mapping[str, np.ndarray], t: np.ndarray) -> None:
    """One row of markers per label, below everything already on the axes, at ``t[mask]``."""
    lo, hi = _data_yrange(ax)
    step = _SIG_STEP * ((hi - lo) if hi > lo else max(abs(hi), 1.0))
    for k, (label, mask) in enumerate(significance.items()):
        ax.plot(t[mask], np.full(int(mask.sum()), lo - step * (k + 1)), ls="none", ms=4,
                marker=_SIG_MARKERS[k % len(_SIG_MARKERS)], color=_SIG_COLORS[k % len(_SIG_COLORS)], label=label)


def timecourse_panels(scores: Mapping[str, Mapping[str, xr.Dataset]], regions: Sequence[str], *,
                      metric: str = "ceiled", selected: bool = False, layer: str | None = None,
                      significance: Mapping[str, Mapping[str, Sequence[bool] | np.ndarray]] | None = None,
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
    significance : mapping ``region -> {label -> bool array (time_bin,)}``, optional
        Rows of significance markers per panel (see :func:`plot_timecourse`). Every label gets
        its row (marker, colour, height) in every panel, empty where that panel does not mark it,
        so that the one legend is right for each panel.

    Returns
    -------
    matplotlib Figure (panels share the y axis; one legend below them).

    Raises
    ------
    ValueError
        For a missing (model, region), a ``significance`` region that is not a panel, or the
        errors of :func:`plot_timecourse`.
    """
    missing = [(label, r) for label, by_region in scores.items() for r in regions if r not in by_region]
    if missing:
        raise ValueError(f"no scores for (model, region) {missing[:3]}")
    significance = significance or {}
    extra = [r for r in significance if r not in regions]
    if extra:
        raise ValueError(f"significance has region(s) {extra} that are not panels; panels: {list(regions)}")
    # every label gets the same row (marker, colour, height) in every panel, empty where it marks
    # nothing, so that the one legend below the panels is right for each of them
    first = next(iter(scores.values()))
    given = {r: _significance_arrays(sig, first[r].sizes["time_bin"]) for r, sig in significance.items()}
    rows = list(dict.fromkeys(label for sig in given.values() for label in sig))
    if rows:
        significance = {r: {label: given.get(r, {}).get(label, np.zeros(first[r].sizes["time_bin"], bool))
                            for label in rows} for r in regions}
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(regions), figsize=(panel_size[0] * len(regions), panel_size[1] + 1.0),
                             sharey=True, layout="constrained")
    handles: dict[str, Any] = {}
    for ax, region in zip(np.atleast_1d(axes), regions):
        plot_timecourse({label: by_region[region] for label, by_region in scores.items()}, metric=metric,
                        selected=selected, layer=layer, significance=significance.get(region), ax=ax)
        ax.set_title(f"{region}: per-time-bin predictivity")
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
        ax.get_legend().remove()
    # one legend for all panels, below them, so that it covers no curve; as many columns as the
    # longest label leaves room for (~14 characters of 8 pt text per inch of figure)
    room = int(fig.get_figwidth() * 14 // (max(map(len, handles), default=1) + 6))
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=max(1, min(3, len(handles), room)), fontsize=8, frameon=False)
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
