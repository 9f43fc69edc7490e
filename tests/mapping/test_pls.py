"""PLS regression against scikit-learn's PLSRegression (Brain-Score's mapping)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression

from brainfit.mapping import PLSMapping, pls_fit, pls_predict


@pytest.mark.parametrize("n,p,q,k,scale", [(40, 12, 5, 4, False), (30, 60, 3, 10, True), (50, 8, 1, 3, True),
                                           (25, 30, 7, 24, False)])
def test_pls_equals_sklearn(n, p, q, k, scale):
    rng = np.random.default_rng(k)
    X = rng.standard_normal((n, p)) * 2 + 1
    Y = X[:, :3] @ rng.standard_normal((3, q)) + rng.standard_normal((n, q))
    Xt = rng.standard_normal((6, p))
    res = pls_fit(X, Y, k, scale=scale)
    sk = PLSRegression(n_components=k, scale=scale).fit(X, Y)
    np.testing.assert_allclose(pls_predict(res, Xt), sk.predict(Xt).reshape(6, -1), rtol=1e-9, atol=1e-9)
    est = PLSMapping(n_components=k, scale=scale).fit(X, Y if q > 1 else Y[:, 0])
    np.testing.assert_allclose(est.predict(Xt), sk.predict(Xt).reshape(6, -1)[:, 0] if q == 1 else sk.predict(Xt),
                               rtol=1e-9, atol=1e-9)


def test_pls_clips_components():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 30)), rng.standard_normal((12, 2))
    est = PLSMapping().fit(X, Y)  # 25 > rank 11 of centred data
    assert est.n_components_ == 11
    sk = PLSRegression(n_components=11, scale=False).fit(X, Y)
    np.testing.assert_allclose(est.predict(X), sk.predict(X), rtol=1e-9, atol=1e-9)
