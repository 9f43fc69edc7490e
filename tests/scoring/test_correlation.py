"""Correlations: Pearson r with constants, standardisation within folds."""

from __future__ import annotations

import numpy as np
import scipy.stats

from brainfit.scoring import pearson_r, standardize_within_folds


def test_pearson_r_matches_scipy_and_handles_constants():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    ref = [scipy.stats.pearsonr(x[:, j], y[:, j])[0] for j in range(4)]
    np.testing.assert_allclose(pearson_r(x, y), ref, rtol=1e-12)
    x[:, 1] = 3.0
    y[:, 2] = -1.0
    r = pearson_r(x, y)
    assert r[1] == 0.0 and np.isnan(r[2])


def test_standardize_within_folds_gives_weighted_mean_of_fold_correlations():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 3))
    x[20:] = 10 * x[20:] + 100  # a different offset and scale in fold 1
    fold = np.repeat([0, 1], 20)
    r = pearson_r(standardize_within_folds(x, fold), standardize_within_folds(y, fold))
    per_fold = (pearson_r(x[:20], y[:20]) + pearson_r(x[20:], y[20:])) / 2
    np.testing.assert_allclose(r, per_fold, rtol=1e-12)
