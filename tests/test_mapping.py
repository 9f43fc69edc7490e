"""Mapping: ridge solvers and PLS against scikit-learn oracles, estimator contract, splits, CV."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainfit.mapping import (
    PLSMapping, RidgeMapping, Splits, cross_validated_predictions, make_splits, pls_fit, pls_predict, ridge_cv,
    ridge_cv_predictions,
)
from brainfit.mapping._solvers import gram_kernel

ALPHAS = np.logspace(-3, 4, 15)


def _data(n, p, t=5, seed=0, offset=5.0, noise=2.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * 3 + offset
    Y = X @ rng.standard_normal((p, t)) / np.sqrt(p) + noise * rng.standard_normal((n, t)) + 10.0
    Xt = rng.standard_normal((7, p)) * 3 + offset
    return X, Y, Xt


SHAPES = [(40, 10), (30, 80), (25, 25)]  # n > p, n < p, n == p


# ----------------------------------------------------------------------------- ridge oracles


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
    sk = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y)
    pred = sk.predict(Xt)
    np.testing.assert_array_equal(res.alpha, sk.alpha_)
    scale = np.abs(pred - pred.mean(0)).max()
    assert np.abs(res.predictions - pred).max() < 1e-4 * scale


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
    generic = cross_validated_predictions(X, Y, splits.indices(ids), mapping=RidgeCV(alphas=ALPHAS, alpha_per_target=True))
    np.testing.assert_allclose(generic, ref, rtol=1e-12)


def test_precomputed_kernel_reused_for_subsets():
    X, Y, _ = _data(40, 100, t=3)
    rows = np.arange(5, 37)
    folds = Splits.kfold([str(i) for i in rows], n_folds=4).indices([str(i) for i in rows])
    K = gram_kernel(X, fit_intercept=True)  # centred on ALL rows, blocks used for a subset
    a, _ = ridge_cv_predictions(X[rows], Y[rows], folds, ALPHAS, kernel=K[np.ix_(rows, rows)])
    b, _ = ridge_cv_predictions(X[rows], Y[rows], folds, ALPHAS)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


# ----------------------------------------------------------------------------- bad input


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


# ----------------------------------------------------------------------------- PLS


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
    np.testing.assert_allclose(est.predict(Xt), sk.predict(Xt).reshape(6, -1)[:, 0] if q == 1 else sk.predict(Xt), rtol=1e-9, atol=1e-9)


def test_pls_clips_components():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 30)), rng.standard_normal((12, 2))
    est = PLSMapping().fit(X, Y)  # 25 > rank 11 of centred data
    assert est.n_components_ == 11
    sk = PLSRegression(n_components=11, scale=False).fit(X, Y)
    np.testing.assert_allclose(est.predict(X), sk.predict(X), rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- estimator contract


@parametrize_with_checks([RidgeMapping(), RidgeMapping(alphas=1.0, dtype="float64"), PLSMapping()])
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


# ----------------------------------------------------------------------------- splits


def test_splits_deterministic_order_invariant_and_balanced():
    ids = [f"img{i:03d}" for i in range(103)]
    cats = [f"c{i % 4}" for i in range(103)]
    a = Splits.kfold(ids, n_folds=10, seed=7, strata=cats, stratify="category")
    perm = np.random.default_rng(0).permutation(103)
    b = Splits.kfold(np.array(ids)[perm], n_folds=10, seed=7, strata=np.array(cats)[perm], stratify="category")
    assert a == b
    assert a != Splits.kfold(ids, n_folds=10, seed=8, strata=cats)
    sizes = np.bincount(a.folds)
    assert sizes.max() - sizes.min() <= 1
    fold_of = dict(zip(a.stimulus_ids, a.folds))
    for c in set(cats):  # every category spread over the folds (26 members -> 2 or 3 per fold)
        per_fold = np.bincount([fold_of[i] for i, cc in zip(ids, cats) if cc == c], minlength=10)
        assert per_fold.min() >= 2 and per_fold.max() <= 3
    folds = a.indices(ids)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(103))


def test_splits_save_load_by_stimulus_id(tmp_path):
    ids = [f"img{i}" for i in range(30)]
    sp = Splits.kfold(ids, n_folds=5, seed=2, strata=[i % 3 for i in range(30)])
    path = sp.save(tmp_path / "splits.json")
    d = json.loads(path.read_text())
    assert d["folds"]["img7"] == int(dict(zip(sp.stimulus_ids, sp.folds))["img7"])
    loaded = Splits.load(path)
    assert loaded == sp and loaded.fingerprint == sp.fingerprint
    jumbled = list(reversed(ids))  # positions differ, ids decide the folds
    for (tr1, te1), (tr2, te2) in zip(sp.indices(ids), loaded.indices(jumbled)):
        assert set(np.array(ids)[te1]) == set(np.array(jumbled)[te2])


def test_splits_mismatch_is_an_error():
    sp = Splits.kfold([f"s{i}" for i in range(20)], n_folds=4)
    with pytest.raises(ValueError, match=r"1 not in the splits \('x'\), 1 of the splits missing .*\('s3'\)"):
        sp.indices([f"s{i}" for i in range(20) if i != 3] + ["x"])
    with pytest.raises(ValueError, match="n_folds must be between 2 and the number of stimuli"):
        Splits.kfold(["a", "b"], n_folds=3)
    with pytest.raises(ValueError, match="not a brainfit splits object"):
        Splits.from_dict({"folds": {}})


def test_inner_splits_cover_training_set_only():
    sp = Splits.kfold([f"s{i}" for i in range(40)], n_folds=5, seed=3)
    inner = sp.inner(2)
    assert set(inner.stimulus_ids) == set(sp.train_ids(2))
    assert not set(inner.stimulus_ids) & set(sp.test_ids(2))
    assert inner == sp.inner(2) and inner != sp.inner(3)


def test_make_splits_from_assembly_stratifies_by_category():
    from brainfit.assembly import neural_assembly

    ids = np.repeat([f"s{i}" for i in range(24)], 2)
    cats = np.repeat([f"c{i % 3}" for i in range(24)], 2)
    a = neural_assembly(np.zeros((48, 2)), stimulus_id=ids, repetition=np.tile([0, 1], 24), neuroid_id=["n0", "n1"],
                        time_bin_start=[70], time_bin_end=[80], presentation_coords={"category": cats})
    sp = make_splits(a, n_folds=4, seed=0)
    assert sp.stratify == "category" and len(sp.stimulus_ids) == 24
    with pytest.raises(ValueError, match="cannot stratify by 'animal'"):
        make_splits(a, stratify="animal")
