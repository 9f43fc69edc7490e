"""Comparisons, leaderboards and the written comparison for data without single trials (raw r, no ceiling)."""

from __future__ import annotations

import numpy as np
import pytest

from brainfit.assembly import neural_assembly
from brainfit.compare import ComparisonSettings, compare_models, leaderboard
from brainfit.mapping import make_splits
from brainfit.scoring import score_predictions

N_STIM, N_SITES = 120, 12


@pytest.fixture(scope="module")
def world():
    """Repeat-averaged responses of 12 sites in one window, and two models' predictions: a good one
    (signal + a little noise) and a worse one (more noise), scored on the same splits."""
    rng = np.random.default_rng(1)
    signal = rng.standard_normal((N_STIM, N_SITES, 1))
    ids = [f"s{i:03d}" for i in range(N_STIM)]
    avg = neural_assembly(signal + 0.5 * rng.standard_normal(signal.shape), stimulus_id=ids,
                          neuroid_id=[f"n{j}" for j in range(N_SITES)], region="V4", time_bin_start=[0.0],
                          time_bin_end=[100.0])
    splits = make_splits(avg, n_folds=4, seed=0)

    def scored(noise, seed):
        pred = avg.copy(data=signal + noise * np.random.default_rng(seed).standard_normal(signal.shape))
        return score_predictions(pred, avg, splits=splits, n_bootstrap=100, keep_predictions=True)

    return {"good": {"V4": scored(0.3, 2)}, "worse": {"V4": scored(1.5, 3)}}


def test_leaderboard_ranks_by_raw_r_and_refuses_ceiled(world):
    board = leaderboard(world, windows={"window": (None, None)}, n_bootstrap=100, metric="r")
    assert list(board["metric"]) == ["r", "r"]
    good = board.set_index("model").loc["good"]
    assert good["rank"] == 1 and good["ci_over"] == "stimuli"
    assert good["score"] == pytest.approx(float(np.median(world["good"]["V4"]["r"].values)))
    assert good["ci_low"] <= good["score"] <= good["ci_high"]
    with pytest.raises(ValueError, match=r"scores\['good'\]\['V4'\] have no ceiling \(data without single trials\), "
                                         r"so their ceiled scores are NaN: rank them by raw r \(metric='r'\)"):
        leaderboard(world, windows={"window": (None, None)}, n_bootstrap=0)


def test_leaderboard_refuses_models_scored_on_other_sites_or_otherwise(world):
    fewer = {"V4": world["worse"]["V4"].isel(neuroid=slice(0, 6))}
    with pytest.raises(ValueError, match=r"in region 'V4', 'good' has 12 neuroid ids and 'fewer' 6, not the same set"):
        leaderboard({"good": world["good"], "fewer": fewer}, windows={"w": (None, None)}, n_bootstrap=0, metric="r")
    given = {"V4": world["worse"]["V4"].assign_attrs(ceiling_source="given")}
    with pytest.raises(ValueError, match=r"'good' has ceiling_source 'none' and 'given' 'given'"):
        leaderboard({"good": world["good"], "given": given}, windows={"w": (None, None)}, n_bootstrap=0, metric="r")


def test_compare_models_on_raw_r(world):
    a, b = world["good"]["V4"], world["worse"]["V4"]
    with pytest.raises(ValueError, match=r"these scores have no ceiling .* compare raw r \(metric='r'\)"):
        compare_models(a, b, ComparisonSettings(n_permutations=100, n_bootstrap=50))
    result = compare_models(a, b, ComparisonSettings(metric="r", n_permutations=500, n_bootstrap=100))
    row = result.per_bin.iloc[0]
    assert row["n"] == N_SITES and row["diff"] > 0.2 and row["ci_low"] > 0 and row["p"] < 0.01
    assert row["diff"] == pytest.approx(float(np.median(a["r"].values) - np.median(b["r"].values)))


def test_write_comparison_says_raw_r_over_all_sites(world, tmp_path):
    from brainfit.report import write_comparison

    written = write_comparison(tmp_path, world, pairs=[("good", "worse")], windows={"window": (None, None)},
                               settings=ComparisonSettings(metric="r", n_permutations=200, n_bootstrap=50),
                               leaderboard_bootstrap=50)
    assert written["summary"].splitlines()[1].startswith("median raw r over all sites (no ceiling: data without single trials)")
    assert "sites (reliability not assessed)" in written["summary"]
    per_bin = (tmp_path / "per_bin_scores.csv").read_text().splitlines()[0].split(",")
    assert {"ci_low_r", "ci_high_r"} <= set(per_bin)
    captions = (tmp_path / "figures" / "captions.json").read_text()
    assert "median raw r over all sites" in captions and "timecourse.png" not in captions  # one window
