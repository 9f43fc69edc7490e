"""Neural-side analyses on small synthetic assemblies with known answers: decoding (planted onset,
null false-positive rate, oracle against scikit-learn), PSTH by hand, reliability = scoring's."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf_shrinkage
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from brainfit.assembly import average_repetitions, neural_assembly
from brainfit.neural import decode_time_resolved, decoding_onset, psth, split_half_reliability
from brainfit.neural import _lda
from brainfit.neural import decoding as decoding_module
from brainfit.scoring import split_half_ceiling


def make_trials(n_classes=4, n_reps=30, n_neur=20, n_bins=10, onset_bin=None, effect=1.5, stim_per_class=1,
                seed=0, rate=5.0):
    """Poisson-like counts: class-specific mean patterns added from ``onset_bin`` on (none: pure noise).

    Trials are shuffled (not ordered by class) so that nothing depends on the presentation order.
    """
    rng = np.random.default_rng(seed)
    n_stim = n_classes * stim_per_class
    stim = np.repeat(np.arange(n_stim), n_reps)
    cls = stim // stim_per_class
    pattern = rng.standard_normal((n_classes, n_neur))
    values = rate + rng.standard_normal((len(stim), n_neur, n_bins))
    if onset_bin is not None:
        values[:, :, onset_bin:] += effect * pattern[cls][:, :, None]
    perm = rng.permutation(len(stim))
    starts = np.arange(n_bins) * 10.0 - 20.0
    return neural_assembly(
        values[perm], stimulus_id=np.array([f"s{i:02d}" for i in range(n_stim)])[stim[perm]],
        repetition=np.tile(np.arange(n_reps), n_stim)[perm], neuroid_id=[f"n{i}" for i in range(n_neur)],
        region=["V4"] * (n_neur // 2) + ["IT"] * (n_neur - n_neur // 2), time_bin_start=starts,
        time_bin_end=starts + 10.0, presentation_coords={"category": np.array([f"c{c}" for c in cls[perm]]),
                                                         "size": np.array(["big", "small"])[perm % 2]})


# ----------------------------------------------------------------------------- decoding


def test_planted_signal_is_decoded_from_its_first_bin():
    neural = make_trials(onset_bin=4, seed=1)
    res = decode_time_resolved(neural, n_permutations=100, seed=0)
    acc = res.accuracy.values
    assert res.attrs["chance"] == 0.25 and res.attrs["classes"] == ["c0", "c1", "c2", "c3"]
    assert (acc[4:] > 0.8).all(), acc
    assert (np.abs(acc[:4] - 0.25) < 0.15).all(), acc
    assert res.significant.values.tolist() == [False] * 4 + [True] * 6
    assert res.attrs["onset_ms"] == 20.0 and res.attrs["onset_bin"] == 4
    assert res.attrs["peak_accuracy"] == acc.max() and res.attrs["peak_ms"] >= 20.0
    # the per-bin and max-statistic p follow their definitions from the stored null
    null = res.null_accuracy.values
    assert null.shape == (100, 10)
    np.testing.assert_allclose(res.p, (1 + (null >= acc).sum(0)) / 101)
    np.testing.assert_allclose(res.p_corrected, (1 + (null.max(1)[:, None] >= acc).sum(0)) / 101)
    assert (res.p_corrected.values >= res.p.values).all()
    np.testing.assert_allclose(res.null_mean, 0.25, atol=0.03)
    # pooled accuracy is the trial-weighted mean of the fold accuracies (stratified folds of 24)
    np.testing.assert_allclose(res.fold_accuracy.mean("fold"), acc)


def test_region_selects_the_decoding_features():
    neural = make_trials(onset_bin=4, seed=1)
    neural.values[:, neural.region.values == "IT", :] = np.random.default_rng(9).standard_normal(
        (neural.sizes["presentation"], 10, 10))  # no signal in IT
    v4 = decode_time_resolved(neural, region="V4", n_permutations=50)
    it = decode_time_resolved(neural, region="IT", n_permutations=50)
    assert v4.attrs["n_neuroids"] == 10 and v4.attrs["region"] == "V4"
    assert v4.accuracy.values[4:].min() > 0.6 and it.accuracy.values.max() < 0.45
    assert np.isnan(it.attrs["onset_ms"])


def test_no_signal_no_onset_and_a_sane_false_positive_rate():
    any_sig, per_bin_hits, n_bins = 0, 0, 0
    for seed in range(30):
        res = decode_time_resolved(make_trials(n_classes=3, n_reps=15, n_neur=8, n_bins=6, seed=100 + seed),
                                   n_folds=3, n_permutations=40, seed=seed)
        any_sig += bool(res.significant.any())
        per_bin_hits += int((res.p.values <= 0.05).sum())
        n_bins += res.sizes["time_bin"]
        assert np.isnan(res.attrs["onset_ms"]) or res.significant.any()
    # family-wise rate at alpha = 0.05 over the 6 bins: P(>= 5 of 30 | 0.05) < 0.02
    assert any_sig <= 4, any_sig
    # uncorrected per-bin tests reject about alpha of the time (expected 9 of 180)
    assert 1 <= per_bin_hits <= 20, per_bin_hits


def test_results_do_not_depend_on_the_presentation_order():
    neural = make_trials(onset_bin=5, effect=0.4, seed=3)
    jumbled = neural.isel(presentation=np.random.default_rng(0).permutation(neural.sizes["presentation"]))
    a = decode_time_resolved(neural, n_permutations=30)
    b = decode_time_resolved(jumbled, n_permutations=30)
    for var in ("accuracy", "null_accuracy", "p_corrected"):
        np.testing.assert_array_equal(a[var].values, b[var].values)


def test_lda_without_shrinkage_is_scikit_learns_and_ledoit_wolf_is_scikit_learns():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    x = rng.standard_normal((90, 8)) * rng.uniform(0.5, 3, 8) + 0.7 * rng.standard_normal((3, 8))[y] + 4
    test = rng.standard_normal((40, 8)) * 2 + 4
    labelings = np.stack([y, rng.permutation(y), rng.permutation(y)])
    pred, lam = _lda.lda_predict(x, labelings, test, 3, shrinkage=0.0)
    for row, lab in zip(pred, labelings):
        np.testing.assert_array_equal(row, LinearDiscriminantAnalysis(solver="lsqr").fit(x, lab).predict(test))
    pred, lam = _lda.lda_predict(x, labelings, test, 3)
    xs, ts = _lda.standardize(x, test)
    for row, lab, lw in zip(pred, labelings, lam):
        means = np.stack([xs[lab == k].mean(0) for k in range(3)])
        resid = xs - means[lab]
        assert lw == pytest.approx(ledoit_wolf_shrinkage(resid, assume_centered=True), rel=1e-9)
        # the Woodbury path equals the explicit regularised covariance
        sw = resid.T @ resid / len(lab)
        sigma = (1 - lw) * sw + lw * np.trace(sw) / 8 * np.eye(8)
        coef = np.linalg.solve(sigma, means.T)
        scores = ts @ coef - 0.5 * np.sum(means.T * coef, axis=0) + np.log(np.bincount(lab) / len(lab))
        np.testing.assert_array_equal(row, scores.argmax(1))
    assert 0 < lam.min() and lam.max() < 1


def test_lda_on_a_silent_bin_predicts_without_error():
    pred, lam = _lda.lda_predict(np.zeros((20, 5)), np.repeat(np.arange(2), 10), np.zeros((6, 5)), 2)
    assert pred.shape == (1, 6) and lam.tolist() == [0.0]


def test_a_scikit_learn_classifier_runs_on_the_same_folds_and_permutations(monkeypatch):
    neural = make_trials(n_classes=3, n_reps=12, n_neur=5, n_bins=3, onset_bin=1, effect=0.8, seed=4)
    sk = decode_time_resolved(neural, n_permutations=19, classifier=LinearDiscriminantAnalysis(solver="lsqr"))
    monkeypatch.setattr(decoding_module, "lda_predict", functools.partial(_lda.lda_predict, shrinkage=0.0))
    ours = decode_time_resolved(neural, n_permutations=19)
    np.testing.assert_array_equal(sk.null_accuracy.values, ours.null_accuracy.values)
    np.testing.assert_array_equal(sk.accuracy.values, ours.accuracy.values)
    assert "LinearDiscriminantAnalysis" in sk.attrs["classifier"]


def test_onset_needs_a_run_of_significant_bins():
    starts = np.arange(8) * 10.0
    sig = np.array([0, 1, 0, 0, 1, 1, 1, 0], bool)
    assert decoding_onset(sig, starts) == (40.0, 4)
    assert decoding_onset(sig, starts, 1) == (10.0, 1)
    assert decoding_onset(sig, starts, 3) == (40.0, 4)
    onset, idx = decoding_onset(sig, starts, 4)
    assert np.isnan(onset) and idx == -1


def test_decoding_bad_input():
    neural = make_trials(n_bins=2, n_reps=6, seed=0)
    with pytest.raises(ValueError, match=r"label 'object' is not a presentation coord of neural; presentation "
                                         r"coords: \['category', 'repetition', 'size', 'stimulus_id'\]"):
        decode_time_resolved(neural, label="object")
    with pytest.raises(ValueError, match=r"region 'V1' not in assembly; regions present: \['IT', 'V4'\]"):
        decode_time_resolved(neural, region="V1")
    one = neural.isel(presentation=neural.category.values == "c0")
    with pytest.raises(ValueError, match=r"label 'category' has a single value \['c0'\]"):
        decode_time_resolved(one)
    with pytest.raises(ValueError, match=r"at least n_folds=10 trials .* too few: \{'c0': 6, 'c1': 6"):
        decode_time_resolved(neural, n_folds=10)
    with pytest.raises(ValueError, match=r"n_permutations=10 cannot reach p <= alpha=0.05 .* at least 19"):
        decode_time_resolved(neural, n_permutations=10)
    with pytest.raises(ValueError, match="alpha must be a number in"):
        decode_time_resolved(neural, alpha=1.5)
    with pytest.raises(ValueError, match="min_consecutive must be an int >= 1"):
        decode_time_resolved(neural, min_consecutive=0)
    bad = neural.copy()
    bad.values[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="neural contains 1 non-finite value"):
        decode_time_resolved(bad)


# ----------------------------------------------------------------------------- PSTH


def test_psth_equals_a_hand_computation():
    neural = make_trials(n_classes=2, n_reps=3, n_neur=4, n_bins=3, onset_bin=1, seed=2)
    neural = neural.assign_coords(time_bin_start=("time_bin", [0.0, 10.0, 30.0]),
                                  time_bin_end=("time_bin", [10.0, 30.0, 35.0]))
    ds = psth(neural, by="category")
    assert ds.rate.dims == ("category", "region", "time_bin")
    assert ds.region.values.tolist() == ["V4", "IT"]
    widths_s = np.array([0.010, 0.020, 0.005])
    cats = neural.category.values
    regions = neural.region.values
    for c in ("c0", "c1"):
        for r in ("V4", "IT"):
            for b in range(3):
                per_neuroid = []
                for n in np.flatnonzero(regions == r):
                    trials = [neural.values[i, n, b] / widths_s[b] for i in range(len(cats)) if cats[i] == c]
                    per_neuroid.append(sum(trials) / len(trials))
                want = sum(per_neuroid) / len(per_neuroid)
                sem = np.std(per_neuroid, ddof=1) / np.sqrt(len(per_neuroid))
                assert ds.rate.sel(category=c, region=r).values[b] == pytest.approx(want, rel=1e-12)
                assert ds.sem.sel(category=c, region=r).values[b] == pytest.approx(sem, rel=1e-12)
    assert ds.n_trials.sel(category="c0").item() == 3 and ds.n_neuroids.sel(region="IT").item() == 2
    assert ds.rate.attrs["units"] == "spikes/s" and "over neuroids" in ds.attrs["sem"]
    # one region, no grouping: all trials
    one = psth(neural, by=None, region="IT")
    assert one.rate.dims == ("region", "time_bin")
    it = neural.values[:, regions == "IT"] / widths_s
    np.testing.assert_allclose(one.rate.sel(region="IT"), it.mean(axis=(0, 1)))


def test_psth_bad_input():
    neural = make_trials(n_bins=2, n_reps=3, seed=0)
    with pytest.raises(ValueError, match=r"by 'object' is not a presentation coord of neural"):
        psth(neural, by="object")
    with pytest.raises(ValueError, match=r"region 'V1' not in assembly; regions present: \['IT', 'V4'\]"):
        psth(neural, region="V1")
    single = psth(neural.isel(neuroid=[0]), by="size")
    assert np.isnan(single.sem.values).all() and single.region.values.tolist() == ["V4"]


# ----------------------------------------------------------------------------- reliability


def test_reliability_is_scorings_split_half_with_region_summaries():
    neural = make_trials(n_classes=4, stim_per_class=4, n_reps=6, n_neur=20, n_bins=3, onset_bin=1, seed=5)
    ds = split_half_reliability(neural, n_splits=20, seed=3)
    ceiling = split_half_ceiling(neural, n_splits=20, seed=3)
    np.testing.assert_array_equal(ds.reliability.values, ceiling.values)
    np.testing.assert_array_equal(ds.split_half_r.values, ceiling.split_half_r.values)
    assert ds.summary_region.values.tolist() == ["V4", "IT"]
    for r in ("V4", "IT"):
        v = ceiling.values[neural.region.values == r]
        np.testing.assert_allclose(ds["median"].sel(summary_region=r), np.median(v, axis=0))
        np.testing.assert_allclose(ds.q25.sel(summary_region=r), np.percentile(v, 25, axis=0))
        np.testing.assert_allclose(ds.q75.sel(summary_region=r), np.percentile(v, 75, axis=0))
    assert ds.attrs["n_splits"] == 20 and ds.attrs["n_stimuli"] == 16
    # the planted stimulus signal from bin 1 on makes those bins reliable, bin 0 not
    assert ds["median"].values[:, 0].max() < 0.5 < ds["median"].values[:, 1:].min()


def test_reliability_needs_single_trials():
    neural = make_trials(n_reps=4, n_bins=2, seed=0)
    with pytest.raises(ValueError, match="neural has no 'repetition' coord: split-half reliability needs single"):
        split_half_reliability(average_repetitions(neural))
