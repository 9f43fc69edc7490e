"""Neural figures: PSTH (mean and SEM over neuroids) and split-half reliability per bin."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from plot_world import CENTRES, make_neural

from brainfit.assembly import average_repetitions
from brainfit.plots import plot_psth, plot_reliability
from brainfit.scoring import split_half_ceiling


@pytest.fixture(scope="module")
def neural():
    return make_neural(n_stim=30, n_neur=6, n_reps=4, seed=5)[2]


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def band_edges(band, xs):
    """(lower, upper) y of a fill_between band at each x of ``xs`` (the band's vertices there)."""
    v = np.concatenate([p.vertices for p in band.get_paths()])
    at = [v[np.isclose(v[:, 0], x), 1] for x in xs]
    return np.array([y.min() for y in at]), np.array([y.max() for y in at])


def test_psth_mean_and_sem_over_neuroids(neural):
    ax = plot_psth(neural, region="IT")
    it = neural.values[:, neural.region.values == "IT"]
    per_neuroid = it.mean(axis=0)
    mean = per_neuroid.mean(axis=0)
    sem = per_neuroid.std(axis=0, ddof=1) / np.sqrt(per_neuroid.shape[0])
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_xdata(), CENTRES)
    np.testing.assert_allclose(line.get_ydata(), mean)
    (band,) = bands(ax)
    lo, hi = band_edges(band, CENTRES)
    np.testing.assert_allclose(hi, mean + sem)
    np.testing.assert_allclose(lo, mean - sem)


def test_psth_by_category_draws_one_line_per_value(neural):
    ax = plot_psth(neural, by="category")
    assert len(ax.lines) == 3 and len(bands(ax)) == 3
    cats = neural.category.values
    for line in ax.lines:
        value = line.get_label().split("=", 1)[1]
        want = neural.values[cats == value].mean(axis=0).mean(axis=0)
        np.testing.assert_allclose(line.get_ydata(), want)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["category=c0", "category=c1", "category=c2"]


def test_psth_bad_input(neural):
    with pytest.raises(ValueError, match=r"region 'V1' not in neural; regions: \['IT', 'V4'\]"):
        plot_psth(neural, region="V1")
    with pytest.raises(ValueError, match=r"by 'variation' is not a presentation coord of neural; presentation "
                                         r"coords: \['category', 'repetition', 'stimulus_id'\]"):
        plot_psth(neural, by="variation")
    with pytest.raises(ValueError, match="neural is missing coord 'time_bin_start'"):
        plot_psth(neural.drop_vars("time_bin_start"))


def test_reliability_median_and_interquartile_band_per_region(neural):
    ax = plot_reliability(neural, n_splits=10, seed=1)
    ceiling = split_half_ceiling(neural, n_splits=10, seed=1).values
    assert [line.get_label() for line in ax.lines[:2]] == ["V4 (n=3)", "IT (n=3)"]
    for line, band, region in zip(ax.lines, bands(ax), ["V4", "IT"]):
        v = ceiling[neural.region.values == region]
        np.testing.assert_allclose(line.get_xdata(), CENTRES)
        np.testing.assert_allclose(line.get_ydata(), np.median(v, axis=0))
        lo, hi = band_edges(band, CENTRES)
        np.testing.assert_allclose(lo, np.percentile(v, 25, axis=0))
        np.testing.assert_allclose(hi, np.percentile(v, 75, axis=0))
    ax2 = plot_reliability(neural, regions=["IT"], n_splits=10, seed=1, corrected=False)
    raw = split_half_ceiling(neural, n_splits=10, seed=1).split_half_r.values[neural.region.values == "IT"]
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), np.median(raw, axis=0))
    assert len(bands(ax2)) == 1
    # a precomputed ceiling (as score Datasets carry it) draws the same figure without the trials
    pre = split_half_ceiling(neural, n_splits=10, seed=1)
    ax3 = plot_reliability(ceiling=pre)
    for a, b in zip(ax3.lines[:2], ax.lines[:2]):
        np.testing.assert_allclose(a.get_ydata(), b.get_ydata())
    with pytest.raises(ValueError, match="give the single-trial neural data or a precomputed ceiling="):
        plot_reliability()
    with pytest.raises(ValueError, match="ceiling has no 'split_half_r' coord"):
        plot_reliability(ceiling=pre.drop_vars("split_half_r"), corrected=False)


def test_reliability_needs_single_trials(neural):
    with pytest.raises(ValueError, match="neural has no 'repetition' coord: single trials are needed"):
        plot_reliability(average_repetitions(neural))
    with pytest.raises(ValueError, match=r"region 'V1' not in neural; regions: \['IT', 'V4'\]"):
        plot_reliability(neural, regions=["V1"], n_splits=2)


def test_psth_dataset_is_drawn_as_it_is(neural):
    from brainfit.neural import psth

    rates = psth(neural, by="category")  # spikes/s, per region
    ax = plot_psth(rates, region="IT")
    assert len(ax.lines) == 3 and ax.get_ylabel().startswith("spikes/s")
    for line in ax.lines:
        value = line.get_label().split("=", 1)[1]
        np.testing.assert_allclose(line.get_ydata(), rates["rate"].sel(category=value, region="IT").values)
    with pytest.raises(ValueError, match=r"the psth has several regions \['V4', 'IT'\]: give region="):
        plot_psth(rates)
