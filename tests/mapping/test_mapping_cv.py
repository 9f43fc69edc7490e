"""Cross-validated predictions (``brainfit.mapping.cv``) against per-fold scikit-learn fits."""

from __future__ import annotations

import numpy as np
import pytest
from ridge_data import ALPHAS, _data
from sklearn.linear_model import RidgeCV

from brainfit.mapping import (
    CrossValidatedFit,
    PLSMapping,
    RidgeMapping,
    Splits,
    cross_validated_predictions,
)


@pytest.mark.parametrize("p", [10, 120])
def test_cv_predictions_equal_per_fold_sklearn(p):
    X, Y, _ = _data(48, p, t=5)
    ids = [f"s{i}" for i in range(48)]
    splits = Splits.kfold(ids, n_folds=4, seed=1)
    mapping = RidgeMapping(alphas=ALPHAS, dtype="float64")
    pred, info = cross_validated_predictions(X, Y, splits, mapping=mapping, stimulus_ids=ids, return_info=True)
    ref = np.empty_like(Y)
    for k, (tr, te) in enumerate(splits.indices(ids)):
        sk = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X[tr], Y[tr])
        ref[te] = sk.predict(X[te])
        np.testing.assert_array_equal(info["alpha"][k], sk.alpha_)
    np.testing.assert_allclose(pred, ref, rtol=1e-8, atol=1e-8)
    # the generic clone/fit/predict path (any scikit-learn regressor) gives the same
    generic = cross_validated_predictions(X, Y, splits.indices(ids),
                                          mapping=RidgeCV(alphas=ALPHAS, alpha_per_target=True))
    np.testing.assert_allclose(generic, ref, rtol=1e-12)


@pytest.mark.parametrize("p,dual", [(10, False), (120, True)])
def test_cross_validated_fit_equals_cross_validated_predictions(p, dual):
    X, Y, _ = _data(48, p, t=5)
    ids = [f"s{i}" for i in range(48)]
    splits = Splits.kfold(ids, n_folds=4, seed=1)
    folds = splits.indices(ids)
    mapping = RidgeMapping(alphas=ALPHAS, dtype="float64")
    fit = CrossValidatedFit(mapping, X)
    assert fit.reuses_kernel == dual
    pred, info = fit.predict(Y, folds)
    ref, ref_info = cross_validated_predictions(X, Y, splits, mapping=mapping, stimulus_ids=ids, return_info=True)
    assert pred.dtype == np.float64 and pred.shape == Y.shape
    np.testing.assert_array_equal(pred, ref)
    assert set(info) == set(ref_info) == {"alpha", "train_var", "cv_mse", "alpha_edge"}
    for k in info:
        np.testing.assert_array_equal(info[k], ref_info[k])
    # any other regressor: cloned per fold, no info
    pls = CrossValidatedFit(PLSMapping(n_components=3), X)
    assert not pls.reuses_kernel
    p_pls, info_pls = pls.predict(Y, folds)
    np.testing.assert_array_equal(p_pls, cross_validated_predictions(X, Y, folds, mapping=PLSMapping(n_components=3)))
    assert info_pls == {}


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-9), ("float32", 1e-4)])
def test_cross_validated_fit_reuses_kernel_for_subsets_like_a_fresh_fit(dtype, tol):
    # nested use: the kernel computed on all 60 rows serves the inner folds of an outer training set
    X, Y, _ = _data(60, 150, t=4, offset=50.0)
    mapping = RidgeMapping(alphas=ALPHAS, dtype=dtype)
    fit = CrossValidatedFit(mapping, X)
    assert fit.reuses_kernel
    outer = Splits.kfold([f"s{i:02d}" for i in range(60)], n_folds=5, seed=2)
    ids = outer.stimulus_ids
    for k in range(2):
        tr = np.flatnonzero(outer.folds != k)
        inner = outer.inner(k).indices(ids[tr])
        reused, info = fit.predict(Y[tr], inner, rows=tr)
        fresh, fresh_info = CrossValidatedFit(mapping, X[tr]).predict(Y[tr], inner)
        scale = np.abs(fresh - fresh.mean(0)).max()
        np.testing.assert_allclose(reused, fresh, rtol=0, atol=tol * scale)
        if dtype == "float32":
            continue  # near-tied LOO errors of the smallest alphas may pick a neighbouring alpha in float32
        np.testing.assert_array_equal(info["alpha"], fresh_info["alpha"])
        # and the fresh fit equals scikit-learn per inner fold
        for (itr, ite), a in zip(inner, info["alpha"]):
            sk = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X[tr][itr], Y[tr][itr])
            np.testing.assert_array_equal(a, sk.alpha_)
            np.testing.assert_allclose(reused[ite], sk.predict(X[tr][ite]), rtol=0, atol=tol * scale)


def test_cross_validated_fit_bad_input():
    X, Y, _ = _data(20, 30)
    folds = [(np.arange(10, 20), np.arange(10)), (np.arange(10), np.arange(10, 20))]
    with pytest.raises(ValueError, match="X must be 2-D"):
        CrossValidatedFit(RidgeMapping(), X[0])
    Xn = X.copy()
    Xn[1, 1] = np.nan
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        CrossValidatedFit(RidgeMapping(), Xn)
    fit = CrossValidatedFit(None, X)
    assert isinstance(fit.mapping, RidgeMapping)
    with pytest.raises(ValueError, match=r"Y must be \(n_samples\[, n_targets\]\) with n_samples=20"):
        fit.predict(Y[:19], folds)
    with pytest.raises(ValueError, match="Y must be .* with n_samples=10"):
        fit.predict(Y, folds, rows=np.arange(10))
    with pytest.raises(ValueError, match="exactly one test fold: 5 never tested"):
        fit.predict(Y, [(np.arange(10, 20), np.arange(5)), (np.arange(10), np.arange(10, 20))])
