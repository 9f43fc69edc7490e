"""The public masked median and the stimulus bootstrap of the per-bin medians."""

from __future__ import annotations

import warnings

import numpy as np
from scoring_world import acts, make_world

from brainfit.mapping import make_splits
from brainfit.scoring import fit_and_score, median_over


def test_median_over_uses_only_masked_finite_entries():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((3, 7, 4))  # layer x neuroid x bin
    values[0, 2, 1] = np.nan
    mask = rng.random((7, 4)) > 0.3
    mask[:, 3] = False  # a bin with nothing to summarise
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all-NaN slices give NaN without a warning
        got = median_over(values, mask[None], axis=1)
    assert got.shape == (3, 4)
    for layer in range(3):
        for b in range(3):
            keep = values[layer, mask[:, b], b]
            keep = keep[np.isfinite(keep)]
            assert got[layer, b] == np.median(keep)
    assert np.isnan(got[:, 3]).all()
    np.testing.assert_array_equal(median_over(values, np.ones((7, 4), bool)[None], axis=1)[1:],
                                  np.median(values[1:], axis=1))


def test_summaries_are_median_over_reliable_neuroids_and_cis_bracket_them():
    ids, feats, _signal, neural = make_world(n_stim=60, n_neur=6, noise=0.7, seed=2)
    ds = fit_and_score(acts(ids, feats), neural, splits=make_splits(neural, n_folds=5), n_bootstrap=100,
                       progress=False, reliability_threshold=0.2)  # 12 stimuli per test fold
    reliable = ds.reliable.values
    r = ds.r.transpose("layer", "neuroid", "time_bin").values
    np.testing.assert_array_equal(ds.median_r.transpose("layer", "time_bin").values,
                                  median_over(r, reliable[None], axis=1))
    lo, hi = ds.median_r_ci.sel(bound="low").values, ds.median_r_ci.sel(bound="high").values
    assert np.isfinite(lo).all() and (lo < hi).all()
