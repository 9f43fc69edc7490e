"""Ridge solvers on arrays against scikit-learn oracles (primal, dual, LOO, inner K-fold, backends)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ridge_data import ALPHAS, SHAPES, _data
from sklearn.linear_model import Ridge, RidgeCV

from brainfit.mapping import Splits, ridge_cv, ridge_cv_predictions


@pytest.mark.parametrize("n,p", SHAPES)
@pytest.mark.parametrize("method", ["primal", "dual"])
def test_fixed_alpha_equals_sklearn_ridge(n, p, method):
    X, Y, Xt = _data(n, p)
    res = ridge_cv(X, Y, 2.5, method=method, dtype="float64", X_test=Xt)
    sk = Ridge(alpha=2.5).fit(X, Y)
    assert res.method == method
    np.testing.assert_allclose(res.predictions, sk.predict(Xt), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.coef.T, sk.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.intercept, sk.intercept_, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n,p", SHAPES)
@pytest.mark.parametrize("method", ["primal", "dual"])
def test_loo_alphas_equal_sklearn_ridgecv(n, p, method):
    X, Y, Xt = _data(n, p, t=8)
    res = ridge_cv(X, Y, ALPHAS, method=method, dtype="float64", X_test=Xt)
    sk = RidgeCV(alphas=ALPHAS, alpha_per_target=True, store_cv_results=True).fit(X, Y)
    np.testing.assert_array_equal(res.alpha, sk.alpha_)
    assert len(np.unique(res.alpha)) > 1  # the grid matters for these targets
    # the LOO errors themselves: sklearn stores squared errors (n, t, n_alphas)
    np.testing.assert_allclose(res.cv_mse, sk.cv_results_.mean(axis=0).T, rtol=1e-6)
    np.testing.assert_allclose(res.predictions, sk.predict(Xt), rtol=1e-8, atol=1e-8)


def test_shared_alpha_equals_sklearn():
    X, Y, Xt = _data(30, 60, t=6)
    res = ridge_cv(X, Y, ALPHAS, alpha_per_target=False, dtype="float64", X_test=Xt)
    sk = RidgeCV(alphas=ALPHAS).fit(X, Y)
    assert np.all(res.alpha == sk.alpha_)
    np.testing.assert_allclose(res.predictions, sk.predict(Xt), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("n,p", [(40, 10), (30, 80)])
def test_no_intercept_equals_sklearn(n, p):
    X, Y, Xt = _data(n, p)
    res = ridge_cv(X, Y, ALPHAS, fit_intercept=False, dtype="float64", X_test=Xt)
    sk = RidgeCV(alphas=ALPHAS, alpha_per_target=True, fit_intercept=False).fit(X, Y)
    np.testing.assert_array_equal(res.alpha, sk.alpha_)
    np.testing.assert_allclose(res.predictions, sk.predict(Xt), rtol=1e-8, atol=1e-8)


@pytest.mark.filterwarnings("ignore::brainfit.mapping.AlphaGridWarning")  # one noisy target at the grid's top
def test_auto_method_and_single_target():
    X, Y, Xt = _data(30, 80)
    assert ridge_cv(X, Y[:, 0], 1.0).method == "dual"
    assert ridge_cv(X[:, :20], Y[:, 0], 1.0).method == "primal"
    assert ridge_cv(X[:, :30], Y[:, 0], 1.0).method == "dual"  # p == n: centred rank n-1
    res = ridge_cv(X, Y[:, 0], ALPHAS, dtype="float64", X_test=Xt)
    sk = RidgeCV(alphas=ALPHAS).fit(X, Y[:, 0])
    assert res.alpha[0] == sk.alpha_
    np.testing.assert_allclose(res.predictions[:, 0], sk.predict(Xt), rtol=1e-8)


@pytest.mark.parametrize("n,p", [(60, 20), (40, 300)])
def test_float32_matches_sklearn_despite_offsets(n, p):
    # large common offsets (like ReLU activations) must be removed before rounding to float32
    X, Y, Xt = _data(n, p, t=6, offset=1e3)
    res = ridge_cv(X, Y, ALPHAS, X_test=Xt)  # float32 default
    sk = RidgeCV(alphas=ALPHAS, alpha_per_target=True, store_cv_results=True).fit(X, Y)
    pred = sk.predict(Xt)
    same = res.alpha == sk.alpha_
    # where float32 picks another alpha, it is a tie below float32's resolution: with p > n the
    # smallest alphas all give the minimum-norm interpolant, whose LOO errors agree to ~1e-7
    loo = sk.cv_results_.mean(axis=0)  # (targets, alphas): scikit-learn's float64 LOO errors
    idx = {a: i for i, a in enumerate(ALPHAS)}
    for j in np.flatnonzero(~same):
        a, b = loo[j, idx[res.alpha[j]]], loo[j, idx[sk.alpha_[j]]]
        assert abs(a - b) <= 1e-5 * b, (j, res.alpha[j], sk.alpha_[j], a, b)
    assert same.sum() >= len(same) - 1
    scale = np.abs(pred - pred.mean(0)).max()
    assert np.abs(res.predictions[:, same] - pred[:, same]).max() < 1e-4 * scale


def test_batches_do_not_change_results():
    X, Y, Xt = _data(30, 80, t=9)
    a = ridge_cv(X, Y, ALPHAS, X_test=Xt, dtype="float64")
    b = ridge_cv(X, Y, ALPHAS, X_test=Xt, dtype="float64", batch_size=2)
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_allclose(a.predictions, b.predictions, rtol=1e-12)


def test_torch_backend_matches_numpy():
    X, Y, Xt = _data(30, 80, t=6)
    a = ridge_cv(X, Y, ALPHAS, X_test=Xt, dtype="float64", backend="numpy")
    b = ridge_cv(X, Y, ALPHAS, X_test=Xt, dtype="float64", backend="torch")
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_allclose(a.predictions, b.predictions, rtol=1e-8, atol=1e-7)
    for method in ("primal", "dual"):
        folds = Splits.kfold([str(i) for i in range(30)], n_folds=3).indices([str(i) for i in range(30)])
        pa, _ = ridge_cv_predictions(X, Y, folds, ALPHAS, dtype="float64", backend="numpy", method=method)
        pb, _ = ridge_cv_predictions(X, Y, folds, ALPHAS, dtype="float64", backend="torch", method=method)
        np.testing.assert_allclose(pa, pb, rtol=1e-8, atol=1e-7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    X, Y, Xt = _data(60, 300, t=6)
    a = ridge_cv(X, Y, ALPHAS, X_test=Xt, dtype="float64")
    b = ridge_cv(X, Y, ALPHAS, X_test=Xt, dtype="float64", device="cuda")
    np.testing.assert_array_equal(a.alpha, b.alpha)
    np.testing.assert_allclose(a.predictions, b.predictions, rtol=1e-8)


@pytest.mark.parametrize("method", ["primal", "dual"])
def test_inner_kfold_matches_reference(method):
    X, Y, Xt = _data(36, 12 if method == "primal" else 60, t=4)
    k = 4
    res = ridge_cv(X, Y, ALPHAS, cv=k, random_state=3, dtype="float64", method=method, X_test=Xt)
    # reference: the same seeded fold assignment, scikit-learn Ridge per fold and alpha
    perm = np.random.default_rng(3).permutation(len(X))
    fold_of = np.empty(len(X), int)
    fold_of[perm] = np.arange(len(X)) % k
    sse = np.zeros((len(ALPHAS), Y.shape[1]))
    for f in range(k):
        tr, va = fold_of != f, fold_of == f
        for i, a in enumerate(ALPHAS):
            sse[i] += ((Ridge(alpha=a).fit(X[tr], Y[tr]).predict(X[va]) - Y[va]) ** 2).sum(0)
    np.testing.assert_array_equal(res.alpha, ALPHAS[np.argmin(sse, axis=0)])
    np.testing.assert_allclose(res.cv_mse, sse / len(X), rtol=1e-8)
    ref = np.column_stack([Ridge(alpha=a).fit(X, Y[:, j]).predict(Xt) for j, a in enumerate(res.alpha)])
    np.testing.assert_allclose(res.predictions, ref, rtol=1e-8, atol=1e-8)


def test_ridge_bad_input_messages():
    X, Y, _ = _data(20, 5)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        ridge_cv(Xn, Y)
    with pytest.raises(ValueError, match="different numbers of samples: 20 and 19"):
        ridge_cv(X, Y[:19])
    with pytest.raises(ValueError, match="alphas must be finite and > 0"):
        ridge_cv(X, Y, [1.0, 0.0])
    with pytest.raises(ValueError, match="cv must be 'loo' or an int"):
        ridge_cv(X, Y, cv="gcv")
    with pytest.raises(ValueError, match="method must be"):
        ridge_cv(X, Y, method="svd")
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        ridge_cv(X, Y, dtype="float16")
    with pytest.raises(ValueError, match="X_test has 4 features, X has 5"):
        ridge_cv(X, Y, X_test=X[:, :4])


def test_small_eigendecompositions_run_on_one_blas_thread_and_restore_the_count():
    """scipy's BLAS pool is held at one thread inside eigh of small matrices only (it fought
    numpy's pool for the cores), shared by concurrent calls, and restored after the last."""
    import threading

    from brainfit.mapping import _backend

    libs = _backend._scipy_blas_controller().lib_controllers
    if not libs:
        pytest.skip("scipy shares its BLAS with numpy here: nothing is limited")
    before = [lib.num_threads for lib in libs]
    seen = {}
    with _backend._serial_blas(_backend.SERIAL_EIGH_MAX):
        seen["small"] = [lib.num_threads for lib in libs]
        inner_done = threading.Event()

        def other_fit():
            with _backend._serial_blas(10):
                seen["nested"] = [lib.num_threads for lib in libs]
            inner_done.set()

        t = threading.Thread(target=other_fit)
        t.start()
        t.join()
        assert inner_done.is_set()
        seen["after nested"] = [lib.num_threads for lib in libs]  # the outer call still holds it
    with _backend._serial_blas(_backend.SERIAL_EIGH_MAX + 1):
        seen["large"] = [lib.num_threads for lib in libs]
    assert seen["small"] == seen["nested"] == seen["after nested"] == [1] * len(libs)
    assert seen["large"] == before and [lib.num_threads for lib in libs] == before
    # and the eigendecomposition itself is the same as with every thread
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    be = _backend.get_backend("numpy", "float64")
    evals, _ = be.eigh(a.T @ a)
    np.testing.assert_allclose(evals, np.linalg.eigvalsh((a.T @ a).astype(np.float64)), rtol=1e-4, atol=1e-3)
