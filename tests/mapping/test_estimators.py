"""The scikit-learn estimator contract of RidgeMapping and PLSMapping."""

from __future__ import annotations

import numpy as np
import pytest
from ridge_data import ALPHAS, _data
from sklearn.linear_model import RidgeCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainfit.mapping import PLSMapping, RidgeMapping


@parametrize_with_checks([RidgeMapping(), RidgeMapping(alphas=1.0, dtype="float64"), PLSMapping()])
@pytest.mark.filterwarnings("ignore::brainfit.mapping.AlphaGridWarning")  # sklearn's tiny data sit at the grid edge
def test_sklearn_estimator_checks(estimator, check):
    # All checks apply and pass; scikit-learn itself skips check_array_api_input unless
    # SCIPY_ARRAY_API is set (our estimators take numpy input only).
    check(estimator)


def test_ridge_mapping_matches_ridgecv_and_attributes():
    X, Y, Xt = _data(30, 80, t=4)
    est = RidgeMapping(alphas=ALPHAS, dtype="float64").fit(X, Y)
    sk = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y)
    np.testing.assert_array_equal(est.alpha_, sk.alpha_)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(est.intercept_, sk.intercept_, rtol=1e-8)
    np.testing.assert_allclose(est.predict(Xt), sk.predict(Xt), rtol=1e-8)
    assert est.method_ == "dual" and est.cv_mse_.shape == (len(ALPHAS), 4)
