"""Paired contrasts, resampling and tables (brainfit.compare) on score Datasets built here, plus
score_predictions' stored predictions that the stimulus bootstrap resamples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainfit.compare import (
    ComparisonSettings,
    check_paired,
    compare_models,
    compare_pairs,
    fdr_bh,
    leaderboard,
    per_bin_table,
    resampled_medians,
    stimulus_weights,
    to_markdown,
)
from brainfit.mapping import make_splits
from brainfit.scoring import pearson_r, score_predictions


def _scores(values, reliable=None, fingerprint="f0", ids=None, starts=None):
    values = np.asarray(values, dtype=float)
    n, t = values.shape
    starts = np.arange(t) * 10.0 + 70 if starts is None else np.asarray(starts, float)
    ids = [f"n{i}" for i in range(n)] if ids is None else ids
    reliable = np.ones((n, t), bool) if reliable is None else reliable
    med = np.nanmedian(np.where(reliable, values, np.nan), axis=0)
    return xr.Dataset(
        {"ceiled": (("neuroid", "time_bin"), values), "r": (("neuroid", "time_bin"), np.sqrt(np.abs(values))),
         "reliable": (("neuroid", "time_bin"), reliable),
         "median_ceiled": ("time_bin", med), "median_r": ("time_bin", med / 2),
         "median_ceiled_ci": (("time_bin", "bound"), np.stack([med - 0.1, med + 0.1], axis=1)),
         "n_reliable": ("time_bin", reliable.sum(0))},
        coords={"neuroid_id": ("neuroid", ids), "time_bin_start": ("time_bin", starts),
                "time_bin_end": ("time_bin", starts + 10), "bound": ["low", "high"]},
        attrs={"splits": {"fingerprint": fingerprint}})


def _bh_brute_force(p):
    """Benjamini-Hochberg by its definition: adj_i = min over j with p_j >= p_i of p_j * m / rank_j."""
    m = len(p)
    ranks = np.argsort(np.argsort(p)) + 1
    return np.array([min(1.0, min(p[j] * m / ranks[j] for j in range(m) if p[j] >= p[i])) for i in range(m)])


def test_fdr_bh_matches_the_definition_and_keeps_nans_out():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 17)
    np.testing.assert_allclose(fdr_bh(p), _bh_brute_force(p), rtol=1e-12)
    with_nan = np.concatenate([p[:5], [np.nan], p[5:]])
    out = fdr_bh(with_nan)
    assert np.isnan(out[5])
    np.testing.assert_allclose(np.delete(out, 5), _bh_brute_force(p), rtol=1e-12)
    assert np.isnan(fdr_bh([np.nan, np.nan])).all()


def test_compare_models_effect_sizes_and_neuroid_ci():
    rng = np.random.default_rng(1)
    a = rng.normal(0.3, 0.1, (40, 6))
    shift = np.array([0.1, 0.0, -0.05, 0.2, 0.2, 0.0])
    b = a - shift + rng.normal(0, 0.05, (40, 6))
    reliable = np.ones((40, 6), bool)
    reliable[:10, 3] = False
    c = compare_models(_scores(a, reliable), _scores(b, reliable), n_permutations=500, n_bootstrap=300)
    pb = c.per_bin
    assert list(pb["time_bin_start"]) == [70, 80, 90, 100, 110, 120] and list(pb["n"]) == [40, 40, 40, 30, 40, 40]
    d = a - b
    for t in range(6):
        keep = reliable[:, t]
        assert pb["median_paired_diff"][t] == pytest.approx(np.median(d[keep, t]))
        assert pb["frac_higher"][t] == pytest.approx(np.mean(d[keep, t] > 0))
        assert pb["dz"][t] == pytest.approx(d[keep, t].mean() / d[keep, t].std(ddof=1))
        assert pb["diff"][t] == pytest.approx(np.median(a[keep, t]) - np.median(b[keep, t]))
        assert pb["ci_low_neuroids"][t] <= pb["diff"][t] + 0.02 and pb["ci_high_neuroids"][t] >= pb["diff"][t] - 0.02
    assert pb["ci_low"].isna().all()  # no stored predictions: no stimulus bootstrap
    assert pb.loc[[0, 3, 4], "significant_bh"].all() and not pb.loc[[1, 5], "significant_bh"].any()
    assert pb["p_bh"].tolist() == pytest.approx(fdr_bh(pb["p"]).tolist())
    assert pb.loc[3:4, "significant_cluster"].all() and len(c.clusters) >= 2
    assert c.settings["n_permutations"] == 500 and not c.settings["ci_over_stimuli"]


def test_pairing_is_refused_with_the_reason():
    a = _scores(np.zeros((6, 3)))
    with pytest.raises(ValueError, match="same splits"):
        check_paired(a, _scores(np.zeros((6, 3)), fingerprint="other"))
    with pytest.raises(ValueError, match="same neuroids in the same order.*only in a: \\['n5'\\]"):
        check_paired(a, _scores(np.zeros((6, 3)), ids=[f"n{i}" for i in range(5)] + ["x"]))
    with pytest.raises(ValueError, match="same time bins"):
        check_paired(a, _scores(np.zeros((6, 3)), starts=[0, 10, 20]))
    layered = a.assign(ceiled=a["ceiled"].expand_dims(layer=["c1", "c2"]))
    with pytest.raises(ValueError, match="one readout per neuroid.*select one layer"):
        check_paired(layered, a)
    with pytest.raises(ValueError, match="missing variable"):
        check_paired(a.drop_vars("reliable"), a)
    with pytest.raises(ValueError, match="different noise ceilings"):
        check_paired(a.assign(ceiling=(("neuroid", "time_bin"), np.full((6, 3), 0.5))),
                     a.assign(ceiling=(("neuroid", "time_bin"), np.full((6, 3), 0.6))))
    with pytest.raises(ValueError, match="different settings: r_within_folds True vs False"):
        b = a.copy()
        b.attrs = {**a.attrs, "r_within_folds": False}
        check_paired(a.assign_attrs(r_within_folds=True), b)
    with pytest.raises(ValueError, match="invalid comparison settings: metric"):
        compare_models(a, a, metric="r2")
    with pytest.raises(ValueError, match="n_permutations must be"):
        ComparisonSettings(n_permutations=0)
    with pytest.raises(ValueError, match="cannot compare model 'm' with itself"):
        compare_pairs({"m": {"IT": a}}, [("m", "m")])
    with pytest.raises(ValueError, match="has no scores for region 'V4'"):
        compare_pairs({"m": {"IT": a}, "c": {"IT": a}}, [("m", "c")], regions=["V4"])


def _world(n=120, N=12, T=5, seed=0):
    """Neural trials and two models' out-of-fold predictions, scored with score_predictions."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 1, (n, N, T))
    reps = 4
    trials = signal[None] + rng.normal(0, 1.0, (reps, n, N, T))
    ids = np.array([f"s{i:03d}" for i in range(n)])
    neural = xr.DataArray(
        trials.reshape(reps * n, N, T), dims=("presentation", "neuroid", "time_bin"),
        coords={"stimulus_id": ("presentation", np.tile(ids, reps)),
                "repetition": ("presentation", np.repeat(np.arange(reps), n)),
                "neuroid_id": ("neuroid", [f"n{i}" for i in range(N)]), "region": ("neuroid", ["IT"] * N),
                "time_bin_start": ("time_bin", 70.0 + 10 * np.arange(T)),
                "time_bin_end": ("time_bin", 80.0 + 10 * np.arange(T))})
    splits = make_splits(neural.isel(presentation=slice(0, n)).drop_vars("repetition"), n_folds=4, seed=0)

    def pred(noise):
        p = signal + rng.normal(0, noise, signal.shape)
        return xr.DataArray(p, dims=("presentation", "neuroid", "time_bin"),
                            coords={"stimulus_id": ("presentation", ids), "neuroid_id": ("neuroid", neural.neuroid_id.values),
                                    "time_bin_start": neural.time_bin_start, "time_bin_end": neural.time_bin_end})
    good = score_predictions(pred(0.5), neural, splits=splits, keep_predictions=True, n_bootstrap=0)
    bad = score_predictions(pred(2.0), neural, splits=splits, keep_predictions=True, n_bootstrap=0)
    return good, bad


def test_stored_predictions_give_r_back_and_stimulus_cis():
    good, bad = _world()
    assert good["prediction"].dims == ("presentation", "neuroid", "time_bin")
    assert set(good.coords["test_fold"].values.tolist()) == {0, 1, 2, 3}
    assert good.attrs["splits"]["fingerprint"] == bad.attrs["splits"]["fingerprint"]
    # all-ones weights reproduce r (within folds) from the stored arrays
    med = resampled_medians(good, np.ones((1, good.sizes["presentation"])))
    np.testing.assert_allclose(med["r"][0], good["median_r"].values, atol=1e-9)
    c = compare_models(good, bad, n_permutations=300, n_bootstrap=300)
    pb = c.per_bin
    assert c.settings["ci_over_stimuli"] and (pb["ci_low"] > 0).all()
    assert ((pb["ci_low"] <= pb["diff"]) & (pb["diff"] <= pb["ci_high"])).all()
    assert (pb["diff_r"] > 0).all() and (pb["ci_low_r"] > 0).all()
    w1, w2 = stimulus_weights(120, 5, 3), stimulus_weights(120, 5, 3)
    assert np.array_equal(w1, w2) and (w1.sum(axis=1) == 120).all()


def test_leaderboard_windows_ranks_and_markdown():
    good, bad = _world()
    board = leaderboard({"good": {"IT": good}, "bad": {"IT": bad}},
                        windows={"early": (70, 100), "late": (100, None), "all": (None, None)}, n_bootstrap=200,
                        labels={"good": "Good <model>"})
    assert list(board["window"].unique()) == ["early", "late", "all"]
    row = board[(board["model"] == "good") & (board["window"] == "early")].iloc[0]
    # the default averages the window's bins weighted by their reliable sites
    n_sites = good["reliable"].transpose("neuroid", "time_bin").values.sum(axis=0)[:3]
    assert row["weighting"] == "sites" and row["n_bins"] == 3
    assert row["score"] == pytest.approx(np.average(good["median_ceiled"].values[:3], weights=n_sites))
    equal = leaderboard({"good": {"IT": good}}, windows={"early": (70, 100)}, n_bootstrap=0, weighting="bins")
    assert equal["score"].iloc[0] == pytest.approx(good["median_ceiled"].values[:3].mean())
    with pytest.raises(ValueError, match="weighting must be 'bins' or 'sites'"):
        leaderboard({"good": {"IT": good}}, n_bootstrap=0, weighting="neuroids")
    assert row["ci_over"] == "stimuli" and row["ci_low"] < row["score"] < row["ci_high"]
    assert (board[board["model"] == "good"]["rank"] == 1).all()
    md = to_markdown(board, ["rank", "label", "window", "score"])
    assert md.splitlines()[0] == "| rank | label | window | score |" and "| 1 | Good <model> | early |" in md
    with pytest.raises(ValueError, match="window 'x' = \\[300, 400\\] ms holds no time bin"):
        leaderboard({"good": {"IT": good}}, windows={"x": (300, 400)})
    with pytest.raises(ValueError, match="start must be before end"):
        leaderboard({"good": {"IT": good}}, windows={"x": (100, 90)})
    table = per_bin_table({"good": {"IT": good}})
    assert isinstance(table, pd.DataFrame) and len(table) == 5


def test_pearson_within_folds_matches_stored_r():
    good, _ = _world()
    assert np.isfinite(good["r"].values).all()
    # r recomputed by hand within each fold equals the stored r (what the bootstrap builds on)
    p, y, f = good["prediction"].values, good["response"].values, good.coords["test_fold"].values
    r = sum((f == k).sum() * pearson_r(p[f == k], y[f == k], axis=0) for k in range(4)) / len(f)
    np.testing.assert_allclose(r, good["r"].values, atol=1e-9)
