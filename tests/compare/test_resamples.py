"""The resample cache (brainfit.compare.Resamples): the same numbers as resampling every time, from
one stimulus-resample pass per score Dataset, on score Datasets from score_predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from brainfit.compare import (
    Resamples,
    compare_models,
    compare_pairs,
    leaderboard,
    neuroid_resampled_medians,
    resampled_medians,
    stimulus_weights,
)
from brainfit.mapping import make_splits
from brainfit.scoring import score_predictions

N_STIM, N_SITES, N_BINS = 90, 16, 4


@pytest.fixture(scope="module")
def scores():
    """Single-trial responses (some sites unreliable in some bins) and four models' out-of-fold
    predictions, scored within folds on the same splits."""
    rng = np.random.default_rng(3)
    gain = rng.uniform(0.1, 1.5, (1, N_SITES, N_BINS))  # weak-signal sites fall below the reliability threshold
    signal = rng.standard_normal((N_STIM, N_SITES, N_BINS)) * gain
    reps = 3
    ids = np.array([f"s{i:03d}" for i in range(N_STIM)])
    trials = signal[None] + rng.standard_normal((reps, N_STIM, N_SITES, N_BINS))
    starts = 70.0 + 10 * np.arange(N_BINS)
    neural = xr.DataArray(
        trials.reshape(reps * N_STIM, N_SITES, N_BINS), dims=("presentation", "neuroid", "time_bin"),
        coords={"stimulus_id": ("presentation", np.tile(ids, reps)),
                "repetition": ("presentation", np.repeat(np.arange(reps), N_STIM)),
                "neuroid_id": ("neuroid", [f"n{i}" for i in range(N_SITES)]), "region": ("neuroid", ["IT"] * N_SITES),
                "time_bin_start": ("time_bin", starts), "time_bin_end": ("time_bin", starts + 10)})
    splits = make_splits(neural.isel(presentation=slice(0, N_STIM)).drop_vars("repetition"), n_folds=3, seed=0,
                         stratify=None)
    out = {}
    for k, noise in enumerate((0.3, 0.6, 1.0, 2.0)):
        pred = xr.DataArray(signal + noise * rng.standard_normal(signal.shape),
                            dims=("presentation", "neuroid", "time_bin"),
                            coords={"stimulus_id": ("presentation", ids), "neuroid_id": neural.neuroid_id,
                                    "time_bin_start": neural.time_bin_start, "time_bin_end": neural.time_bin_end})
        out[f"m{k}"] = {"IT": score_predictions(pred, neural, splits=splits, keep_predictions=True, n_bootstrap=0)}
    reliable = out["m0"]["IT"]["reliable"].values
    assert 0 < reliable.sum() < reliable.size  # the masks are not trivial
    return out


PAIRS = [("m0", "m1"), ("m0", "m2"), ("m0", "m3"), ("m1", "m2")]


def test_pairs_and_leaderboard_through_the_cache_are_bit_identical(scores):
    kw = {"n_bootstrap": 120, "n_permutations": 200}
    plain = compare_pairs(scores, PAIRS, **kw)
    cache = Resamples()
    cached = compare_pairs(scores, PAIRS, resamples=cache, **kw)
    pd.testing.assert_frame_equal(plain.per_bin, cached.per_bin, check_exact=True)
    pd.testing.assert_frame_equal(plain.clusters, cached.clusters, check_exact=True)
    assert plain.settings == cached.settings
    assert cache.n_computed == 4 and len(cache) == 4  # one pass per model, not one per pair
    board = leaderboard(scores, n_bootstrap=120, resamples=cache)
    pd.testing.assert_frame_equal(leaderboard(scores, n_bootstrap=120), board, check_exact=True)
    # the leaderboard reused every model's resamples; its mask (reliable) is every pair's here, so
    # the medians too: 8 calls in the pairs (4 first ones computed) and 4 in the leaderboard
    assert cache.n_computed == 4 and cache.n_reused == 4 + 4


def test_medians_match_resampled_medians_for_any_mask(scores):
    ds = scores["m1"]["IT"]
    w = stimulus_weights(N_STIM, 50, 7)
    cache = Resamples(batch=20)  # batches as resampled_medians is called with below
    reliable = ds["reliable"].values
    got = cache.medians(ds, n_bootstrap=50, seed=7)
    want = resampled_medians(ds, w, batch=20)
    for k in ("r", "ceiled"):
        np.testing.assert_array_equal(got[k], want[k])  # the reliable set: bit for bit
        assert not got[k].flags.writeable
    # a smaller mask: the held columns' r come from a wider matrix product, equal up to BLAS rounding
    fewer = reliable.copy()
    fewer[np.flatnonzero(reliable[:, 1])[:3], 1] = False
    got, want = cache.medians(ds, fewer, n_bootstrap=50, seed=7), resampled_medians(ds, w, fewer, batch=20)
    for k in ("r", "ceiled"):
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-13)
    assert cache.n_computed == 1
    # a mask beyond the reliable set widens the held columns (one more pass)
    wider = reliable | np.eye(N_SITES, N_BINS, dtype=bool)
    got, want = cache.medians(ds, wider, n_bootstrap=50, seed=7), resampled_medians(ds, w, wider, batch=20)
    for k in ("r", "ceiled"):
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-13)
    assert cache.n_computed == 2
    # other resamples are another key
    other = cache.medians(ds, n_bootstrap=30, seed=1)
    np.testing.assert_allclose(other["r"], resampled_medians(ds, stimulus_weights(N_STIM, 30, 1))["r"], atol=1e-13)
    assert cache.n_computed == 3 and len(cache) == 2
    with pytest.raises(ValueError, match=r"mask has shape \(3, 3\)"):
        cache.medians(ds, np.ones((3, 3), bool), n_bootstrap=50, seed=7)


def test_a_pair_mask_smaller_than_reliable_differs_only_by_rounding(scores):
    """A site-bin whose score is NaN for one model leaves the pair's mask; its CIs then agree with
    the uncached ones to float rounding, every other column exactly."""
    a = scores["m0"]["IT"]
    i, t = np.argwhere(a["reliable"].values)[0]
    for v in ("r", "ceiled"):
        x = a[v].values.copy()
        x[i, t] = np.nan
        a = a.assign({v: (("neuroid", "time_bin"), x)})
    b = scores["m2"]["IT"]
    plain = compare_models(a, b, n_bootstrap=80, n_permutations=100).per_bin
    cached = compare_models(a, b, n_bootstrap=80, n_permutations=100, resamples=Resamples()).per_bin
    rounding = ["ci_low", "ci_high", "ci_low_r", "ci_high_r"]
    pd.testing.assert_frame_equal(plain.drop(columns=rounding), cached.drop(columns=rounding), check_exact=True)
    np.testing.assert_allclose(cached[rounding].to_numpy(), plain[rounding].to_numpy(), rtol=0, atol=1e-13)


def test_released_columns_are_computed_again_to_the_same_bits(scores):
    cache = Resamples(max_bytes=0)  # keeps only the Dataset just computed
    a, b = scores["m0"]["IT"], scores["m3"]["IT"]
    first = cache.medians(a, n_bootstrap=40, seed=0)
    cache.medians(b, n_bootstrap=40, seed=0)
    assert cache.nbytes == 40 * int(b["reliable"].values.sum()) * 8  # a's columns released
    assert cache.medians(a, n_bootstrap=40, seed=0) is first and cache.n_computed == 2  # medians kept
    mask = a["reliable"].values & (np.arange(N_BINS) != 2)[None, :]
    again = cache.medians(a, mask, n_bootstrap=40, seed=0)  # a new mask: a's columns again
    assert cache.n_computed == 3
    np.testing.assert_array_equal(again["r"][:, [0, 1, 3]], first["r"][:, [0, 1, 3]])
    assert np.isnan(again["r"][:, 2]).all()
    with pytest.raises(ValueError, match="max_bytes must be"):
        Resamples(max_bytes=-1)


def test_neuroid_medians_are_the_same_arrays_once(scores):
    ds = scores["m2"]["IT"]
    cache = Resamples()
    mask = ds["reliable"].values & np.isfinite(ds["ceiled"].values)
    got = cache.neuroid_medians(ds, "ceiled", mask, n_bootstrap=60, seed=4)
    np.testing.assert_array_equal(got, neuroid_resampled_medians(ds["ceiled"].values, mask, 60, 4))
    assert cache.neuroid_medians(ds, "ceiled", mask.copy(), n_bootstrap=60, seed=4) is got
    assert cache.neuroid_medians(ds, "r", mask, n_bootstrap=60, seed=4) is not got


def test_scores_without_predictions_are_refused_as_before(scores):
    bare = scores["m0"]["IT"].drop_vars(["prediction", "response"])
    with pytest.raises(ValueError, match="keep_predictions=True"):
        Resamples().medians(bare, n_bootstrap=10, seed=0)
