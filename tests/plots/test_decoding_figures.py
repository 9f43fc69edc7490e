"""Decoding figure: accuracy line, null band, chance line, significant-bin markers and onset line."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import PolyCollection

from brainfit.plots import plot_decoding_timecourse

STARTS = np.arange(-20.0, 60.0, 10.0)
CENTRES = STARTS + 5.0


def result(onset=20.0):
    acc = np.array([0.26, 0.24, 0.30, 0.27, 0.8, 0.9, 0.85, 0.4])
    sig = np.array([False, False, False, False, True, True, True, False])
    return xr.Dataset(
        {"accuracy": ("time_bin", acc), "null_low": ("time_bin", np.full(8, 0.18)),
         "null_high": ("time_bin", np.full(8, 0.33)), "significant": ("time_bin", sig)},
        coords={"time_bin_start": ("time_bin", STARTS), "time_bin_end": ("time_bin", STARTS + 10.0)},
        attrs={"chance": 0.25, "onset_ms": onset, "label": "category", "region": "IT"})


def by_label(ax, label):
    (line,) = [ln for ln in ax.lines if ln.get_label() == label]
    return line


def test_lines_band_markers_and_onset():
    res = result()
    ax = plot_decoding_timecourse(res)
    acc = ax.lines[0]
    np.testing.assert_allclose(acc.get_xdata(), CENTRES)
    np.testing.assert_allclose(acc.get_ydata(), res.accuracy.values)
    assert acc.get_label() == "category accuracy"
    chance = by_label(ax, "chance 0.25")
    np.testing.assert_allclose(chance.get_ydata(), [0.25, 0.25])
    sig = by_label(ax, "significant (corrected)")
    np.testing.assert_allclose(sig.get_xdata(), [25.0, 35.0, 45.0])
    onset = by_label(ax, "onset 20 ms")
    np.testing.assert_allclose(onset.get_xdata(), [20.0, 20.0])
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = np.concatenate([p.vertices for p in band.get_paths()])[:, 1]
    assert ys.min() == pytest.approx(0.18) and ys.max() == pytest.approx(0.33)
    assert ax.get_title() == "decoding category from IT"


def test_no_onset_draws_no_onset_line_and_reuses_the_axes():
    import matplotlib.pyplot as plt

    res = result(onset=float("nan"))
    res["significant"][:] = False
    _, ax0 = plt.subplots()
    ax = plot_decoding_timecourse(res, ax=ax0, label="object")
    assert ax is ax0
    assert [ln.get_label() for ln in ax.lines] == ["object", "chance 0.25"]


def test_from_decode_time_resolved():
    from brainfit.assembly import neural_assembly
    from brainfit.neural import decode_time_resolved

    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 20)
    values = rng.standard_normal((60, 6, 5))
    values[:, :, 2:] += 2.0 * rng.standard_normal((3, 6))[y][:, :, None]
    neural = neural_assembly(values, stimulus_id=[f"s{i}" for i in y], repetition=np.tile(np.arange(20), 3),
                             neuroid_id=[f"n{i}" for i in range(6)], time_bin_start=STARTS[:5],
                             time_bin_end=STARTS[:5] + 10, presentation_coords={"category": y.astype(str)})
    res = decode_time_resolved(neural, n_permutations=19)
    assert res.attrs["onset_ms"] == 0.0  # the signal starts in bin [0, 10) ms
    ax = plot_decoding_timecourse(res)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), res.accuracy.values)
    np.testing.assert_allclose(by_label(ax, "onset 0 ms").get_xdata(), [0.0, 0.0])
    np.testing.assert_allclose(by_label(ax, "significant (corrected)").get_xdata(),
                               CENTRES[:5][res.significant.values])


def test_bad_input():
    with pytest.raises(ValueError, match="result must be the Dataset of decode_time_resolved, got DataArray"):
        plot_decoding_timecourse(result().accuracy)
    with pytest.raises(ValueError, match=r"result has no variable\(s\) \['null_low'\]"):
        plot_decoding_timecourse(result().drop_vars("null_low"))
    res = result()
    del res.attrs["chance"]
    with pytest.raises(ValueError, match="result has no 'chance' attr"):
        plot_decoding_timecourse(res)
    with pytest.raises(ValueError, match="result is missing coord"):
        plot_decoding_timecourse(result().drop_vars("time_bin_end"))


def test_corrected_threshold_is_drawn():
    from brainfit.neural import decode_time_resolved
    from brainfit.assembly import neural_assembly
    from brainfit.plots import plot_decoding_timecourse

    rng = np.random.default_rng(0)
    values = rng.standard_normal((40, 6, 3))
    cats = np.repeat(["a", "b"], 20)
    values[cats == "a", :, 2] += 2.0
    neural = neural_assembly(values, stimulus_id=[f"s{i}" for i in range(40)], neuroid_id=[f"n{i}" for i in range(6)],
                             region="IT", time_bin_start=[0, 10, 20], time_bin_end=[10, 20, 30],
                             presentation_coords={"category": cats})
    res = decode_time_resolved(neural, n_folds=4, n_permutations=99)
    ax = plot_decoding_timecourse(res)
    (line,) = [ln for ln in ax.lines if ln.get_label() == "corrected threshold"]
    assert line.get_ydata()[0] == pytest.approx(res.attrs["threshold_corrected"])
    assert bool(res["significant"].values[2]) and res["accuracy"].values[2] > res.attrs["threshold_corrected"]
