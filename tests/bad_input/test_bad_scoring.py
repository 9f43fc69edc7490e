"""Bad input to scoring and mapping: each case builds it, calls the public function, and checks the
error names the problem -- or, where the input is legitimate but risky, that the right warning is
raised and the result is right. Files: a failed save or load leaves nothing behind."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from brainfit.mapping import (
    AlphaGridWarning,
    RidgeMapping,
    Splits,
    make_splits,
    ridge_cv,
    ridge_cv_predictions,
)
from brainfit.scoring import (
    ScoringConfig,
    fit_and_score,
    load_scores,
    pearson_r,
    save_scores,
    score_predictions,
    split_half_ceiling,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scoring"))
from scoring_world import BINS, acts, make_world  # the scoring tests' synthetic world

FAST = {"n_bootstrap": 0, "progress": False}


def _predictions(ids, signal, neural):
    """The noise-free responses as predictions (presentation x neuroid x time_bin), by coordinate."""
    return xr.DataArray(signal, dims=("presentation", "neuroid", "time_bin"),
                        coords={"stimulus_id": ("presentation", ids),
                                "neuroid_id": ("neuroid", neural.neuroid_id.values),
                                "time_bin_start": ("time_bin", BINS[0]), "time_bin_end": ("time_bin", BINS[1])})


def _ceiling(neural, **changes):
    """A valid ceiling for ``neural`` (split_half_ceiling's), then broken as asked."""
    c = split_half_ceiling(neural, n_splits=5)
    if "drop" in changes:
        c = c.drop_vars(changes["drop"])
    if "neuroid_id" in changes:
        c = c.assign_coords(neuroid_id=("neuroid", changes["neuroid_id"]))
    if "time_bin_start" in changes:
        c = c.assign_coords(time_bin_start=("time_bin", changes["time_bin_start"]),
                            time_bin_end=("time_bin", np.asarray(changes["time_bin_start"]) + 10.0))
    return c


# ----------------------------------------------------------------------------- 1. few stimuli per test fold

@pytest.mark.parametrize("n_stim,n_folds,message", [
    (40, 40, (r"test fold \d+ holds 1 stimuli .*40 stimuli in 40 folds\), fewer than min_fold_stimuli=10 .*"
             r"use at most 4 folds .*r_over='pooled'")),
    (21, 10, (r"holds 2 stimuli .*fewer than min_fold_stimuli=10 .*use at most 2 folds \(21 stimuli // 10\), "
             r"or set r_over='pooled' to correlate the out-of-fold predictions over all stimuli")),
    (21, 3, r"holds 7 stimuli .*use at most 2 folds"),
    (15, 2, r"holds 7 stimuli .*no split of 15 stimuli into >= 2 folds reaches that, or set r_over='pooled'"),
])
@pytest.mark.parametrize("entry", ["fit_and_score", "score_predictions"])
def test_small_test_folds_are_refused_naming_size_minimum_and_remedies(n_stim, n_folds, message, entry):
    ids, feats, signal, neural = make_world(n_stim=n_stim, n_neur=3, seed=1)
    splits = make_splits(neural, n_folds=n_folds)
    with pytest.raises(ValueError, match=message):
        if entry == "fit_and_score":
            fit_and_score(acts(ids, feats), neural, splits=splits, **FAST)
        else:
            score_predictions(_predictions(ids, signal, neural), neural, splits=splits, n_bootstrap=0)


def test_pooled_r_for_21_stimuli_is_finite_recorded_and_the_r_of_the_pooled_predictions():
    ids, feats, _, neural = make_world(n_stim=21, n_neur=8, seed=0, n_cat=7)
    splits = make_splits(neural, n_folds=3)
    pooled = fit_and_score(acts(ids, feats), neural, splits=splits, r_over="pooled", keep_predictions=True,
                           n_bootstrap=200, progress=False)
    assert pooled.attrs["r_over"] == "pooled" and pooled.attrs["r_within_folds"] is False
    assert ScoringConfig.from_attrs(pooled.attrs).r_over == "pooled"
    r = pooled.r.isel(layer=0).values
    assert np.isfinite(r).all()
    # exactly Pearson r of the out-of-fold predictions over all 21 stimuli
    avg = neural.groupby("stimulus_id").mean().sel(stimulus_id=pooled.prediction.stimulus_id.values)
    want = pearson_r(pooled.prediction.isel(layer=0).values, avg.transpose("stimulus_id", "neuroid", "time_bin").values)
    np.testing.assert_allclose(r, want, rtol=1e-12)
    # close to the within-fold r on the same 3 folds (computed here with the check switched off);
    # pooled r is biased down by the fold offsets (about 0.1 here), not broken
    within = fit_and_score(acts(ids, feats), neural, splits=splits, min_fold_stimuli=1, **FAST)
    assert within.attrs["r_within_folds"] is True
    gap = float(within.r.mean() - pooled.r.mean())
    assert 0.0 < gap < 0.2 and float(pooled.r.mean()) > 0.4
    lo, hi = pooled.median_r_ci.sel(bound="low"), pooled.median_r_ci.sel(bound="high")
    assert bool((lo <= pooled.median_r).all()) and bool((pooled.median_r <= hi).all())


def test_score_predictions_pooled_and_without_splits_record_what_was_computed():
    ids, _, signal, neural = make_world(n_stim=21, n_neur=3, seed=2)
    pred = _predictions(ids, signal, neural)
    splits = make_splits(neural, n_folds=10)
    pooled = score_predictions(pred, neural, splits=splits, r_over="pooled", n_bootstrap=0)
    plain = score_predictions(pred, neural, n_bootstrap=0)  # no splits: r over all stimuli as they are
    np.testing.assert_allclose(pooled.r.values, plain.r.values)
    assert pooled.attrs["r_within_folds"] is False and plain.attrs["r_within_folds"] is False


@pytest.mark.parametrize("settings,error,message", [
    ({"r_over": "all"}, ValueError, r"ScoringConfig.r_over must be one of \['folds', 'pooled'\], got 'all'"),
    ({"r_over": None}, ValueError, r"ScoringConfig.r_over must be one of"),
    ({"min_fold_stimuli": 0}, ValueError, r"ScoringConfig.min_fold_stimuli must be >= 1, got 0"),
    ({"min_fold_stimuli": 2.5}, TypeError, r"ScoringConfig.min_fold_stimuli must be an int"),
])
def test_new_settings_are_validated(settings, error, message):
    with pytest.raises(error, match=message):
        ScoringConfig(**settings)


def test_score_files_written_before_the_new_settings_read_back(tmp_path):
    ids, _, signal, neural = make_world(n_stim=30, n_neur=3, seed=3)
    ds = score_predictions(_predictions(ids, signal, neural), neural, n_bootstrap=0)
    for key in ("r_over", "min_fold_stimuli"):  # as files written before these settings existed
        del ds.attrs[key]
    loaded = load_scores(save_scores(ds, tmp_path / "old.nc"))
    cfg = ScoringConfig.from_attrs(loaded.attrs)
    assert cfg.r_over == "folds" and cfg.min_fold_stimuli == 1  # what those files did: no minimum
    assert cfg.seed == ds.attrs["seed"]
    with pytest.raises(ValueError, match=r"lack the scoring setting\(s\) \['seed'\]"):
        ScoringConfig.from_attrs({k: v for k, v in loaded.attrs.items() if k != "seed"})


# ----------------------------------------------------------------------------- 2. a precomputed ceiling

@pytest.mark.parametrize("change,message", [
    ({"drop": "neuroid_id"}, r"ceiling has no 'neuroid_id' coord on 'neuroid': .*never by position"),
    ({"drop": ["time_bin_start", "time_bin_end"]}, r"ceiling has no 'time_bin_start' coord on 'time_bin'"),
    ({"neuroid_id": ["n0", "n1", "x9"]}, (r"ceiling neuroids do not match the neural assembly: 1 missing from the "
                                         r"ceiling \('n2'\), 1 extra in the ceiling \('x9'\)")),
    ({"neuroid_id": ["n0", "n0", "n1"]}, r"ceiling has duplicate neuroid_id\(s\) 'n0'"),
    ({"time_bin_start": [70.0, 80.0, 100.0]}, (r"ceiling time bins differ from the neural assembly's: 1 missing "
                                              r"from the ceiling \(90.0, 100.0\), 1 extra in the ceiling "
                                              r"\(100.0, 110.0\)")),
    ({"time_bin_start": [60.0, 70.0, 80.0]}, r"ceiling time bins differ .*1 missing .*\(90.0, 100.0\)"),
])
@pytest.mark.parametrize("entry", ["fit_and_score", "score_predictions"])
def test_given_ceiling_must_match_by_neuroid_id_and_time_bins(change, message, entry):
    ids, feats, signal, neural = make_world(n_stim=30, n_neur=3, seed=4)
    bad = _ceiling(neural, **change)
    with pytest.raises(ValueError, match=message):
        if entry == "fit_and_score":
            fit_and_score(acts(ids, feats), neural, splits=make_splits(neural, n_folds=3), ceiling=bad, **FAST)
        else:
            score_predictions(_predictions(ids, signal, neural), neural, ceiling=bad, n_bootstrap=0)


@pytest.mark.parametrize("ceiling,message", [
    (np.ones((3, 3)), r"ceiling must be an xarray.DataArray \(neuroid x time_bin\), got ndarray"),
    (xr.DataArray(np.ones((3, 3, 1)), dims=("neuroid", "time_bin", "layer")),
     r"ceiling must have dims \('neuroid', 'time_bin'\) or \('neuroid',\), got \('neuroid', 'time_bin', 'layer'\)"),
])
def test_given_ceiling_of_the_wrong_kind(ceiling, message):
    ids, _, signal, neural = make_world(n_stim=30, n_neur=3, seed=4)
    with pytest.raises(ValueError, match=message):
        score_predictions(_predictions(ids, signal, neural), neural, ceiling=ceiling, n_bootstrap=0)


@pytest.mark.parametrize("ids,message", [
    (["n0", "n1", "x9"], r"prediction neuroids do not match the neural assembly: 1 missing from the prediction "
                         r"\('n2'\), 1 extra in the prediction \('x9'\)"),
    (["n0", "n0", "n1"], r"prediction has duplicate neuroid_id\(s\) 'n0'"),
])
def test_predictions_are_matched_by_neuroid_id_like_the_ceiling(ids, message):
    ids_, _, signal, neural = make_world(n_stim=30, n_neur=3, seed=4)
    pred = _predictions(ids_, signal, neural).assign_coords(neuroid_id=("neuroid", ids))
    with pytest.raises(ValueError, match=message):
        score_predictions(pred, neural, n_bootstrap=0)


def test_given_ceiling_is_matched_by_coordinate_not_position():
    ids, _, signal, neural = make_world(n_stim=30, n_neur=3, seed=5)
    pred = _predictions(ids, signal, neural)
    good = _ceiling(neural)
    jumbled = good.isel(neuroid=[2, 0, 1], time_bin=[1, 2, 0])
    a = score_predictions(pred, neural, ceiling=good, n_bootstrap=0)
    b = score_predictions(pred, neural, ceiling=jumbled, n_bootstrap=0)
    np.testing.assert_array_equal(a.ceiling.values, good.values)
    np.testing.assert_array_equal(b.ceiling.values, a.ceiling.values)
    np.testing.assert_array_equal(b.ceiled.values, a.ceiled.values)
    assert a.attrs["ceiling_source"] == "given"


# ----------------------------------------------------------------------------- 3. features far from unit scale

def test_huge_features_are_solved_not_a_linalg_error():
    ids, feats, _, neural = make_world(n_stim=100, n_neur=4, seed=1)
    ref = fit_and_score(acts(ids, feats), neural, **FAST)
    # 1e20 overflows X'X in float32 (1e40 > 3.4e38); rescaled by a power of two inside the solver, the
    # grid is negligible against the eigenvalues (near-OLS fits), which is reported
    with pytest.warns(AlphaGridWarning, match=r"the smallest alpha of the grid \(0.01\) for 100% .*alpha grid "
                                              r"\[0.01, 0.1, .*1e\+06\]"):
        big = fit_and_score(acts(ids, feats * 1e20), neural, **FAST)
    assert np.isfinite(big.r.values).all()
    np.testing.assert_allclose(big.r.values, ref.r.values, atol=0.05)


def test_tiny_features_warn_that_every_alpha_is_too_large():
    ids, feats, _, neural = make_world(n_stim=100, n_neur=4, seed=1)
    with pytest.warns(AlphaGridWarning, match=r"layer 'L1': the smallest alpha of the grid \(0.01\) for 100% of 120 "
                                              r"fold-neuroid-bin fits .*standardise or rescale the features") as rec:
        tiny = fit_and_score(acts(ids, feats * 1e-20), neural, **FAST)
    assert float(np.abs(tiny.r).max()) < 1e-6  # every alpha shrinks to the mean: the warning is the point
    assert sum(issubclass(w.category, AlphaGridWarning) for w in rec) == 1  # one summary, not one per fit


@pytest.mark.parametrize("scale", [1e20, 1e-20, 2.0**40])
@pytest.mark.parametrize("p", [10, 200])  # primal, dual
def test_ridge_on_rescaled_features_is_the_same_problem(scale, p):
    # ridge on (s X, alphas s^2) is ridge on (X, alphas): same alphas chosen, same predictions
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, p)) + 3.0
    Y = X @ rng.standard_normal((p, 4)) / np.sqrt(p) + rng.standard_normal((60, 4))
    alphas = np.logspace(-2, 4, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlphaGridWarning)
        ref = ridge_cv(X, Y, alphas, X_test=X[:7])
        got = ridge_cv(X * scale, Y, alphas * scale**2, X_test=X[:7] * scale)
        folds = Splits.kfold([str(i) for i in range(60)], n_folds=4).indices([str(i) for i in range(60)])
        ref_cv, ref_info = ridge_cv_predictions(X, Y, folds, alphas)
        got_cv, got_info = ridge_cv_predictions(X * scale, Y, folds, alphas * scale**2)
    np.testing.assert_allclose(got.alpha, ref.alpha * scale**2, rtol=1e-12)
    np.testing.assert_allclose(got.predictions, ref.predictions, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got.coef * scale, ref.coef, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(got_cv, ref_cv, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_info["alpha"], ref_info["alpha"] * scale**2, rtol=1e-12)


def test_noise_targets_at_the_largest_alpha_do_not_warn_but_a_grid_short_of_full_shrinkage_does():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 12))
    noise = rng.standard_normal((100, 200))  # unpredictable: half pick the largest alpha, as they should
    with warnings.catch_warnings():
        warnings.simplefilter("error", AlphaGridWarning)
        fit = ridge_cv(X, noise)
    assert 0.3 < float(np.mean(fit.alpha == fit.alpha.max())) < 0.7  # the default grid reaches full shrinkage
    # 80 features for 100 samples: a grid that stops at 0.1 leaves the fit ~80 effective parameters
    X = rng.standard_normal((100, 80))
    Y = X @ rng.standard_normal((80, 50)) / np.sqrt(80) + rng.standard_normal((100, 50))
    with pytest.warns(AlphaGridWarning, match=r"the largest alpha of the grid \(0.1\) for 100% of 50 targets, though "
                                              r"it still leaves .*alpha grid \[0.001, 0.01, 0.1\]"):
        ridge_cv(X, Y, [1e-3, 1e-2, 1e-1])


# ----------------------------------------------------------------------------- 4. damaged files

def _score_file(tmp_path):
    ids, _, signal, neural = make_world(n_stim=30, n_neur=3, seed=6)
    return save_scores(score_predictions(_predictions(ids, signal, neural), neural, n_bootstrap=0),
                       tmp_path / "good.nc")


@pytest.mark.parametrize("content,message", [
    (lambda good: good[: len(good) // 2], r"the file is truncated, damaged or not a brainfit score file"),
    (lambda good: good[:100], r"truncated"),
    (lambda good: b"", r"the file is truncated, damaged or not a brainfit score file"),
    (lambda good: b'{"format": "brainfit.splits"}', r"not a brainfit score file"),
])
def test_load_scores_on_a_damaged_file_names_it(tmp_path, content, message):
    bad = tmp_path / "bad.nc"
    bad.write_bytes(content(_score_file(tmp_path).read_bytes()))
    before = sorted(tmp_path.iterdir())
    with pytest.raises(ValueError, match=rf"cannot read scores from {bad}: .*{message}"):
        load_scores(bad)
    assert sorted(tmp_path.iterdir()) == before  # nothing written next to it


def test_load_scores_on_other_files(tmp_path):
    xr.Dataset({"x": ("a", [1.0, 2.0])}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match=r"other.nc is a netCDF file but not a brainfit score file: it has no 'r'"):
        load_scores(tmp_path / "other.nc")
    with pytest.raises(FileNotFoundError, match=r"score file not found: .*missing.nc"):
        load_scores(tmp_path / "missing.nc")
    with pytest.raises(IsADirectoryError, match="is a directory, not a score file"):
        load_scores(tmp_path)


def test_failed_save_leaves_no_file(tmp_path):
    ids, _, signal, neural = make_world(n_stim=30, n_neur=3, seed=6)
    ds = score_predictions(_predictions(ids, signal, neural), neural, n_bootstrap=0)
    ds["unwritable"] = xr.DataArray(np.array([{"a": 1}], dtype=object), dims="x")
    with pytest.raises(ValueError, match="cannot serialize arbitrary Python objects"):  # xarray's message
        save_scores(ds, tmp_path / "scores.nc")
    assert list(tmp_path.iterdir()) == []


def _splits_dict():
    return Splits.kfold([f"s{i}" for i in range(12)], n_folds=3, seed=1).to_dict()


@pytest.mark.parametrize("text,message", [
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "folds"}), r"splits lack the field\(s\) \['folds'\]"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "n_folds"}), r"lack the field\(s\) \['n_folds'\]"),
    (lambda d: json.dumps(d)[:40], r"not JSON, or truncated"),
    (lambda d: "", r"not JSON, or truncated"),
    (lambda d: b"\xff\xfe\x00 not text", r"not JSON, or truncated"),
    (lambda d: json.dumps([1, 2]), r"not a brainfit splits object \(expected format 'brainfit.splits', got list\)"),
    (lambda d: json.dumps({**d, "format": "other"}), r"got format 'other'"),
    (lambda d: json.dumps({**d, "folds": list(d["folds"])}), r"'folds' must be a non-empty mapping .*got list"),
    (lambda d: json.dumps({**d, "folds": {}}), r"'folds' must be a non-empty mapping"),
    (lambda d: json.dumps({**d, "folds": {**d["folds"], "s0": "1"}}),
     r"'folds' must map each stimulus_id to an integer fold index; not an integer for 's0' \(e.g. '1'\)"),
    (lambda d: json.dumps({**d, "folds": {**d["folds"], "s0": 1.5}}), r"not an integer for 's0'"),
    (lambda d: json.dumps({**d, "n_folds": "3"}), r"splits field 'n_folds' must be an integer, got '3'"),
    (lambda d: json.dumps({**d, "seed": None}), r"splits field 'seed' must be an integer, got None"),
    (lambda d: json.dumps({**d, "folds": {**d["folds"], "s0": 7}}), r"fold indices must lie in 0..2"),
    (lambda d: json.dumps({**d, "n_folds": 4}), r"splits have empty fold\(s\) \[3\]"),
    (lambda d: json.dumps({**d, "stratify": 3}), r"'stratify' must be a string or null"),
    (lambda d: json.dumps({**d, "strata": ["a"]}), r"'strata' must be a mapping"),
    (lambda d: json.dumps({**d, "version": 9}), r"unsupported splits version 9"),
])
def test_splits_load_names_the_file_and_the_field(tmp_path, text, message):
    path = tmp_path / "splits.json"
    content = text(_splits_dict())
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=rf"cannot read splits from {path}: .*{message}"):
        Splits.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["splits.json"]


def test_splits_round_trip_and_missing_file(tmp_path):
    sp = Splits.kfold([f"s{i}" for i in range(12)], n_folds=3, seed=1)
    assert Splits.load(sp.save(tmp_path / "s.json")) == sp
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # the atomic write left no temp file
    with pytest.raises(FileNotFoundError, match="splits file not found"):
        Splits.load(tmp_path / "none.json")


# ----------------------------------------------------------------------------- 5. ceilings from few stimuli

@pytest.mark.parametrize("n_stim", [3, 5, 9])
def test_ceiling_from_few_stimuli_warns_and_is_still_computed(n_stim):
    _, _, _, neural = make_world(n_stim=n_stim, n_neur=3, seed=7)
    with pytest.warns(RuntimeWarning, match=rf"only {n_stim} stimuli \(of {n_stim}\) have >= 2 repetitions and "
                                            r"enter the split-half ceiling, fewer than 10"):
        c = split_half_ceiling(neural, n_splits=5)
    assert c.attrs["n_stimuli"] == n_stim and np.isfinite(c.values).any()


def test_ceiling_warning_in_score_predictions_and_enough_stimuli_do_not_warn():
    ids, _, signal, neural = make_world(n_stim=12, n_neur=3, seed=7, reps=[1] * 4 + [2] * 8)
    with pytest.warns(RuntimeWarning, match=r"only 8 stimuli \(of 12\) have >= 2 repetitions"):
        score_predictions(_predictions(ids, signal, neural), neural, n_bootstrap=0)
    ids, _, signal, neural = make_world(n_stim=10, n_neur=3, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        split_half_ceiling(neural, n_splits=5)


@pytest.mark.parametrize("reps,found", [([1, 1, 1, 1, 2, 2], 2), ([1] * 6, 0)])
def test_ceiling_from_fewer_than_3_stimuli_is_an_error(reps, found):
    _, _, _, neural = make_world(n_stim=6, n_neur=3, seed=8, reps=reps)
    with pytest.raises(ValueError, match=rf"at least 3 stimuli with >= 2 repetitions, found {found} \(of 6 stimuli\): "
                                         r"a correlation over 2 stimuli is always \+-1"):
        split_half_ceiling(neural, n_splits=5)


# ----------------------------------------------------------------------------- validators that already held

@pytest.mark.parametrize("call,message", [
    (lambda: Splits.kfold(["a", "b", "a", "c"], n_folds=2), r"stimulus ids for splits must be unique; duplicates: 'a'"),
    (lambda: make_splits([f"s{i}" for i in range(10)], n_folds=1), r"n_folds must be between 2 and the number"),
    (lambda: Splits({"a": 0, "b": 0}, n_folds=1), r"n_folds must be >= 2, got 1"),
    (lambda: make_splits([f"s{i}" for i in range(3)], n_folds=4), (r"n_folds must be between 2 and the number of "
                                                                  r"stimuli \(3\), got 4")),
])
def test_existing_split_validators(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("entry", ["fit_and_score", "score_predictions"])
def test_splits_of_other_stimuli_are_refused(entry):
    ids, feats, signal, neural = make_world(n_stim=30, n_neur=3, seed=9)
    other = Splits.kfold([f"x{i}" for i in range(30)], n_folds=3)
    with pytest.raises(ValueError, match=r"neural assembly stimuli do not match the splits' stimuli: 30 not in the "
                                         r"splits .*30 of the splits missing"):
        if entry == "fit_and_score":
            fit_and_score(acts(ids, feats), neural, splits=other, **FAST)
        else:
            score_predictions(_predictions(ids, signal, neural), neural, splits=other, n_bootstrap=0)


def test_ridge_mapping_keeps_refusing_non_finite_features():
    X = np.ones((10, 3))
    X[0, 0] = np.inf
    with pytest.raises(ValueError):
        RidgeMapping().fit(X, np.arange(10.0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_failed_eigendecomposition_is_a_named_value_error(dtype):
    from brainfit.mapping._backend import get_backend

    with pytest.raises(ValueError, match=rf"eigendecomposition of a 5 x 5 {dtype} matrix .*failed") as info:
        get_backend(dtype=dtype).eigh(np.full((5, 5), np.inf, dtype=dtype))
    assert not isinstance(info.value, np.linalg.LinAlgError)
