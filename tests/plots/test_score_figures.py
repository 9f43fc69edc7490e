"""Score figures: time courses with significance rows, layer heatmap, selected layer, leaderboard.

Every test inspects the artists (lines, PolyCollection bands, images, errorbar segments, tick
labels) against values computed independently with numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from plot_world import CENTRES, STARTS, score_dataset

from brainfit.plots import (
    plot_layer_heatmap,
    plot_leaderboard,
    plot_selected_layer,
    plot_step_accuracy,
    plot_timecourse,
    timecourse_panels,
)


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def lowest_curve_y(ax, curves):
    ys = [np.asarray(line.get_ydata(), float) for line in curves]
    ys += [p.vertices[:, 1] for c in bands(ax) for p in c.get_paths()]
    return min(float(np.nanmin(y)) for y in ys)


# ----------------------------------------------------------------------------- time courses


def test_timecourse_draws_significance_rows_below_the_curves(fit):
    other = fit.copy()
    other["median_ceiled_selected"] = fit["median_ceiled_selected"] - 0.3
    other["median_ceiled_ci_selected"] = fit["median_ceiled_ci_selected"] - 0.3
    sig = {"A > B, cluster p<0.05": np.array([True, False, True, True]), "B > A": [0, 1, 0, 0]}
    ax = plot_timecourse({"A": fit, "B": other}, significance=sig)
    curves = [line for line in ax.lines if line.get_label() in ("A", "B")]
    rows = {line.get_label(): line for line in ax.lines if line.get_label() in sig}
    assert len(curves) == 2 and len(rows) == 2 and len(bands(ax)) == 2
    assert len(ax.lines) == 5  # 2 curves, 2 significance rows, the zero line
    np.testing.assert_allclose(curves[0].get_ydata(), fit["median_ceiled_selected"].values)
    floor = lowest_curve_y(ax, curves)
    for label, mask in sig.items():
        line = rows[label]
        np.testing.assert_allclose(line.get_xdata(), CENTRES[np.asarray(mask, bool)])
        y = np.asarray(line.get_ydata())
        assert np.all(y == y[0]) and y[0] < floor
    a, b = rows["A > B, cluster p<0.05"], rows["B > A"]
    assert a.get_ydata()[0] > b.get_ydata()[0]  # one row per label, stacked downwards
    assert a.get_marker() != b.get_marker() and a.get_color() != b.get_color()
    assert a.get_linestyle() == "None"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["A", "B", "A > B, cluster p<0.05", "B > A"]


def test_timecourse_significance_with_no_significant_bin_keeps_its_legend_entry(fit):
    ax = plot_timecourse({"A": fit}, significance={"none": np.zeros(4, bool)})
    row = next(line for line in ax.lines if line.get_label() == "none")
    assert len(row.get_xdata()) == 0
    assert "none" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_timecourse_significance_bad_input(fit):
    with pytest.raises(ValueError, match=r"significance\['x'\] has shape \(3,\), but there are 4 time bins"):
        plot_timecourse({"A": fit}, significance={"x": [True, False, True]})
    with pytest.raises(ValueError, match=r"significance\['x'\] must hold booleans .* got dtype float64"):
        plot_timecourse({"A": fit}, significance={"x": [0.01, 0.2, 0.5, 0.03]})
    shorter = fit.isel(time_bin=slice(0, 3))
    with pytest.raises(ValueError, match=r"scores \['B'\] are on other time bins than 'A'"):
        plot_timecourse({"A": fit, "B": shorter}, significance={"x": [True] * 4})
    with pytest.raises(ValueError, match=r"region 'V1' not in scores\['A'\]; regions: \['IT', 'V4'\]"):
        plot_timecourse({"A": fit}, region="V1")
    with pytest.raises(ValueError, match="metric must be 'ceiled' or 'r', got 'r2'"):
        plot_timecourse({"A": fit}, metric="r2")


def test_timecourse_region_median_equals_numpy(fit):
    ax = plot_timecourse({"A": fit}, region="IT", selected=False, layer="good", metric="r")
    keep = fit.region.values == "IT"
    vals = np.where(fit.reliable.values[keep], fit.r.sel(layer="good").values[keep], np.nan)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.nanmedian(vals, axis=0))
    assert bands(ax) == []  # the precomputed CI covers all neuroids, not a region


def test_timecourse_panels_pass_significance_per_region(fit):
    sig = {"IT": {"A > B": [True, True, False, False]}}
    fig = timecourse_panels({"A": {"V4": fit, "IT": fit}}, ["V4", "IT"], selected=True, significance=sig)
    v4, it = fig.axes
    row = next(line for line in it.lines if line.get_label() == "A > B")
    np.testing.assert_allclose(row.get_xdata(), CENTRES[:2])
    # a label marks nothing in a panel without it, but keeps its row there: the one legend below the
    # panels is right for every panel
    empty = next(line for line in v4.lines if line.get_label() == "A > B")
    assert len(empty.get_xdata()) == 0
    sig = {"IT": {"A > B": [True] * 4}, "V4": {"A < B": [True] * 4}}
    fig = timecourse_panels({"A": {"V4": fit, "IT": fit}}, ["V4", "IT"], selected=True, significance=sig)
    style = {(ax_i, line.get_label()): (line.get_marker(), line.get_color()) for ax_i, ax in enumerate(fig.axes)
             for line in ax.lines if line.get_label() in ("A > B", "A < B")}
    assert style[(0, "A > B")] == style[(1, "A > B")] != style[(0, "A < B")] == style[(1, "A < B")]
    with pytest.raises(ValueError, match=r"significance\['x'\] must hold booleans"):
        timecourse_panels({"A": {"V4": fit}}, ["V4"], selected=True, significance={"V4": {"x": [0, 2, 0, 0]}})
    with pytest.raises(ValueError, match=r"significance has region\(s\) \['V1'\] that are not panels"):
        timecourse_panels({"A": {"V4": fit}}, ["V4"], selected=True, significance={"V1": {"x": [True] * 4}})
    with pytest.raises(ValueError, match=r"no scores for \(model, region\)"):
        timecourse_panels({"A": {"V4": fit}}, ["V4", "IT"])


def test_step_accuracy_shades_the_image_on_period():
    ax = plot_step_accuracy({"rgc": [0.1, 0.5, 0.8], "ff": [0.1, 0.4, 0.4]}, on_steps=2, readout_step=1)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [10, 50, 80])
    with pytest.raises(ValueError, match="curves differ in length"):
        plot_step_accuracy({"a": [0.1], "b": [0.1, 0.2]}, on_steps=1)


# ----------------------------------------------------------------------------- layers


def test_layer_heatmap_of_a_real_fit_equals_numpy_medians(fit):
    ax = plot_layer_heatmap(fit, "V4")
    keep = fit.region.values == "V4"
    rel = fit.reliable.values[keep]
    want = np.stack([np.nanmedian(np.where(rel, fit.ceiled.sel(layer=name).values[keep], np.nan), axis=0)
                     for name in fit.layer.values])
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), want)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["noise", "good"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{s:g}" for s in STARTS]
    assert len(ax.figure.axes) == 2  # the heatmap and its colorbar


def test_layer_heatmap_skips_unreliable_and_nan_entries():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((5, 3, 2))
    values[1, 0, 0] = np.nan
    reliable = np.ones((5, 3), bool)
    reliable[0, 2] = False
    reliable[:, 1] = False  # bin 1: no reliable neuroid -> NaN
    ds = score_dataset(values, reliable, ["L2", "L1"], ["IT", "IT", "V4", "IT", "V4"])
    ax = plot_layer_heatmap(ds, "IT", metric="r")
    idx = [0, 1, 3]
    want = np.full((2, 3), np.nan)
    for li in range(2):
        for b in range(3):
            v = [values[n, b, li] / 2 for n in idx if reliable[n, b] and np.isfinite(values[n, b, li])]
            if v:
                want[li, b] = np.median(v)
    got = np.ma.filled(ax.images[0].get_array(), np.nan)
    np.testing.assert_allclose(got, want)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["L2", "L1"]  # the layer coord's order


def test_layer_figures_bad_input(fit):
    with pytest.raises(ValueError, match=r"region 'V1' not in fit; regions: \['IT', 'V4'\]"):
        plot_layer_heatmap(fit, "V1")
    with pytest.raises(ValueError, match="fit has no 'reliable' variable"):
        plot_layer_heatmap(fit.drop_vars("reliable"), "V4")
    with pytest.raises(ValueError, match=r"fit\['ceiled'\] must have dims neuroid x time_bin x layer"):
        plot_layer_heatmap(fit.assign(ceiled=fit.ceiled_selected), "V4")
    with pytest.raises(ValueError, match="metric must be 'ceiled' or 'r', got 'auc'"):
        plot_selected_layer(fit, "V4", metric="auc")
    with pytest.raises(ValueError, match="fit must be a fit_and_score Dataset, got DataArray"):
        plot_selected_layer(fit.ceiled, "V4")
    with pytest.raises(ValueError, match=r"missing coord\(s\) \['time_bin_end'\]"):
        plot_layer_heatmap(fit.drop_vars("time_bin_end"), "V4")


def test_selected_layer_marks_the_best_layer_and_the_training_fold_choice():
    # medians per (bin, layer) over the IT neuroids 0, 1, 2 (neuroid 3 is V4)
    values = np.zeros((4, 3, 3))
    values[:3, 0] = [0.1, 0.5, 0.2]  # bin 0: L1 best
    values[:3, 1] = [0.6, 0.5, 0.2]  # bin 1: L0 best
    values[:3, 2] = [0.1, 0.2, 0.3]  # bin 2: L2 best
    values[3] = 9.0  # a V4 neuroid that would win everything if it were counted
    ds = score_dataset(values, np.ones((4, 3)), ["L0", "L1", "L2"], ["IT", "IT", "IT", "V4"],
                       selected={"IT": ["L1", "L1", "L2"], "V4": ["L0", "L0", "L0"]})
    ax = plot_selected_layer(ds, "IT")
    best = next(line for line in ax.lines if line.get_label().startswith("best"))
    np.testing.assert_allclose(best.get_xdata(), CENTRES[:3])
    np.testing.assert_array_equal(best.get_ydata(), [1, 0, 2])
    chosen = {line.get_label(): line.get_ydata()[0] for line in ax.lines if line.get_label().startswith("chosen")}
    assert chosen == {"chosen on training folds: L1 (2/3 folds)": 1, "chosen on training folds: L2 (1/3 folds)": 2}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["L0", "L1", "L2"]
    # without a selection (or for region None) only the per-bin markers are drawn
    ax2 = plot_selected_layer(ds.drop_vars(["selected_layer", "selection_region"]), "IT")
    assert [line.get_label().startswith("chosen") for line in ax2.lines] == [False]


def test_selected_layer_of_a_real_fit(fit):
    ax = plot_selected_layer(fit, "IT")
    labels = [line.get_label() for line in ax.lines]
    assert "chosen on training folds: good (5/5 folds)" in labels
    best = ax.lines[0]
    keep = fit.region.values == "IT"
    med = np.stack([np.nanmedian(np.where(fit.reliable.values[keep], fit.ceiled.sel(layer=n).values[keep], np.nan),
                                 axis=0) for n in fit.layer.values])
    np.testing.assert_array_equal(best.get_ydata(), np.argmax(med, axis=0))


# ----------------------------------------------------------------------------- leaderboard


def board():
    rows = [("rgc", "IT", "early", 0.50, 0.40, 0.60), ("ff", "IT", "early", 0.30, 0.25, 0.40),
            ("ctrl", "IT", "early", 0.05, -0.05, 0.10), ("rgc", "V4", "early", 0.20, 0.10, 0.30),
            ("ff", "V4", "early", 0.35, 0.30, 0.45), ("ctrl", "V4", "early", 0.00, -0.10, 0.05)]
    return pd.DataFrame(rows, columns=["model", "region", "window", "score", "ci_low", "ci_high"])


def whiskers(container):
    """(x_low, x_high) of every whisker of an errorbar container, in point order."""
    segs = container.lines[2][0].get_segments()
    return np.array([[s[:, 0].min(), s[:, 0].max()] for s in segs])


def test_leaderboard_sorts_models_and_draws_the_cis():
    table = board()
    ax = plot_leaderboard(table, region="IT")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ctrl", "ff", "rgc"]  # ascending from the bottom
    (cont,) = ax.containers
    it = table[table.region == "IT"]
    x, y = cont.lines[0].get_data()
    np.testing.assert_allclose(x, it.score)
    np.testing.assert_allclose(y, [2, 1, 0])  # rgc on top
    np.testing.assert_allclose(whiskers(cont), it[["ci_low", "ci_high"]].to_numpy())
    assert ax.get_legend() is None and ax.get_title() == "IT, early"


def test_leaderboard_offsets_several_regions_with_a_legend():
    table = board()
    ax = plot_leaderboard(table)
    assert len(ax.containers) == 2
    # sorted by the mean over regions: ctrl 0.025, rgc 0.35, ff 0.325
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ctrl", "ff", "rgc"]
    (_, y_it), (_, y_v4) = (c.lines[0].get_data() for c in ax.containers)
    assert np.all(y_it != y_v4) and np.allclose(np.round(y_it), np.round(y_v4))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["IT", "V4"]
    assert ax.containers[0].lines[0].get_color() != ax.containers[1].lines[0].get_color()
    for cont, region in zip(ax.containers, ["IT", "V4"]):
        rows = table[table.region == region]
        np.testing.assert_allclose(whiskers(cont), rows[["ci_low", "ci_high"]].to_numpy())


def test_leaderboard_bad_input():
    table = board()
    with pytest.raises(ValueError, match=r"table is missing column\(s\) \['ci_high'\]"):
        plot_leaderboard(table.drop(columns="ci_high"))
    with pytest.raises(ValueError, match=r"region 'V1' not in table; regions: \['IT', 'V4'\]"):
        plot_leaderboard(table, region="V1")
    with pytest.raises(ValueError, match=r"more than one row per \(model, region, window\)"):
        plot_leaderboard(pd.concat([table, table.iloc[:1]]))
    skewed = table.copy()  # a percentile CI above its score: the whisker is widened to reach the dot
    skewed.loc[0, "ci_low"] = skewed.loc[0, "score"] + 0.01
    ax = plot_leaderboard(skewed.iloc[[0]])
    lo, hi = whiskers(ax.containers[0])[0]
    assert lo == pytest.approx(skewed.loc[0, "score"]) and hi == pytest.approx(skewed.loc[0, "ci_high"])
    nan_score = table.copy()
    nan_score["score"] = np.nan
    with pytest.raises(ValueError, match="no row with a finite score"):
        plot_leaderboard(nan_score)
    with pytest.raises(ValueError, match="table must be a pandas DataFrame"):
        plot_leaderboard(table.to_dict())
