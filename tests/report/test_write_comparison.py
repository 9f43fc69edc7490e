"""write_comparison's leaderboard windows (the defaults adapt to the data's bins) and its resample
cache (the same folder with and without it), on score Datasets from score_predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainfit.compare import DEFAULT_WINDOWS, ComparisonSettings, default_windows, leaderboard
from brainfit.mapping import make_splits
from brainfit.report import write_comparison

SETTINGS = ComparisonSettings(n_bootstrap=60, n_permutations=200)


def scored_world(starts, ends, n_stim=80, n_sites=10, seed=0):
    """Single trials on the given bins and three models' predictions (good, middling, poor)."""
    from brainfit.scoring import score_predictions

    rng = np.random.default_rng(seed)
    T = len(starts)
    signal = rng.standard_normal((n_stim, n_sites, T))
    reps = 3
    ids = np.array([f"s{i:03d}" for i in range(n_stim)])
    neural = xr.DataArray(
        (signal[None] + rng.standard_normal((reps, n_stim, n_sites, T))).reshape(reps * n_stim, n_sites, T),
        dims=("presentation", "neuroid", "time_bin"),
        coords={"stimulus_id": ("presentation", np.tile(ids, reps)),
                "repetition": ("presentation", np.repeat(np.arange(reps), n_stim)),
                "neuroid_id": ("neuroid", [f"n{i}" for i in range(n_sites)]), "region": ("neuroid", ["IT"] * n_sites),
                "time_bin_start": ("time_bin", np.asarray(starts, float)),
                "time_bin_end": ("time_bin", np.asarray(ends, float))})
    splits = make_splits(neural.isel(presentation=slice(0, n_stim)).drop_vars("repetition"), n_folds=4, seed=0,
                         stratify=None)
    out = {}
    for name, noise in (("good", 0.3), ("mid", 0.8), ("poor", 2.0)):
        pred = xr.DataArray(signal + noise * rng.standard_normal(signal.shape), dims=neural.dims,
                            coords={"stimulus_id": ("presentation", ids), "neuroid_id": neural.neuroid_id,
                                    "time_bin_start": neural.time_bin_start, "time_bin_end": neural.time_bin_end})
        out[name] = {"IT": score_predictions(pred, neural, splits=splits, keep_predictions=True, n_bootstrap=0)}
    return out


@pytest.fixture(scope="module")
def one_bin():
    return scored_world([0.0], [100.0])


def test_one_bin_data_get_the_whole_response_window_only(one_bin, tmp_path):
    written = write_comparison(tmp_path, one_bin, pairs=[("good", "poor")], settings=SETTINGS,
                               leaderboard_bootstrap=60)
    board = written["leaderboard"]
    assert board["window"].unique().tolist() == ["all"] and len(board) == 3
    assert written["windows_left_out"] == {"early": (70.0, 150.0), "late": (150.0, 260.0)}
    line = "leaderboard windows left out (no time bin in them): early (70-150 ms), late (150-260 ms)"
    assert line in written["summary"] and line in (tmp_path / "summary.txt").read_text()
    settings = json.loads((tmp_path / "comparison" / "settings.json").read_text())
    assert settings["windows"] == {"all": [None, None]}
    assert settings["windows_left_out"] == {"early": [70.0, 150.0], "late": [150.0, 260.0]}
    assert (tmp_path / "figures" / "leaderboard.png").stat().st_size > 0  # a figure with one window
    assert "leaderboard.png" in written["figures"]
    assert pd.read_csv(tmp_path / "leaderboard.csv")["window"].unique().tolist() == ["all"]


def test_given_windows_that_hold_no_bin_are_still_refused(one_bin, tmp_path):
    with pytest.raises(ValueError, match=r"window 'early' = \[70.0, 150.0\] ms holds no time bin \(bins 0-100 ms\)"):
        write_comparison(tmp_path, one_bin, pairs=[("good", "poor")], settings=SETTINGS, leaderboard_bootstrap=0,
                         windows={"early": (70.0, 150.0), "all": (None, None)})
    assert not (tmp_path / "leaderboard.csv").exists()  # refused before anything was written
    with pytest.raises(ValueError, match=r"window 'late' = \[150.0, 260.0\] ms holds no time bin"):
        leaderboard(one_bin, windows={"late": DEFAULT_WINDOWS["late"]}, n_bootstrap=0)
    with pytest.raises(ValueError, match=r"window 'early' = \[70.0, 150.0\] ms holds no time bin"):
        leaderboard(one_bin, windows=DEFAULT_WINDOWS, n_bootstrap=0)  # the defaults given explicitly
    assert leaderboard(one_bin, n_bootstrap=0)["window"].unique().tolist() == ["all"]


def test_default_windows_keep_those_with_bins():
    short = scored_world(np.arange(0.0, 100.0, 10.0), np.arange(10.0, 110.0, 10.0), n_stim=40, n_sites=6)
    kept, left_out = default_windows(short)
    assert kept == {"early": (70.0, 150.0), "all": (None, None)} and left_out == {"late": (150.0, 260.0)}
    assert leaderboard(short, n_bootstrap=0).groupby("window", sort=False)["n_bins"].first().to_dict() == {
        "early": 3, "all": 10}


def test_the_folder_is_the_same_with_and_without_the_cache(tmp_path):
    world = scored_world(70.0 + 10 * np.arange(10), 80.0 + 10 * np.arange(10), n_stim=60, n_sites=12, seed=1)
    pairs = [("good", "mid"), ("good", "poor"), ("mid", "poor")]
    folders = {}
    for flag in (False, True):
        out = tmp_path / str(flag)
        folders[flag] = write_comparison(out, world, pairs=pairs, settings=SETTINGS, leaderboard_bootstrap=60,
                                         resamples=flag)
        assert folders[flag]["windows_left_out"] == {}
    for key in ("leaderboard", "per_bin", "clusters"):
        pd.testing.assert_frame_equal(folders[False][key], folders[True][key], check_exact=True)
    assert folders[False]["summary"] == folders[True]["summary"]
    for name in ("leaderboard.csv", "per_bin_scores.csv", "comparison/per_bin.csv", "comparison/clusters.csv",
                 "comparison/settings.json", "summary.txt"):
        assert (tmp_path / "False" / name).read_bytes() == (tmp_path / "True" / name).read_bytes(), name
    assert set(folders[True]["leaderboard"]["window"]) == {"early", "late", "all"}
    with pytest.raises(ValueError, match="resamples must be True, False or a Resamples"):
        write_comparison(tmp_path / "x", world, pairs=pairs, settings=SETTINGS, resamples="yes")
