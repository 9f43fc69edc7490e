"""Split-half ceilings against a direct reference, and the ceiled-score convention."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from brainfit.assembly import neural_assembly
from brainfit.scoring import ceiled_score, split_half_ceiling, split_half_masks
from scoring_world import make_world


def test_ceiled_score_convention():
    r = np.array([0.5, -0.5, 0.5, 0.3])
    c = np.array([0.5, 0.5, 0.0, -0.1])
    out = ceiled_score(r, c)
    np.testing.assert_allclose(out[:2], [0.5, -0.5])  # sign(r) r^2 / ceiling, ceiling not squared
    assert np.isnan(out[2]) and np.isnan(out[3])


def test_split_half_masks_balanced_and_order_invariant():
    counts = np.array([2, 3, 5, 1, 4])
    group = np.repeat(np.arange(5), counts)
    rep = np.concatenate([np.arange(c) for c in counts])
    m = split_half_masks(group, rep, n_splits=20, seed=4)
    for g, c in enumerate(counts):
        sel = m[:, group == g]
        assert np.all((sel == 0).sum(1) == c // 2) and np.all((sel == 1).sum(1) == c // 2)
    assert len({tuple(row) for row in m}) > 1  # splits actually differ
    perm = np.random.default_rng(0).permutation(len(group))
    m2 = split_half_masks(group[perm], rep[perm], n_splits=20, seed=4)
    np.testing.assert_array_equal(m2, m[:, perm])


def _reference_ceiling(neural, n_splits, seed):
    """Direct loops: per split, per neuroid and bin, half means per stimulus, scipy pearsonr;
    average over splits, then Spearman-Brown with k = mean(1/h) / mean(1/n)."""
    sid = neural.stimulus_id.values.astype(str)
    ids = np.unique(sid)
    group = np.searchsorted(ids, sid)
    rep = neural.repetition.values
    masks = split_half_masks(group, rep, n_splits, seed)
    counts = np.bincount(group)
    vals = neural.values
    N, T = vals.shape[1:]
    r = np.zeros((n_splits, N, T))
    for s in range(n_splits):
        for i in range(N):
            for b in range(T):
                a = [vals[(group == g) & (masks[s] == 0), i, b].mean() for g in range(len(ids))]
                c = [vals[(group == g) & (masks[s] == 1), i, b].mean() for g in range(len(ids))]
                r[s, i, b] = scipy.stats.pearsonr(a, c)[0]
    rbar = r.mean(0)
    k = np.mean(1 / (counts // 2)) / np.mean(1 / counts)
    return k * rbar / (1 + (k - 1) * rbar), rbar


@pytest.mark.parametrize("reps", [None, "unequal"])
def test_ceiling_equals_direct_reference(reps):
    rng = np.random.default_rng(5)
    counts = None if reps is None else rng.integers(2, 7, size=20)
    ids, feats, signal, neural = make_world(n_stim=20, n_neur=3, reps=counts, seed=2)
    ceil = split_half_ceiling(neural, n_splits=7, seed=11)
    ref, rbar = _reference_ceiling(neural, 7, 11)
    np.testing.assert_allclose(ceil.values, ref, rtol=1e-10)
    np.testing.assert_allclose(ceil.split_half_r.values, rbar, rtol=1e-10)
    c = np.full(20, 4) if counts is None else counts
    assert ceil.attrs["spearman_brown_k"] == pytest.approx(np.mean(1 / (c // 2)) / np.mean(1 / c), rel=1e-12)
    assert (ceil.attrs["spearman_brown_k"] == 2.0) == (reps is None)
    # order of presentations is irrelevant
    jumbled = neural.isel(presentation=rng.permutation(neural.sizes["presentation"]))
    np.testing.assert_array_equal(split_half_ceiling(jumbled, n_splits=7, seed=11).values, ceil.values)


def test_ceiling_estimates_reliability_of_the_mean():
    # signal variance 1 per neuroid/bin (approximately), noise variance 4 per trial, 4 trials:
    # reliability of the 4-trial mean = var_s / (var_s + 4/4) ~= 0.5
    rng = np.random.default_rng(3)
    n_stim, n_rep = 400, 4
    sig = rng.standard_normal((n_stim, 20, 1))
    vals = np.repeat(sig, n_rep, axis=0) + 2.0 * rng.standard_normal((n_stim * n_rep, 20, 1))
    ids = np.repeat([f"s{i}" for i in range(n_stim)], n_rep)
    neural = neural_assembly(vals, stimulus_id=ids, repetition=np.tile(np.arange(n_rep), n_stim),
                             neuroid_id=[f"n{i}" for i in range(20)], time_bin_start=[70], time_bin_end=[80])
    ceil = split_half_ceiling(neural, n_splits=20)
    expected = sig.var(axis=0)[:, 0] / (sig.var(axis=0)[:, 0] + 1.0)
    assert abs(float(np.mean(ceil.values[:, 0] - expected))) < 0.03


def test_ceiling_needs_trials():
    ids, feats, signal, neural = make_world(n_stim=10)
    from brainfit.assembly import average_repetitions

    with pytest.raises(ValueError, match="no 'repetition' coord"):
        split_half_ceiling(average_repetitions(neural))


def test_a_regions_ceiling_is_its_part_of_the_all_region_ceiling():
    """The memo serves a region's ceiling (and bootstrap halves) from the all-neuroid result: the same
    numbers as computing it alone."""
    from brainfit.assembly import average_repetitions, select_region
    from brainfit.scoring import ceiling as ceiling_module
    from brainfit.scoring.ceiling import _ceiling_for

    _ids, _feats, _signal, neural = make_world(n_stim=40, n_neur=6, seed=11)
    ceiling_module._SPLIT_HALF_MEMO.clear()
    part = select_region(neural, "IT")
    alone = _ceiling_for(part, average_repetitions(part), None, 20, 3, 10, 4)
    ceiling_module._SPLIT_HALF_MEMO.clear()
    _ceiling_for(neural, average_repetitions(neural), None, 20, 3, 10, 4)
    served = _ceiling_for(part, average_repetitions(part), None, 20, 3, 10, 4)
    assert len(ceiling_module._SPLIT_HALF_MEMO) == 1  # served from the all-neuroid entry
    np.testing.assert_allclose(served[0], alone[0], rtol=1e-12)
    np.testing.assert_allclose(served[1]["split_half_r"], alone[1]["split_half_r"], rtol=1e-12)
    assert len(served[1]["halves"]) == len(alone[1]["halves"]) == 4
    for (a1, b1), (a2, b2) in zip(served[1]["halves"], alone[1]["halves"]):
        np.testing.assert_allclose(a1, a2, rtol=1e-12)
        np.testing.assert_allclose(b1, b2, rtol=1e-12)
    changed = part.copy(data=part.values + 1.0)  # other values: computed, not served
    _ceiling_for(changed, average_repetitions(changed), None, 20, 3, 10, 4)
    assert len(ceiling_module._SPLIT_HALF_MEMO) == 2


def test_the_ceiling_memo_never_serves_data_changed_in_place():
    from brainfit.assembly import average_repetitions
    from brainfit.scoring import ceiling as ceiling_module
    from brainfit.scoring.ceiling import _ceiling_for

    _ids, _feats, _signal, neural = make_world(n_stim=40, n_neur=4, seed=12, noise=0.3)
    ceiling_module._SPLIT_HALF_MEMO.clear()
    first = _ceiling_for(neural, average_repetitions(neural), None, 20, 0, 0, 4)[0]
    first[:] = -1.0  # a caller changing its result does not change the memo
    again = _ceiling_for(neural, average_repetitions(neural), None, 20, 0, 0, 4)[0]
    assert (again > 0.5).all()
    neural.values[:] = np.random.default_rng(0).normal(size=neural.shape)  # the same object, new values
    noise = _ceiling_for(neural, average_repetitions(neural), None, 20, 0, 0, 4)[0]
    assert np.abs(noise).mean() < 0.3 < again.mean()


def test_a_ceiling_estimate_is_shared_explicitly_and_refused_on_other_data():
    # score_by_region computes the split-half ceiling once and passes it to the fit and to every
    # region; the same numbers as computing it in each call, and an estimate of other data is refused
    import numpy as np

    from brainfit.assembly import average_repetitions, select_region
    from brainfit.data import load_dataset
    from brainfit.scoring import estimate_ceiling, score_predictions

    _, neural = load_dataset("synthetic", images_per_object=2, n_v4=6, n_it=6)
    avg = average_repetitions(neural)
    rng = np.random.default_rng(0)
    pred = avg.copy(data=avg.values + rng.normal(size=avg.shape))
    est = estimate_ceiling(neural, n_bootstrap=20)
    v4 = select_region(neural, "V4")
    pv4 = pred.isel(neuroid=(pred.region == "V4").values)
    a = score_predictions(pv4, v4, n_bootstrap=20, ceiling_estimate=est)
    b = score_predictions(pv4, v4, n_bootstrap=20)
    for var in ("ceiling", "ceiled", "median_ceiled_ci"):
        np.testing.assert_array_equal(a[var].values, b[var].values)
    with pytest.raises(ValueError, match="ceiling estimate was computed on other trials"):
        score_predictions(pv4, v4, n_bootstrap=20, seed=1, ceiling_estimate=est)  # other ceiling splits
    changed = v4.copy(data=v4.values + 1.0)
    with pytest.raises(ValueError, match="ceiling estimate was computed on other trials"):
        score_predictions(pv4, changed, n_bootstrap=20, ceiling_estimate=est)
