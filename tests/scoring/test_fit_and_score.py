"""fit_and_score and score_predictions end to end: known answers, alignment, selection, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scoring_world import BINS, acts, make_world

from brainfit import temporal
from brainfit.assembly import activation_assembly, neural_assembly
from brainfit.mapping import (
    AlphaGridWarning,
    PLSMapping,
    RidgeMapping,
    Splits,
    make_splits,
)
from brainfit.scoring import correlate, fit_and_score, score_predictions


def test_true_signal_scores_one_ceiled_on_noisy_data():
    # A model that predicts the noise-free response reaches r^2 = reliability in expectation, so
    # its ceiled score is ~1 (this would fail for r / ceiling or r^2 / ceiling^2).
    ids, _feats, signal, neural = make_world(n_stim=300, n_neur=20, noise=2.0, seed=4)
    pred = xr.DataArray(signal, dims=("presentation", "neuroid", "time_bin"),
                        coords={"stimulus_id": ("presentation", ids),
                                "neuroid_id": ("neuroid", neural.neuroid_id.values),
                                "time_bin_start": ("time_bin", BINS[0]), "time_bin_end": ("time_bin", BINS[1])})
    ds = score_predictions(pred, neural, n_bootstrap=0, reliability_threshold=0.0)
    assert 0.3 < float(ds.ceiling.median()) < 0.8
    assert abs(float(ds.ceiled.mean()) - 1.0) < 0.1
    np.testing.assert_allclose(ds.ceiled.values, np.sign(ds.r.values) * ds.r.values ** 2 / ds.ceiling.values)
    np.testing.assert_allclose(correlate(pred.isel(presentation=slice(None, None, -1)), neural).values, ds.r.values)


def test_perfect_model_on_noiseless_data_scores_one():
    ids, feats, _signal, neural = make_world(n_stim=60, noise=0.0)
    # noiseless data want the least penalty on offer: the grid's lower edge is reported
    with pytest.warns(AlphaGridWarning, match=r"layer 'L1': the smallest alpha of the grid \(1e-06\) for 100%"):
        ds = fit_and_score(acts(ids, feats), neural, splits=make_splits(neural, n_folds=5), n_bootstrap=50,
                           progress=False, mapping=RidgeMapping(alphas=[1e-6, 1e-3], dtype="float64"))
    np.testing.assert_allclose(ds.ceiling.values, 1.0)
    assert float(ds.ceiled.min()) > 0.999
    assert float(ds.median_ceiled_ci.sel(bound="low").min()) > 0.99


def test_shuffled_stimulus_model_scores_zero():
    ids, feats, _signal, neural = make_world(n_stim=120, n_neur=10, noise=0.5, seed=1)
    good = fit_and_score(acts(ids, feats), neural, n_bootstrap=200, progress=False)
    shuffled_ids = ids[np.random.default_rng(0).permutation(len(ids))]
    bad = fit_and_score(acts(shuffled_ids, feats), neural, n_bootstrap=200, progress=False)
    assert float(good.median_ceiled.min()) > 0.8
    assert abs(float(bad.median_ceiled.mean())) < 0.05
    lo, hi = bad.median_ceiled_ci.sel(bound="low"), bad.median_ceiled_ci.sel(bound="high")
    assert bool((lo < 0.05).all()) and bool((hi > -0.05).all())


def test_jumbled_presentations_give_identical_scores():
    ids, feats, _signal, neural = make_world(n_stim=40, n_neur=4, seed=6)
    a = acts(ids, feats)
    rng = np.random.default_rng(1)
    ja = a.isel(presentation=rng.permutation(40))
    jn = neural.isel(presentation=rng.permutation(neural.sizes["presentation"]))
    splits = make_splits(neural, n_folds=4)  # 10 stimuli per test fold (min_fold_stimuli)
    kw = {"n_bootstrap": 30, "progress": False, "splits": splits, "mapping": RidgeMapping(dtype="float64")}
    x, y = fit_and_score(a, neural, **kw), fit_and_score(ja, jn, **kw)
    for v in ("r", "ceiling", "ceiled", "median_ceiled", "median_ceiled_ci", "alpha"):
        np.testing.assert_allclose(x[v].values, y[v].values, rtol=1e-9, atol=1e-12, err_msg=v)


def test_reliability_threshold_reports_unreliable_neuroids():
    ids, feats, _signal, neural = make_world(n_stim=80, n_neur=6, noise=0.7, seed=2)
    vals = neural.values.copy()
    vals[:, 0, :] = np.random.default_rng(0).standard_normal(vals[:, 0, :].shape)  # pure noise neuroid
    noisy = neural.copy(data=vals)
    ds = fit_and_score(acts(ids, feats), noisy, splits=make_splits(noisy, n_folds=5), n_bootstrap=0, progress=False,
                       reliability_threshold=0.3)
    assert not ds.reliable.values[0].any() and ds.reliable.values[1:].all()
    np.testing.assert_array_equal(ds.n_unreliable.values, 1)
    assert np.isfinite(ds.r.values[0]).all()  # kept and reported, not hidden
    layer_r = ds.r.isel(layer=0)
    np.testing.assert_allclose(ds.median_r.isel(layer=0).values, np.median(layer_r.values[1:], axis=0))
    np.testing.assert_allclose(ds.median_r_unreliable.isel(layer=0).values, layer_r.values[0])


def test_joint_bins_equal_separate_bins_for_ridge():
    ids, feats, _signal, neural = make_world(n_stim=50, n_neur=4, seed=3)
    a = activation_assembly(np.repeat(feats[:, :, None], 2, axis=2), stimulus_id=ids, layer="L1")
    m = RidgeMapping(dtype="float64")
    splits = make_splits(neural, n_folds=5)
    joint = fit_and_score(a, neural, temporal.constant(), mapping=m, splits=splits, n_bootstrap=0, progress=False)
    assert joint.attrs["bins_fitted_jointly"]
    tb = neural.isel(presentation=slice(0, None))
    per_bin = xr.DataArray(np.repeat(feats[:, :, None], 3, axis=2), dims=("presentation", "neuroid", "time_bin"),
                           coords={"stimulus_id": ("presentation", ids), "layer": ("neuroid", ["L1"] * feats.shape[1]),
                                   "time_bin_start": ("time_bin", tb.time_bin_start.values),
                                   "time_bin_end": ("time_bin", tb.time_bin_end.values)})
    separate = fit_and_score(per_bin, neural, mapping=m, splits=splits, n_bootstrap=0, progress=False)
    assert not separate.attrs["bins_fitted_jointly"]
    np.testing.assert_allclose(joint.r.values, separate.r.values, rtol=1e-10)


def test_bins_with_identical_features_are_fitted_once_with_the_same_result():
    ids, feats, _signal, neural = make_world(n_stim=50, n_neur=4, seed=5)
    rng = np.random.default_rng(1)
    other = rng.standard_normal(feats.shape)
    tb = neural.time_bin_start.values, neural.time_bin_end.values
    per_bin = xr.DataArray(np.stack([feats, other, feats], axis=2), dims=("presentation", "neuroid", "time_bin"),
                           coords={"stimulus_id": ("presentation", ids), "layer": ("neuroid", ["L1"] * feats.shape[1]),
                                   "time_bin_start": ("time_bin", tb[0]), "time_bin_end": ("time_bin", tb[1])})
    m = RidgeMapping(dtype="float64")
    splits = make_splits(neural, n_folds=5)
    from brainfit.scoring.features import _identical_bins
    assert _identical_bins(per_bin.values, np.ones(feats.shape[1], bool)) == [[0, 2], [1]]
    merged = fit_and_score(per_bin, neural, mapping=m, splits=splits, n_bootstrap=0, progress=False,
                           keep_predictions=True)
    for b in range(3):  # each bin alone: nothing to merge
        alone = fit_and_score(per_bin.isel(time_bin=[b]), neural.isel(time_bin=[b]), mapping=m, splits=splits,
                              n_bootstrap=0, progress=False, keep_predictions=True)
        np.testing.assert_allclose(merged.prediction.isel(time_bin=b).values, alone.prediction.isel(time_bin=0).values,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(merged.alpha.isel(time_bin=b).values, alone.alpha.isel(time_bin=0).values)
    # one alpha shared by all targets depends on which targets are fitted together: no merging then
    assert not RidgeMapping(alpha_per_target=False).independent_targets and m.independent_targets
    shared_alpha = RidgeMapping(dtype="float64", alpha_per_target=False)
    both = fit_and_score(per_bin, neural, mapping=shared_alpha, splits=splits, n_bootstrap=0, progress=False,
                         keep_predictions=True)
    alone = fit_and_score(per_bin.isel(time_bin=[2]), neural.isel(time_bin=[2]), mapping=shared_alpha,
                          splits=splits, n_bootstrap=0, progress=False, keep_predictions=True)
    np.testing.assert_allclose(both.prediction.isel(time_bin=2).values, alone.prediction.isel(time_bin=0).values,
                               rtol=1e-9, atol=1e-12)


def test_one_to_one_map_fits_each_bin_and_pls_works():
    ids, feats, _signal, neural = make_world(n_stim=45, n_neur=4, seed=8)
    steps = np.stack([feats, feats * 0.5 + 1, feats[:, ::-1]], axis=2)  # different features per step
    a = activation_assembly(steps, stimulus_id=ids, layer="L1")
    tmap = temporal.one_to_one(latency_ms=70.0)
    ds = fit_and_score(a, neural, tmap, mapping=PLSMapping(n_components=5), splits=make_splits(neural, n_folds=4),
                       n_bootstrap=0, progress=False)
    assert ds.r.dims == ("neuroid", "time_bin", "layer") and ds.r.shape == (4, 3, 1)
    assert not ds.attrs["shared_features"] and ds.attrs["mapping"] == "PLSMapping"
    assert float(ds.r.isel(time_bin=0).median()) > 0.6  # step 0 = the true features
    assert ds.attrs["temporal_map"]["kind"] == "one_to_one"


def test_shared_across_bins_is_one_readout_matching_a_stacked_reference():
    # responses at bin t are the SAME weights applied to step-t features: one readout explains all bins
    rng = np.random.default_rng(21)
    n, p, N, T = 48, 6, 3, 3
    ids = np.array([f"img{i:03d}" for i in range(n)])
    feats = rng.standard_normal((n, p, T))
    W = rng.standard_normal((p, N))
    signal = np.einsum("spt,pn->snt", feats, W)
    stim = np.repeat(np.arange(n), 4)
    values = signal[stim] + 0.3 * rng.standard_normal((len(stim), N, T))
    neural = neural_assembly(values, stimulus_id=ids[stim], repetition=np.tile(np.arange(4), n),
                             neuroid_id=[f"n{i}" for i in range(N)], time_bin_start=BINS[0], time_bin_end=BINS[1])
    a = activation_assembly(feats, stimulus_id=ids, layer="L1")
    tmap = temporal.one_to_one(latency_ms=70.0)
    splits = make_splits(neural, n_folds=4)
    m = RidgeMapping(alphas=[1.0], dtype="float64")
    ds = fit_and_score(a, neural, tmap, mapping=m, splits=splits, shared_across_bins=True, n_bootstrap=0,
                       progress=False, keep_predictions=True)
    assert ds.attrs["shared_across_bins"] and not ds.attrs["bins_fitted_jointly"]
    # reference: sklearn Ridge on (stimulus, bin) rows, folds by stimulus
    from sklearn.linear_model import Ridge

    avg = neural.groupby("stimulus_id").mean().sel(stimulus_id=ids).values  # (n, N, T)
    want = np.empty((n, N, T))
    for tr, te in splits.indices(ids):
        Xtr = np.concatenate([feats[tr, :, t] for t in range(T)])
        Ytr = np.concatenate([avg[tr, :, t] for t in range(T)])
        fit = Ridge(alpha=1.0).fit(Xtr, Ytr)
        for t in range(T):
            want[te, :, t] = fit.predict(feats[te, :, t])
    got = ds.prediction.sel(layer="L1").transpose("presentation", "neuroid", "time_bin")
    got = got.assign_coords(sid=("presentation", got.stimulus_id.values))
    got = got.swap_dims(presentation="sid").sel(sid=ids).values
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    assert float(ds.r.median()) > 0.9
    # LOO layer selection is valid with a shared readout: its LOO errors leave out whole stimuli
    two = fit_and_score(activation_assembly(np.concatenate([feats, rng.standard_normal(feats.shape)], 1),
                                            stimulus_id=ids, layer=["A"] * p + ["B"] * p), neural, tmap,
                        splits=splits, shared_across_bins=True, layer_selection="loo", n_bootstrap=0, progress=False)
    assert (two.selected_layer.values == "A").all() and "LOO" in two.attrs["layer_selection"]


@pytest.mark.parametrize("shared", [False, True])
def test_layer_selection_with_shared_readout_picks_the_true_layer(shared):
    ids, feats, _signal, neural = make_world(n_stim=60, n_neur=4, noise=0.5, seed=9)
    noise = np.random.default_rng(1).standard_normal(feats.shape)
    a = activation_assembly(np.concatenate([noise, feats], axis=1), stimulus_id=ids,
                            layer=["bad"] * feats.shape[1] + ["good"] * feats.shape[1])
    ds = fit_and_score(a, neural, splits=make_splits(neural, n_folds=5), n_bootstrap=0, progress=False,
                       shared_across_bins=shared)
    assert (ds.selected_layer.values == "good").all()
    # the LOO criterion in both cases (with a shared readout it leaves out whole stimuli)
    assert ds.attrs["layer_selection"].startswith("nested") and "LOO" in ds.attrs["layer_selection"]


@pytest.mark.parametrize("criterion", ["loo", "inner_folds"])
def test_layer_selection_uses_training_folds_only(criterion):
    ids, feats, _signal, neural = make_world(n_stim=60, n_neur=4, noise=0.5, seed=9)
    noise = np.random.default_rng(1).standard_normal(feats.shape)
    a = activation_assembly(np.concatenate([noise, feats], axis=1), stimulus_id=ids,
                            layer=["bad"] * feats.shape[1] + ["good"] * feats.shape[1])
    splits = make_splits(neural, n_folds=5)
    kw = {"splits": splits, "n_bootstrap": 0, "progress": False, "keep_predictions": True, "layer_selection": criterion}
    ds = fit_and_score(a, neural, **kw)
    assert ("LOO R^2" in ds.attrs["layer_selection"]) == (criterion == "loo")
    assert (ds.selected_layer.values == "good").all()
    assert ds.selected_layer.dims == ("fold", "selection_region")
    assert list(ds.selection_region.values) == ["V4", "IT"] and ds.region.dims == ("neuroid",)
    np.testing.assert_allclose(ds.prediction_selected.values, ds.prediction.sel(layer="good").values)
    # Changing the responses of fold 0's test stimuli must not change fold 0's selection or
    # inner scores (they may only depend on fold 0's training stimuli).
    test_ids = set(splits.test_ids(0))
    vals = neural.values.copy()
    rows = np.array([s in test_ids for s in neural.stimulus_id.values.astype(str)])
    vals[rows] = np.random.default_rng(2).standard_normal(vals[rows].shape)
    ds2 = fit_and_score(a, neural.copy(data=vals), **kw)
    np.testing.assert_array_equal(ds2.selection_score.isel(fold=0).values, ds.selection_score.isel(fold=0).values)
    assert not np.allclose(ds2.selection_score.isel(fold=1).values, ds.selection_score.isel(fold=1).values)


def test_scores_carry_settings_and_are_reproducible():
    ids, feats, _signal, neural = make_world(n_stim=100, n_neur=4, seed=10)  # 10 per fold with the default 10 folds
    kw = {"n_bootstrap": 40, "progress": False, "seed": 3}
    a, b = fit_and_score(acts(ids, feats), neural, **kw), fit_and_score(acts(ids, feats), neural, **kw)
    xr.testing.assert_identical(a, b)
    for key in ("convention", "mapping", "mapping_params", "splits", "n_ceiling_splits", "reliability_threshold",
                "n_bootstrap", "seed", "ceiling_spearman_brown_k", "r_over", "min_fold_stimuli", "r_within_folds"):
        assert key in a.attrs, key
    assert a.attrs["splits"]["n_folds"] == 10 and a.attrs["splits"]["stratify"] == "category"
    assert "never squared" in a.attrs["convention"]
    assert a.attrs["r_over"] == "folds" and a.attrs["r_within_folds"] is True and a.attrs["min_fold_stimuli"] == 10


def test_bad_input_raises_naming_the_problem():
    ids, feats, _signal, neural = make_world(n_stim=30, n_neur=3, seed=11)
    with pytest.raises(ValueError, match=r"activations stimuli do not match the splits' stimuli: "
                                         r"0 not in the splits .*1 of the splits missing"):
        fit_and_score(acts(ids[1:], feats[1:]), neural, n_bootstrap=0, progress=False)
    other = Splits.kfold([f"x{i}" for i in range(30)], n_folds=3)
    with pytest.raises(ValueError,
                       match="neural assembly stimuli do not match the splits' stimuli: 30 not in the splits"):
        fit_and_score(acts(ids, feats), neural, splits=other, n_bootstrap=0, progress=False)
    bad = feats.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="contains 1 non-finite value"):
        fit_and_score(acts(ids, bad), neural, n_bootstrap=0, progress=False)
    nv = neural.values.copy()
    nv[5, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"neural assembly contains 1 non-finite value\(s\) \(1 NaN"):
        fit_and_score(acts(ids, feats), neural.copy(data=nv), n_bootstrap=0, progress=False)
    multi = activation_assembly(np.repeat(feats[:, :, None], 4, axis=2), stimulus_id=ids, layer="L1")
    with pytest.raises(ValueError, match="activations have 4 time steps and no temporal_map"):
        fit_and_score(multi, neural, n_bootstrap=0, progress=False)
    with pytest.raises(ValueError, match=r"layer\(s\) \['L9'\] not in activations"):
        fit_and_score(acts(ids, feats), neural, layers=["L9"], n_bootstrap=0, progress=False)
    pred = xr.DataArray(np.zeros((30, 3, 2)), dims=("presentation", "neuroid", "time_bin"),
                        coords={"stimulus_id": ("presentation", ids), "time_bin_start": ("time_bin", [70.0, 80.0]),
                                "time_bin_end": ("time_bin", [80.0, 90.0])})
    with pytest.raises(ValueError, match="prediction time bins differ"):
        correlate(pred, neural)


def test_temporal_map_returning_other_bins_is_an_error():
    ids, feats, _signal, neural = make_world(n_stim=30, n_neur=3, seed=12)

    def wrong_map(activations, target):  # drops the last bin
        return temporal.constant()(activations, target).isel(time_bin=slice(0, 2))

    with pytest.raises(ValueError, match="temporal map output time bins differ from the neural assembly's"):
        fit_and_score(acts(ids, feats), neural, wrong_map, n_bootstrap=0, progress=False)
