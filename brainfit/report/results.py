"""Writing a comparison of models into a results folder: statistics, leaderboard, figures, summary.

:func:`write_comparison` is what ``brainfit compare``, ``brainfit demo`` (and zoo reports) call
on per-region score Datasets; :func:`brainfit.report.write_report` then renders the folder.
Layout (every path relative to the folder)::

    leaderboard.csv, leaderboard.md      model x region x window, with CIs
    per_bin_scores.csv                   per-bin medians and CIs of every model and region
    comparison/per_bin.csv               paired statistics per (model, control, region, bin)
    comparison/clusters.csv              clusters of contiguous bins and their p
    comparison/settings.json             the comparison settings, the windows and the default
                                         windows left out (no time bin in them)
    figures/*.png, figures/captions.json per-timestep curves with significant clusters marked,
                                         leaderboard, layer x bin heatmaps, PSTHs, reliability
    summary.txt                          the printed summary
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainfit._io import atomic_write_json, atomic_write_text
from brainfit.assembly import TIME_BIN
from brainfit.compare import (
    Comparison,
    ComparisonSettings,
    Resamples,
    compare_pairs,
    default_windows,
    leaderboard,
    per_bin_table,
    to_markdown,
)
from brainfit.scoring import DEFAULT_N_BOOTSTRAP, has_ceiling

__all__ = ["summary_lines", "write_comparison"]

log = logging.getLogger(__name__)

#: With more contrasts than this, each gets its own time-course figure.
MAX_MARKED_PAIRS = 3
_BOARD_COLUMNS = ["rank", "label", "region", "window", "metric", "score", "ci_low", "ci_high", "median_r", "n_reliable"]
#: How each metric is named in captions and summaries.
_METRIC_TEXT = {"ceiled": "median ceiled score (r^2 / ceiling) over reliable sites",
                "r": "median raw r over reliable sites",
                "r_no_ceiling": "median raw r over all sites (no ceiling: data without single trials)"}


def _no_ceiling(scores: Mapping[str, Mapping[str, xr.Dataset]]) -> bool:
    return any(not has_ceiling(ds) for by in scores.values() for ds in by.values())


def write_comparison(out: str | Path, scores: Mapping[str, Mapping[str, xr.Dataset]], *,
                     pairs: Sequence[tuple[str, str]], regions: Sequence[str] | None = None,
                     labels: Mapping[str, str] | None = None, fits: Mapping[str, xr.Dataset] | None = None,
                     neural: xr.DataArray | None = None,
                     windows: Mapping[str, tuple[float | None, float | None]] | None = None,
                     settings: ComparisonSettings | None = None, leaderboard_bootstrap: int = DEFAULT_N_BOOTSTRAP,
                     extra_figures: Mapping[str, tuple[Any, str]] | None = None,
                     resamples: Resamples | bool = True) -> dict[str, Any]:
    """Compare ``pairs`` of models and write tables, figures and a summary into ``out``.

    Parameters
    ----------
    out : path
        The results folder (created).
    scores : mapping ``model -> {region -> Dataset}``
        Per-region score Datasets (one readout per neuroid), from the same splits.
    pairs : sequence of ``(model, control)``
        Contrasts ``model - control`` (none: leaderboard, curves and figures only); the bins of each pair's significant clusters are marked
        under the per-timestep curves (one row for "higher", one for "lower").
    regions : sequence of str, optional
        Default: the regions of the first model.
    labels : mapping ``model -> label``, optional
    fits : mapping ``model -> Dataset`` or ``model -> {region -> Dataset}``, optional
        Per-layer :func:`~brainfit.scoring.fit_and_score` outputs (one for all regions, or one per
        region, as a zoo fits them): layer x bin heatmaps.
    neural : DataArray, optional
        The single-trial data: PSTH and reliability figures.
    windows : mapping ``name -> (start_ms, end_ms)``, optional
        Leaderboard windows; each must hold a time bin. Default:
        :data:`~brainfit.compare.DEFAULT_WINDOWS` without those that hold no time bin of the
        scores (:func:`~brainfit.compare.default_windows`; the whole response, ``"all"``, is
        always there); the ones left out are named in the summary, ``comparison/settings.json``
        and the returned ``windows_left_out``.
    settings : ComparisonSettings, optional
    leaderboard_bootstrap : int
        Resamples of the leaderboard CIs.
    extra_figures : mapping ``file name -> (Figure, caption)``, optional
        More figures for the folder (e.g. channel maps over time), saved after the others.
    resamples : Resamples or bool
        ``True`` (default): one :class:`~brainfit.compare.Resamples` for this call, shared by the
        contrasts and the leaderboard, so each model's stimulus resamples are computed once (the
        same tables as without it: its docstring says to which bits); a ``Resamples``: that
        one; ``False``: none, every contrast and leaderboard row resamples its models anew.

    Returns
    -------
    dict with ``leaderboard``, ``per_bin``, ``clusters`` (DataFrames), ``summary`` (str),
    ``figures`` (file names) and ``windows_left_out`` (``name -> (start_ms, end_ms)`` of the
    default windows left out; empty with ``windows`` given).
    """
    from brainfit import plots

    out = Path(out)
    settings = settings or ComparisonSettings()
    labels = {m: (labels or {}).get(m, m) for m in scores}
    regions = list(regions if regions is not None else next(iter(scores.values())))
    for m, by_region in scores.items():
        absent = [r for r in regions if r not in by_region]
        if absent:
            raise ValueError(f"model {m!r} has no scores for region(s) {absent} (it has {sorted(by_region)})")
    sub = {m: {r: by_region[r] for r in regions} for m, by_region in scores.items()}
    if isinstance(resamples, bool):
        resamples = Resamples() if resamples else None
    elif not isinstance(resamples, Resamples):
        raise ValueError(f"resamples must be True, False or a Resamples, got {type(resamples).__name__}")
    if pairs:  # every check happens before anything is written
        comparison = compare_pairs(sub, pairs, regions, settings, resamples=resamples)
    else:  # a leaderboard and curves only (e.g. a zoo without contrasts)
        empty = pd.DataFrame(columns=["model", "control", "region"])
        comparison = Comparison(per_bin=empty, clusters=empty, settings=settings.to_dict())
    left_out: dict[str, tuple[float | None, float | None]] = {}
    if windows is None:
        windows, left_out = default_windows(sub)
    windows = dict(windows)
    metric = settings.metric
    what = _METRIC_TEXT["r_no_ceiling" if metric == "r" and _no_ceiling(sub) else metric]
    board = leaderboard(sub, windows=windows, n_bootstrap=leaderboard_bootstrap, ci=settings.ci, seed=settings.seed,
                        labels=labels, metric=metric, resamples=resamples)
    per_bin = per_bin_table(sub)
    (out / "comparison").mkdir(parents=True, exist_ok=True)
    # what an earlier call into this folder wrote and this one does not (fewer contrasts) must not
    # reappear in the report
    stale = [] if pairs else [out / "comparison" / "per_bin.csv", out / "comparison" / "clusters.csv"]
    for path in [*stale, *(out / "figures").glob("timecourse_contrast_*.png")]:
        path.unlink(missing_ok=True)
    if pairs:
        atomic_write_text(out / "comparison" / "per_bin.csv", comparison.per_bin.to_csv(index=False))
        atomic_write_text(out / "comparison" / "clusters.csv", comparison.clusters.to_csv(index=False))
    atomic_write_json(out / "comparison" / "settings.json",
                      {**comparison.settings, "windows": {k: list(v) for k, v in windows.items()},
                       "windows_left_out": {k: list(v) for k, v in left_out.items()},
                       "pairs": [list(p) for p in pairs], "leaderboard_bootstrap": leaderboard_bootstrap})
    atomic_write_text(out / "leaderboard.csv", board.to_csv(index=False))
    atomic_write_text(out / "leaderboard.md", to_markdown(board, _BOARD_COLUMNS))
    atomic_write_text(out / "per_bin_scores.csv", per_bin.to_csv(index=False))

    figures: dict[str, str] = {}
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    marks: dict[str, dict[str, np.ndarray]] = {r: {} for r in regions}
    pair_marks: list[dict[str, dict[str, np.ndarray]]] = []
    for model, control in pairs:
        pair_marks.append({r: {} for r in regions})
        for r in regions:
            rows = _rows(comparison.per_bin, model, control, r)
            sig = rows["significant_cluster"].to_numpy(bool)
            t = rows["t"].to_numpy(float)
            for name, mask in ((f"{labels[model]} > {labels[control]}", sig & (t > 0)),
                               (f"{labels[model]} < {labels[control]}", sig & (t < 0))):
                if mask.any():  # a row only where there is something to mark
                    marks[r][name] = mask
                    pair_marks[-1][r][name] = mask
    test = (f"sign-flip cluster permutation test over sites, p < {settings.alpha:g}, and the stimulus-bootstrap CI "
            "of the difference excluding 0")
    if any(ds.sizes[TIME_BIN] > 1 for by in sub.values() for ds in by.values()):  # one window: no time course
        # with many contrasts the marker rows of all of them would crowd one figure: each contrast
        # then gets its own figure (its two models and its marks), after the one with every model
        apart = len(pairs) > MAX_MARKED_PAIRS
        fig = plots.timecourse_panels({labels[m]: sub[m] for m in sub}, regions, metric=metric,
                                      significance=None if apart else marks)
        figures["timecourse.png"] = (f"Per-timestep predictivity: {what} per time bin, "
                                     f"{settings.ci:.0%} stimulus-bootstrap bands. " + (
                                         "The contrasts follow, one figure each" if apart else
                                         "Marker rows: bins in clusters where one model is significantly higher or "
                                         f"lower than another ({test})"))
        plots.save_figure(fig, fig_dir / "timecourse.png")
        for k, (model, control) in enumerate(pairs if apart else []):
            fig = plots.timecourse_panels({labels[model]: sub[model], labels[control]: sub[control]}, regions,
                                          metric=metric, significance=pair_marks[k])
            name = f"timecourse_contrast_{k + 1:02d}.png"
            figures[name] = (f"Contrast {k + 1}: {labels[model]} - {labels[control]}, {what} per time bin, "
                             f"{settings.ci:.0%} stimulus-bootstrap bands; marker rows: bins in clusters where the "
                             f"first is significantly higher or lower ({test})")
            plots.save_figure(fig, fig_dir / name)
    plt = plots.pyplot()
    height = 0.45 * len(sub) * len(regions) + 1.6
    if len(sub) <= 6 and max(len(v) for v in labels.values()) <= 24:  # windows side by side
        fig, axes = plt.subplots(1, len(windows), figsize=(4.2 * len(windows), height), squeeze=False,
                                 constrained_layout=True)
    else:  # many models or long labels: windows stacked, each panel the full width (labels never overlap)
        fig, axes = plt.subplots(len(windows), 1, figsize=(9.0, (0.25 * len(sub) * len(regions) + 1.2) * len(windows)),
                                 squeeze=False,
                                 constrained_layout=True)
    for ax, wname in zip(axes.ravel(), windows):
        try:
            plots.plot_leaderboard(board.assign(model=board["label"]), window=wname, ax=ax)
            rows = board[board["window"] == wname]
            ax.set_title(f"{wname} ({_window_text((rows['window_start'].min(), rows['window_end'].max()))})",
                         fontsize=10)
        except ValueError as err:  # e.g. no reliable site in that window
            ax.set_axis_off()
            ax.set_title(f"{wname}: {err}", fontsize=8)
    figures["leaderboard.png"] = (f"Leaderboard: mean over each window's bins of the {what}, "
                                  f"{settings.ci:.0%} CIs")
    plots.save_figure(fig, fig_dir / "leaderboard.png")
    for m, fit in (fits or {}).items():
        by_region = {r: fit for r in regions} if isinstance(fit, xr.Dataset) else fit  # (a Dataset is a Mapping too)
        if any("layer" not in f.dims or f.sizes["layer"] < 2 for f in by_region.values()):
            continue
        fig, axes = plt.subplots(2, len(regions), figsize=(4.8 * len(regions), 6.4), squeeze=False,
                                 constrained_layout=True)
        for k, r in enumerate(regions):
            plots.plot_layer_heatmap(by_region[r], r, metric=metric, ax=axes[0, k])
            plots.plot_selected_layer(by_region[r], r, metric=metric, ax=axes[1, k])
        name = f"layers_{m}.png"
        figures[name] = (f"{labels[m]}: {what} per layer and bin (top) and the best layer per bin "
                         "with the layer chosen on training folds (bottom)")
        plots.save_figure(fig, fig_dir / name)
    if neural is not None:
        # the ceilings the scores were divided by (the first model's score files hold them); none
        # for data without single trials
        first = sub[next(iter(sub))]
        ceiling = xr.concat([first[r]["ceiling"].assign_coords(split_half_r=first[r]["split_half_r"])
                             if "split_half_r" in first[r] else first[r]["ceiling"] for r in regions], dim="neuroid")
        has_ceiling = bool(np.isfinite(ceiling.values).any())
        fig, axes = plt.subplots(1, len(regions) + has_ceiling, figsize=(4.4 * (len(regions) + has_ceiling), 3.4),
                                 squeeze=False, constrained_layout=True)
        by = "category" if "category" in neural.coords else None
        for k, r in enumerate(regions):
            plots.plot_psth(neural, region=r, by=by, ax=axes[0, k])
        if has_ceiling:
            plots.plot_reliability(ceiling=ceiling, regions=regions, ax=axes[0, -1])
        figures["neural.png"] = ("Neural data: mean response per bin per region" + (" and category" if by else "")
                                 + " (SEM band over sites)" + (", and split-half reliability per bin "
                                 "(Spearman-Brown; median and interquartile range over sites)" if has_ceiling else ""))
        plots.save_figure(fig, fig_dir / "neural.png")
    for name, (fig, caption) in (extra_figures or {}).items():
        figures[name] = caption
        plots.save_figure(fig, fig_dir / name)
    # insertion order is the figures' order in the report (atomic_write_json would sort the keys)
    atomic_write_text(fig_dir / "captions.json", json.dumps(figures, indent=2) + "\n")
    summary = summary_lines(per_bin, board, comparison.per_bin, comparison.clusters, labels, regions, settings,
                            no_ceiling=_no_ceiling(sub), windows_left_out=left_out)
    readouts = sorted({ds.attrs.get("readout", "per_bin") for by in sub.values() for ds in by.values()})
    summary = f"readout: {', '.join(_READOUT_TEXT.get(r, r) for r in readouts)}\n" + summary
    atomic_write_text(out / "summary.txt", summary)
    return {"leaderboard": board, "per_bin": comparison.per_bin, "clusters": comparison.clusters,
            "summary": summary, "figures": list(figures), "windows_left_out": left_out}


def _window_text(window: tuple[float | None, float | None]) -> str:
    lo, hi = window
    return f"{'' if lo is None else f'{lo:g}'}-{'' if hi is None else f'{hi:g}'} ms"


def _rows(table: pd.DataFrame, model: str, control: str, region: str) -> pd.DataFrame:
    return table[(table["model"] == model) & (table["control"] == control) & (table["region"] == region)]


_READOUT_TEXT = {"per_bin": "per bin (one ridge map per time bin)",
                 "shared": "shared (one ridge map for every time bin, scored per bin)"}


def summary_lines(per_bin: pd.DataFrame, board: pd.DataFrame, stats: pd.DataFrame, clusters: pd.DataFrame,
                  labels: Mapping[str, str], regions: Sequence[str], settings: ComparisonSettings, *,
                  no_ceiling: bool = False,
                  windows_left_out: Mapping[str, tuple[float | None, float | None]] | None = None) -> str:
    """The plain-text summary: per-bin medians, the leaderboard (and the default windows left out of
    it, ``windows_left_out``) and the contrasts with their clusters."""
    metric = settings.metric
    what = _METRIC_TEXT["r_no_ceiling" if metric == "r" and no_ceiling else metric]
    lines = [f"{what} per time bin"]
    starts = np.unique(per_bin["time_bin_start"].to_numpy())
    width = max(12, *(len(v) for v in labels.values()))
    lines.append(f"  {'bin start (ms)':>{width}s} " + " ".join(f"{s:5.0f}" for s in starts))
    models = list(dict.fromkeys(per_bin["model"]))
    for region in regions:
        lines.append(f"  {region}")
        part = per_bin[per_bin["region"] == region]
        table = part.pivot(index="model", columns="time_bin_start", values=f"median_{metric}").loc[models]
        for name, row in table.iterrows():
            lines.append(f"  {labels[name]:>{width}s} " + " ".join(f"{x:5.2f}" for x in row.to_numpy(float)))
        n_rel = part[part["model"] == models[0]]["n_reliable"].to_numpy()
        sites = "sites (reliability not assessed)" if no_ceiling else "reliable sites"
        lines.append(f"  {sites:>{width}s} " + " ".join(f"{int(x):5d}" for x in n_rel))
    weighted = "weighting" in board and (board["weighting"] == "sites").all()
    lines.append(f"leaderboard (mean over the window's bins{', each weighted by its reliable sites,' if weighted else ''} "
                 f"of the {what}, {settings.ci:.0%} CI)")
    for (region, window), rows in board.groupby(["region", "window"], sort=False):
        rows = rows.sort_values("score", ascending=False)
        lines.append(f"  {region} {window} ({_window_text((rows['window_start'].iloc[0], rows['window_end'].iloc[0]))}): "
                     + "; ".join(f"{r.label} {r.score:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"
                                 for r in rows.itertuples()))
    if windows_left_out:
        lines.append("  leaderboard windows left out (no time bin in them): "
                     + ", ".join(f"{name} ({_window_text(w)})" for name, w in windows_left_out.items()))
    if stats.empty:
        lines.append("paired contrasts: none requested")
        return "\n".join(lines) + "\n"
    lines.append(f"paired contrasts (model - control, {settings.metric}; sign-flip permutation over sites per bin, "
                 f"BH over bins and cluster test over contiguous bins at {settings.alpha:g}; a cluster counts when "
                 "the stimulus-bootstrap CI of its difference excludes 0 too; a cluster is an effect within its "
                 "bins, not an onset)")
    for (model, control, region), rows in stats.groupby(["model", "control", "region"], sort=False):
        tested = rows[np.isfinite(rows["p"])]
        sig = clusters[(clusters["model"] == model) & (clusters["control"] == control)
                       & (clusters["region"] == region) & clusters["significant"].astype(bool)]
        cl = ", ".join(f"an effect within {c.start_ms:g}-{c.end_ms:g} ms ({'+' if c.sign > 0 else '-'}, p={c.p:.3g})"
                       for c in sig.itertuples()) or "none"
        lines.append(f"  {labels[model]} vs {labels[control]}, {region}: median difference "
                     f"{np.nanmedian(rows['diff']) if np.isfinite(rows['diff']).any() else float('nan'):+.3f} over "
                     f"{len(tested)} tested bins; BH-significant bins {int(rows['significant_bh'].sum())}; "
                     f"significant clusters: {cl}")
    return "\n".join(lines) + "\n"
