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


# ----------------------------------------------------------------------------- review additions


def test_lda_uses_only_the_training_trials():
    """No test-set leak: standardisation and shrinkage come from the training rows alone, so the
    prediction of a test row does not depend on the other test rows."""
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 20)
    x = rng.standard_normal((60, 12)) * rng.uniform(0.5, 3, 12) + rng.standard_normal((3, 12))[y] + 2
    test = rng.standard_normal((25, 12)) * 5 + 10  # far from the training mean and SD
    labelings = np.stack([y, rng.permutation(y)])
    pred, lam = _lda.lda_predict(x, labelings, test, 3)
    for i in (0, 7, 24):
        one, lam_one = _lda.lda_predict(x, labelings, test[i:i + 1], 3)
        np.testing.assert_array_equal(one[:, 0], pred[:, i])
        np.testing.assert_array_equal(lam_one, lam)
    xs, ts = _lda.standardize(x, test)
    np.testing.assert_allclose(xs.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(xs.std(0), 1)
    np.testing.assert_allclose(ts, (test - x.mean(0)) / x.std(0))


def test_labels_are_permuted_within_folds():
    y = np.repeat(np.arange(3), 10)
    fold = np.tile(np.arange(5), 6)
    perm = decoding_module._permuted_labels(y, fold, 5, 50, seed=0)
    assert perm.shape == (51, 30)
    np.testing.assert_array_equal(perm[0], y)
    for f in range(5):
        want = np.sort(y[fold == f])
        for row in perm:
            np.testing.assert_array_equal(np.sort(row[fold == f]), want)  # each fold keeps its labels
    assert len({row.tobytes() for row in perm[1:]}) > 40  # and they are shuffled


def test_the_same_permutations_serve_every_bin():
    """Identical bins get identical nulls; so the max over bins is each bin's null and p_corrected = p."""
    neural = make_trials(n_classes=3, n_reps=12, n_neur=6, n_bins=1, onset_bin=0, effect=0.5, seed=8)
    neural = neural.isel(time_bin=[0, 0, 0]).assign_coords(time_bin_start=("time_bin", [0.0, 10.0, 20.0]),
                                                          time_bin_end=("time_bin", [10.0, 20.0, 30.0]))
    res = decode_time_resolved(neural, n_permutations=40)
    null = res.null_accuracy.values
    assert null.std() > 0
    np.testing.assert_array_equal(null, np.repeat(null[:, :1], 3, axis=1))
    np.testing.assert_array_equal(res.p_corrected.values, res.p.values)


def test_threshold_corrected_is_the_decision_threshold():
    neural = make_trials(onset_bin=3, effect=0.35, n_bins=10, seed=11)
    for n_perm in (19, 40, 100):
        res = decode_time_resolved(neural, n_permutations=n_perm, seed=1)
        acc, thr = res.accuracy.values, res.attrs["threshold_corrected"]
        np.testing.assert_array_equal(res.significant.values, acc > thr + 1e-12)
        # it is a null maximum: a bin at exactly that accuracy is not significant
        assert np.isclose(res.null_accuracy.values.max(1), thr).any()


def test_decoding_onset_bad_input():
    with pytest.raises(ValueError, match=r"significant has shape \(3,\) but starts has shape \(2,\)"):
        decoding_onset(np.ones(3, bool), np.arange(2.0))


def _stimulus_patterns_only(n_classes=4, stim_per_class=5, n_reps=8, n_neur=20, n_bins=4, seed=3):
    """Every stimulus has its own response pattern and the category none: categories are nested labels."""
    rng = np.random.default_rng(seed)
    n_stim = n_classes * stim_per_class
    stim = np.repeat(np.arange(n_stim), n_reps)
    values = 5.0 + rng.standard_normal((len(stim), n_neur, n_bins)) + 1.5 * rng.standard_normal((n_stim, n_neur))[stim][:, :, None]
    starts = np.arange(n_bins) * 10.0
    return neural_assembly(values, stimulus_id=[f"s{i:02d}" for i in stim], repetition=np.tile(np.arange(n_reps), n_stim),
                           neuroid_id=[f"n{i}" for i in range(n_neur)], region="IT", time_bin_start=starts,
                           time_bin_end=starts + 10.0,
                           presentation_coords={"category": np.array([f"c{s // stim_per_class}" for s in stim])})


def test_held_out_stimuli_do_not_decode_a_label_the_stimuli_alone_carry():
    neural = _stimulus_patterns_only()
    trials = decode_time_resolved(neural, label="category", n_folds=5, n_permutations=99, seed=0)
    stimuli = decode_time_resolved(neural, label="category", n_folds=5, n_permutations=99, seed=0,
                                   generalize="stimuli")
    # held-out trials of seen stimuli: the stimulus identity gives the category away
    assert trials.attrs["generalize"] == "trials" and trials["significant"].all()
    # held-out stimuli: nothing generalises, so nothing is significant and accuracy is near chance
    assert stimuli.attrs["generalize"] == "stimuli" and not stimuli["significant"].any()
    assert np.isnan(stimuli.attrs["onset_ms"]) and abs(float(stimuli["accuracy"].mean()) - 0.25) < 0.1


def test_held_out_stimuli_folds_and_permutations_keep_stimuli_whole():
    neural = make_trials(n_classes=3, stim_per_class=4, n_reps=6, onset_bin=3, n_bins=6)
    res = decode_time_resolved(neural, label="category", n_folds=4, n_permutations=99, seed=1, generalize="stimuli")
    assert res.attrs["onset_ms"] == 10.0  # bin 3 starts at 10 ms: the class patterns generalise to new stimuli
    order = decoding_module._canonical_order(neural, np.asarray(neural.coords["category"].values))
    sids = np.asarray(neural.coords["stimulus_id"].values)[order]
    y = np.searchsorted(np.unique(neural.coords["category"].values), np.asarray(neural.coords["category"].values)[order])
    unit = np.unique(sids, return_inverse=True)[1]
    fold = np.array([u % 4 for u in unit])
    perm = decoding_module._permuted_labels(y, fold, 4, 20, seed=0, unit=unit)
    for row in perm:
        for u in np.unique(unit):
            assert len(set(row[unit == u].tolist())) == 1  # a stimulus's trials keep one label
        for f in range(4):
            np.testing.assert_array_equal(np.bincount(row[fold == f], minlength=3), np.bincount(y[fold == f], minlength=3))


def test_held_out_stimuli_bad_input():
    neural = make_trials(n_classes=3, stim_per_class=2, n_reps=6)
    with pytest.raises(ValueError, match=r"needs at least n_folds=3 stimuli per class of 'category'; too few: "
                                         r"\{'c0': 2, 'c1': 2, 'c2': 2\} \(use fewer folds\)"):
        decode_time_resolved(neural, label="category", n_folds=3, generalize="stimuli")
    with pytest.raises(ValueError, match="one 'size' per stimulus; stimuli with several"):
        decode_time_resolved(neural, label="size", n_folds=2, generalize="stimuli")
    with pytest.raises(ValueError, match="generalize must be 'trials' or 'stimuli', got 'images'"):
        decode_time_resolved(neural, generalize="images")


def test_missing_labels_are_refused():
    neural = make_trials(n_classes=2, n_reps=10, n_bins=2)
    cats = np.asarray(neural.coords["category"].values).astype(object)
    cats[[3, 7]] = None
    with pytest.raises(ValueError, match=r"label 'category' is missing \(None/NaN\) for 2 presentation\(s\)"):
        decode_time_resolved(neural.assign_coords(category=("presentation", cats)), n_folds=2, n_permutations=19)
