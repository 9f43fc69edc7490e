"""Leave-one-group-out penalty choice: the exact shortcut matches refitting scikit-learn's Ridge without
each group, in the primal and the dual, and it differs from row-wise LOO when a group's rows are
copies of each other (a readout shared across bins of a static model) -- the bias it removes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from brainfit.mapping import ridge_cv_predictions

ALPHAS = np.array([1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3])


def brute_force(X, Y, groups, alphas):
    """Mean squared leave-one-group-out error per alpha and target, by refitting."""
    sse = np.zeros((len(alphas), Y.shape[1]))
    for a, alpha in enumerate(alphas):
        for g in np.unique(groups):
            out = groups == g
            fit = Ridge(alpha=alpha).fit(X[~out], Y[~out])
            sse[a] += ((Y[out] - fit.predict(X[out])) ** 2).sum(0)
    return sse / len(Y)


@pytest.mark.parametrize("p", [5, 60])  # primal (p < rows) and dual (p > rows)
def test_grouped_loo_matches_refitting_without_each_group(p):
    rng = np.random.default_rng(3)
    n_groups, size, t = 12, 3, 4
    groups = np.repeat(np.arange(n_groups), size)
    X = rng.standard_normal((n_groups * size, p))
    Y = X[:, :3] @ rng.standard_normal((3, t)) + rng.standard_normal((n_groups * size, t))
    folds = [(np.arange(len(X))[groups >= 4], np.arange(len(X))[groups < 4]),
             (np.arange(len(X))[groups < 4], np.arange(len(X))[groups >= 4])]
    _, info = ridge_cv_predictions(X, Y, folds, ALPHAS, groups=groups, dtype="float64")
    for k, (tr, _) in enumerate(folds):
        mse = brute_force(X[tr], Y[tr], groups[tr], ALPHAS)
        np.testing.assert_array_equal(info["alpha"][k], ALPHAS[mse.argmin(0)])
        np.testing.assert_allclose(info["cv_mse"][k], mse.min(0), rtol=1e-6)


def test_copies_within_a_group_fool_row_wise_loo_but_not_the_grouped_one():
    # every stimulus's row repeated 4 times (a static model's features in 4 bins): leaving out one
    # copy keeps three in training, so row-wise LOO sees almost no error and wants no penalty
    rng = np.random.default_rng(0)
    n, p, copies = 40, 30, 4
    X1 = rng.standard_normal((n, p))
    Y1 = X1[:, :2] @ np.array([[1.0], [0.5]]) + 2.0 * rng.standard_normal((n, 1))
    X, Y = np.tile(X1, (copies, 1)), np.tile(Y1, (copies, 1)) + 0.1 * rng.standard_normal((n * copies, 1))
    groups = np.tile(np.arange(n), copies)
    half = groups < n // 2
    folds = [(np.flatnonzero(~half), np.flatnonzero(half)), (np.flatnonzero(half), np.flatnonzero(~half))]
    _, rows = ridge_cv_predictions(X, Y, folds, ALPHAS, dtype="float64")
    _, grouped = ridge_cv_predictions(X, Y, folds, ALPHAS, groups=groups, dtype="float64", warn_alpha_edges=False)
    assert (rows["alpha"] == ALPHAS[0]).all()  # row-wise: the smallest penalty
    assert (grouped["alpha"] > ALPHAS[0]).all()
    assert (grouped["cv_mse"] > 5 * rows["cv_mse"]).all()  # the grouped error is the honest one


def test_bad_groups_are_refused():
    X, Y = np.ones((6, 2)), np.ones((6, 1))
    folds = [(np.arange(3), np.arange(3, 6)), (np.arange(3, 6), np.arange(3))]
    with pytest.raises(ValueError, match="one label per row"):
        ridge_cv_predictions(X, Y, folds, ALPHAS, groups=[0, 1])
    with pytest.raises(ValueError, match="at least 2 groups"):
        ridge_cv_predictions(X, Y, folds, ALPHAS, groups=np.zeros(6))
