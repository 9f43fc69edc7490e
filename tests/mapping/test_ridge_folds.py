"""Out-of-fold ridge predictions from one shared kernel, and fold validation."""

from __future__ import annotations

import numpy as np
import pytest
from ridge_data import ALPHAS, _data

from brainfit.mapping import Splits, cross_validated_predictions, ridge_cv_predictions
from brainfit.mapping._ridge_folds import gram_kernel


@pytest.mark.filterwarnings("ignore::brainfit.mapping.AlphaGridWarning")  # 32 samples: many smallest alphas
def test_precomputed_kernel_reused_for_subsets():
    X, Y, _ = _data(40, 100, t=3)
    rows = np.arange(5, 37)
    folds = Splits.kfold([str(i) for i in rows], n_folds=4).indices([str(i) for i in rows])
    K = gram_kernel(X, fit_intercept=True)  # centred on ALL rows, blocks used for a subset
    a, _ = ridge_cv_predictions(X[rows], Y[rows], folds, ALPHAS, kernel=K[np.ix_(rows, rows)])
    b, _ = ridge_cv_predictions(X[rows], Y[rows], folds, ALPHAS)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def test_fold_checks():
    X, Y, _ = _data(10, 3)
    with pytest.raises(ValueError, match="exactly one test fold: 4 never tested, 0 tested more than once"):
        ridge_cv_predictions(X, Y, [(np.arange(4, 10), np.arange(4)), (np.arange(0, 6), np.arange(6, 8))])
    with pytest.raises(ValueError, match="fold 0 has 1 sample"):
        ridge_cv_predictions(X, Y, [(np.arange(0, 6), np.arange(5, 10)), (np.arange(5, 10), np.arange(5))])
    with pytest.raises(ValueError, match="stimulus_ids"):
        cross_validated_predictions(X, Y, Splits.kfold([str(i) for i in range(10)], n_folds=2))
    Yn = Y.copy()
    Yn[0, 0] = np.inf
    with pytest.raises(ValueError, match="Y contains 1 non-finite"):
        cross_validated_predictions(X, Yn, [(np.arange(5, 10), np.arange(5)), (np.arange(5), np.arange(5, 10))])
