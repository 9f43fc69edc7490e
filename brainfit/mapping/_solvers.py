"""Ridge regression solvers on plain arrays (numpy or torch), many targets and many alphas at once.

The problem, for every target column ``y`` of ``Y`` and every ``alpha`` of a grid, is

    minimise_w,b  ||y - X w - b||^2 + alpha ||w||^2                                       (1)

with an unpenalised intercept ``b`` (scikit-learn's ``fit_intercept=True``): centre ``X`` and
``y`` on the training means, solve without intercept, and ``b = mean(y) - mean(X) w``.

One eigendecomposition per training set serves every alpha and every target:

* primal (``p <= n``): ``Xc' Xc = V diag(l) V'``, so ``w(alpha) = V diag(1 / (l + alpha)) V' Xc' y``;
* dual (``p > n``): ``K = Xc Xc' = Q diag(l) Q'``, so the dual coefficients are
  ``c(alpha) = Q diag(1 / (l + alpha)) Q' yc`` and ``w = Xc' c``, predictions ``K_test c``.

Leave-one-out (LOO) errors come from the same decomposition (Rifkin & Lippert 2007, "Notes on
regularized least squares", eqs. for the LOO error of a linear smoother). With the hat matrix
``H = J/n + Xc (Xc' Xc + alpha I)^-1 Xc'`` (``J/n`` is the intercept), the exact LOO error is

    e_i = (y_i - yhat_i) / (1 - H_ii).                                                    (2)

Primal: ``H_ii = 1/n + sum_j (Xc V)_ij^2 / (l_j + alpha)``.
Dual: restricted to the subspace orthogonal to the constant vector (where centred data live),
``1 - H_ii = alpha * sum_j Q_ij^2 / (l_j + alpha)`` and ``y - yhat = alpha * c``, so

    e_i = c_i / sum_j Q_ij^2 / (l_j + alpha).                                              (3)

This is the same quantity scikit-learn's ``RidgeCV`` (``_RidgeGCV``) computes; its intercept term
``d -= G^-1 1 / n`` cancels the ``1/alpha`` eigenvalue of the constant direction. We instead
remove the constant direction *exactly* before the eigendecomposition (a Householder reflection
maps ``1/sqrt(n)`` to ``-e_1``; the remaining ``(n-1) x (n-1)`` block is the kernel on the
centred subspace). Why: in float32 the constant direction's eigenvalue is not 0 but rounding
noise of order ``eps * ||K||``, which for small alphas would swamp ``alpha`` in (3). With the
deflation, (3) involves only genuine eigenvalues, the fit is invariant to any common shift of
the rows of ``X``. So one kernel, centred once on all stimuli, serves every CV fold: its training
block gives the fold's exact decomposition, and test rows are re-centred on the fold's training
mean with a rank-one correction (``_predict_from_kernel`` in :mod:`brainfit.mapping._ridge_folds`,
which holds the cross-validated predictions built on this). Selected alphas and predictions
match scikit-learn's float64 results.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from brainfit.mapping._alpha_grid import (
    AlphaGridWarning,
    _check_finite_result,
    _unscale,
    alpha_edges,
    edge_codes,
    feature_scale,
    scaled_alphas,
)
from brainfit.mapping._backend import Backend, get_backend
from brainfit.mapping._grouped_loo import grouped_loo_mse

__all__ = ["DEFAULT_ALPHAS", "RidgeResult", "choose_method", "ridge_cv"]

#: Default alpha grid: 1e-2 ... 1e6, one per decade (as in the brainfit benchmark).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 6, 9))

# Working memory for one batch of targets (the n x batch intermediate per alpha, a few copies).
_BATCH_BYTES = 512 * 2**20


@dataclass
class RidgeResult:
    """Output of :func:`ridge_cv` (numpy arrays, working dtype).

    Attributes
    ----------
    alpha : ndarray (n_targets,)
        Selected alpha per target (all equal when ``alpha_per_target=False``).
    coef : ndarray (n_features, n_targets) or None
        Weights on *centred* features (``None`` when ``return_coef=False``).
    x_mean : ndarray (n_features,)
        Training feature means (zeros without intercept).
    y_mean : ndarray (n_targets,)
        Training target means (zeros without intercept).
    cv_mse : ndarray (n_alphas, n_targets) or None
        Mean squared LOO (or inner K-fold) error per alpha and target; ``None`` for one alpha.
    predictions : ndarray (n_test, n_targets) or None
        Predictions for ``X_test`` when given.
    method : {"primal", "dual"}
    """

    alpha: np.ndarray
    coef: np.ndarray | None
    x_mean: np.ndarray
    y_mean: np.ndarray
    cv_mse: np.ndarray | None
    predictions: np.ndarray | None
    method: str

    @property
    def intercept(self) -> np.ndarray:
        """``y_mean - x_mean @ coef``, shape (n_targets,) (scikit-learn's ``intercept_``)."""
        if self.coef is None:
            raise ValueError("intercept needs the coefficients; call ridge_cv with return_coef=True")
        return self.y_mean - self.x_mean.astype(np.float64) @ self.coef.astype(np.float64)


# ----------------------------------------------------------------------------- validation


def _check_alphas(alphas: float | Sequence[float]) -> np.ndarray:
    a = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"alphas must be a positive number or a 1-D sequence of them, got {alphas!r}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alphas must be finite and > 0, got {a.tolist()}")
    return a


def _as_numpy(x: Any, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim not in ndim:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndim)}, got shape {arr.shape}")
    if arr.size and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains {int((~np.isfinite(arr)).sum())} non-finite value(s) (NaN or inf), "
                         f"first at index {tuple(int(i) for i in bad)}")
    return arr


def _check_xy(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    X = _as_numpy(X, "X", (2,))
    Y = _as_numpy(Y, "Y", (1, 2))
    one_d = Y.ndim == 1
    if one_d:
        Y = Y[:, None]
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y have different numbers of samples: {X.shape[0]} and {Y.shape[0]}")
    if X.shape[0] < 2:
        raise ValueError(f"ridge needs at least 2 samples, got {X.shape[0]}")
    if X.shape[1] == 0 or Y.shape[1] == 0:
        raise ValueError(f"X and Y need at least one column, got shapes {X.shape} and {Y.shape}")
    return X, Y, one_d


def choose_method(n_samples: int, n_features: int, method: str = "auto", fit_intercept: bool = True) -> str:
    """``"primal"`` when ``n_features <= n_samples``, else ``"dual"`` (unless forced).

    With an intercept, centred data have rank ``<= n_samples - 1``, so ``n_features ==
    n_samples`` goes to the dual: the primal covariance would have an exactly-zero eigenvalue
    whose rounding noise, divided by a small alpha, costs accuracy in float32.
    """
    if method not in ("auto", "primal", "dual"):
        raise ValueError(f"method must be 'auto', 'primal' or 'dual', got {method!r}")
    if method == "auto":
        rank_bound = n_samples - 1 if fit_intercept else n_samples
        return "primal" if n_features <= rank_bound else "dual"
    return method


# ----------------------------------------------------------------------------- building blocks


def _center_into(X: np.ndarray, mean: np.ndarray | None, be: Backend, rows: np.ndarray | None = None,
                 scale: float = 1.0) -> Any:
    """``(X[rows] - mean) * scale`` in the working dtype, computed chunk-wise in float64 so that a
    large common offset (e.g. ReLU activations) is removed *before* rounding to float32, and a
    far-from-unit scale (:func:`~brainfit.mapping._alpha_grid.feature_scale`) before float32 overflows."""
    n = X.shape[0] if rows is None else len(rows)
    if be.name == "numpy" and X.dtype == be.dtype and rows is None and scale == 1.0:
        # Input already in the working precision: its own rounding (eps * |x|) is all there is
        # to lose, so subtract in place of the float64 round trip (saves a pass over X).
        return X - mean.astype(be.dtype) if mean is not None else X.copy()
    out = be.empty((n, X.shape[1]))
    step = max(1, int(2**25 // max(1, X.shape[1])))  # ~256 MB of float64 per chunk
    for i in range(0, n, step):
        idx = slice(i, min(n, i + step)) if rows is None else rows[i:i + step]
        chunk = np.asarray(X[idx], dtype=np.float64)
        if mean is not None:
            chunk = chunk - mean
        if scale != 1.0:
            chunk = chunk * scale
        out[i:i + chunk.shape[0]] = be.asarray(chunk)
    return out


def _mean64(X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    sub = X if rows is None else X[rows]
    return sub.mean(axis=0, dtype=np.float64)


@dataclass
class _Decomposition:
    """One training set's eigendecomposition.

    ``proj`` (n x r) maps centred targets to spectral coordinates ``S = proj' Yc`` and back:
    with ``Z = S / (l + alpha)``, the primal fitted values are ``proj @ Z`` (weights ``V Z``) and
    the dual coefficients are ``c = proj @ Z``; the LOO denominators of (2)/(3) are
    ``(proj**2) @ (1 / (l + alpha))``.
    """

    kind: str
    evals: Any  # (r,)
    basis: Any  # primal: V (p x r); dual: Q (n x r)
    proj: Any  # primal: Xc V (n x r); dual: Q (n x r)
    n: int
    fit_intercept: bool


def _decompose_primal(Xc: Any, fit_intercept: bool, be: Backend) -> _Decomposition:
    cov = Xc.T @ Xc  # (p, p); numpy dispatches X'X to a symmetric rank-k update
    evals, V = be.eigh(cov, overwrite=True)
    evals = be.clamp_min(evals, 0.0)  # X'X is PSD; rounding can give -eps
    return _Decomposition("primal", evals, V, Xc @ V, Xc.shape[0], fit_intercept)


def _decompose_dual(K: Any, fit_intercept: bool, be: Backend, overwrite: bool = False) -> _Decomposition:
    """Eigendecomposition of a (training) kernel; with an intercept, on the subspace orthogonal
    to the constant vector (Householder deflation, see the module docstring)."""
    n = K.shape[0]
    if not fit_intercept:
        evals, Q = be.eigh(K, overwrite=overwrite)
        return _Decomposition("dual", be.clamp_min(evals, 0.0), Q, Q, n, False)
    if n < 2:
        raise ValueError("a ridge fit with intercept needs at least 2 training samples")
    # Householder reflection P = I - beta v v' with v = u + e_1, u = 1/sqrt(n): P u = -e_1, so
    # (P K P)[1:, 1:] is K restricted to the complement of the constant direction.
    c = 1.0 / math.sqrt(n)
    v = be.full((n,), c)
    v[0] += 1.0
    beta = 2.0 / float(v @ v)
    w = K @ v
    g = beta * float(v @ w)
    # (P K P)[1:,1:] = K11 - beta*c*(1 w1' + w1 1') + beta*g*c^2 11' = K11 - u 1' - 1 u'
    u = beta * c * w[1:] - 0.5 * beta * g * c * c
    block = K[1:, 1:] - u[:, None] - u[None, :]
    evals, W = be.eigh(block, overwrite=True)
    evals = be.clamp_min(evals, 0.0)
    # Back to n-space: Q = P [0; W] = [0; W] - beta * c * v (1' W)
    Q = be.empty((n, n - 1))
    Q[0] = 0.0
    Q[1:] = W
    Q -= (beta * c) * v[:, None] * W.sum(0)[None, :]
    return _Decomposition("dual", evals, Q, Q, n, True)


def _inverse_spectrum(dec: _Decomposition, alphas: np.ndarray, be: Backend) -> Any:
    """``1 / (l_j + alpha_a)``, shape (r, n_alphas)."""
    return 1.0 / (dec.evals[:, None] + be.asarray(alphas)[None, :])


def _batches(n_targets: int, n_rows: int, batch_size: int | None, itemsize: int) -> list[slice]:
    if batch_size is None:
        batch_size = max(1, int(_BATCH_BYTES // (4 * max(1, n_rows) * itemsize)))
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return [slice(i, min(n_targets, i + batch_size)) for i in range(0, n_targets, batch_size)]


def _loo_mse(dec: _Decomposition, Yc: Any, S: Any, alphas: np.ndarray, be: Backend, batches: list[slice]) -> Any:
    """Mean squared exact LOO error, eqs. (2)/(3), shape (n_alphas, n_targets)."""
    Dinv = _inverse_spectrum(dec, alphas, be)  # (r, A)
    lev = (dec.proj * dec.proj) @ Dinv  # (n, A): sum_j proj_ij^2 / (l_j + alpha)
    if dec.kind == "primal":
        denom = 1.0 - lev - (1.0 / dec.n if dec.fit_intercept else 0.0)  # 1 - H_ii
    else:
        denom = lev  # e_i = c_i / denom (eq. 3)
    mse = be.empty((len(alphas), S.shape[1]))
    for sl in batches:
        Sb = S[:, sl]
        for a in range(len(alphas)):
            fitted_or_c = dec.proj @ (Sb * Dinv[:, a:a + 1])
            if dec.kind == "primal":
                err = (Yc[:, sl] - fitted_or_c) / denom[:, a:a + 1]
            else:
                err = fitted_or_c / denom[:, a:a + 1]
            mse[a, sl] = (err * err).mean(0)
    return mse


def _kfold_mse(data: Any, Y: Any, kind: str, fit_intercept: bool, alphas: np.ndarray, n_folds: int,
               random_state: int | None, be: Backend, batches: list[slice], groups: np.ndarray | None = None) -> Any:
    """Mean squared inner K-fold error, shape (n_alphas, n_targets).

    ``data`` is the training kernel (dual; validation kernels are its off-diagonal blocks) or the
    training features (primal, re-centred on each inner training set). With ``groups`` (int codes
    per row) the folds hold whole groups.
    """
    n = Y.shape[0]
    units = n if groups is None else int(groups.max()) + 1
    if not 2 <= n_folds <= units:
        raise ValueError(f"inner cv={n_folds} needs 2 <= folds <= n_samples ({units}"
                         + (" groups)" if groups is not None else ")"))
    perm = np.random.default_rng(random_state).permutation(units)
    fold_of = np.empty(units, dtype=int)
    fold_of[perm] = np.arange(units) % n_folds
    if groups is not None:
        fold_of = fold_of[groups]
    sse = be.zeros((len(alphas), Y.shape[1]))
    for k in range(n_folds):
        tr, va = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        tr_i, va_i = be.index(tr), be.index(va)
        Ytr = Y[tr_i]
        y_mean = be.mean0(Ytr) if fit_intercept else be.zeros((Y.shape[1],))
        Ytr = Ytr - y_mean
        if kind == "dual":
            K_in = data[tr_i][:, tr_i]
            # the validation rows must be centred on the *inner* training mean: subtract the
            # training rows' mean kernel (see _ridge_folds._predict_from_kernel)
            row_mean = K_in.mean(0)
            dec = _decompose_dual(K_in, fit_intercept, be, overwrite=True)
            K_va = data[va_i][:, tr_i]
            val_proj = (K_va - row_mean[None, :] if fit_intercept else K_va) @ dec.proj
        else:
            Xtr = data[tr_i]
            x_mean = be.mean0(Xtr) if fit_intercept else be.zeros((Xtr.shape[1],))
            dec = _decompose_primal(Xtr - x_mean, fit_intercept, be)
            val_proj = (data[va_i] - x_mean) @ dec.basis
        S = dec.proj.T @ Ytr
        Dinv = _inverse_spectrum(dec, alphas, be)
        Yva = Y[va_i] - y_mean
        for sl in batches:
            for a in range(len(alphas)):
                pred = val_proj @ (S[:, sl] * Dinv[:, a:a + 1])
                err = Yva[:, sl] - pred
                sse[a, sl] += (err * err).sum(0)
    return sse / n


def _select(mse: np.ndarray, alpha_per_target: bool) -> np.ndarray:
    """Index of the best alpha per target; the first (smallest-index) alpha wins ties, as in
    scikit-learn's ``RidgeCV`` (it only replaces the best alpha on a strict improvement)."""
    if alpha_per_target:
        return np.argmin(mse, axis=0)
    return np.full(mse.shape[1], int(np.argmin(mse.mean(axis=1))))


def _fit_train(
    data: Any, Y: Any, alphas: np.ndarray, *, kind: str, fit_intercept: bool, cv: str | int,
    alpha_per_target: bool, be: Backend, batch_size: int | None, random_state: int | None,
    overwrite: bool = False, groups: np.ndarray | None = None,
) -> tuple[_Decomposition, Any, Any, np.ndarray, np.ndarray | None]:
    """Decompose one training set, choose alphas, return spectral coefficients.

    ``data``: centred training features (primal) or training kernel (dual). ``Y``: training
    targets (working dtype, not centred). ``groups``: int codes per row; the alpha is then chosen
    leaving out whole groups (exact leave-one-group-out for ``cv="loo"``,
    :mod:`brainfit.mapping._grouped_loo`; group K-fold for an int ``cv``).

    Returns
    -------
    dec, Z (r x t) with fitted values ``dec.proj @ Z`` (primal: ``w = V Z``; dual: ``c = Q Z``),
    y_mean (t,), selected alpha index (t,), cv mse (A x t) or None.
    """
    n, t = Y.shape
    y_mean = be.mean0(Y) if fit_intercept else be.zeros((t,))
    Yc = Y - y_mean
    if kind == "dual":
        dec = _decompose_dual(data, fit_intercept, be, overwrite=overwrite)
    else:
        dec = _decompose_primal(data, fit_intercept, be)
    S = dec.proj.T @ Yc  # (r, t) spectral coordinates of the targets
    batches = _batches(t, n, batch_size, be.dtype.itemsize)
    mse = None
    if len(alphas) == 1:
        idx = np.zeros(t, dtype=int)
    else:
        if cv == "loo" and groups is not None:
            mse_be = be.asarray(grouped_loo_mse(kind, *(be.to_numpy(x).astype(np.float64) for x in
                                                        (dec.evals, dec.proj, Yc, S)),
                                                np.asarray(alphas, dtype=np.float64), groups, fit_intercept))
        elif cv == "loo":
            mse_be = _loo_mse(dec, Yc, S, alphas, be, batches)
        else:
            mse_be = _kfold_mse(data, Y, kind, fit_intercept, alphas, int(cv),
                                random_state, be, batches, groups)
        mse = be.to_numpy(mse_be)
        idx = _select(mse, alpha_per_target)
    Dinv = _inverse_spectrum(dec, alphas, be)  # (r, A)
    Z = S * Dinv[:, be.index(idx)]  # per-target alpha: column t uses 1/(l + alpha_idx[t])
    return dec, Z, y_mean, idx, mse


def _check_cv(cv: str | int) -> str | int:
    if isinstance(cv, str):
        if cv != "loo":
            raise ValueError(f"cv must be 'loo' or an int >= 2 (inner K-fold), got {cv!r}")
        return cv
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool) and cv >= 2:
        return int(cv)
    raise ValueError(f"cv must be 'loo' or an int >= 2 (inner K-fold), got {cv!r}")


# ----------------------------------------------------------------------------- public functions


def ridge_cv(
    X: np.ndarray,
    Y: np.ndarray,
    alphas: float | Sequence[float] = DEFAULT_ALPHAS,
    *,
    cv: str | int = "loo",
    alpha_per_target: bool = True,
    fit_intercept: bool = True,
    method: str = "auto",
    X_test: np.ndarray | None = None,
    return_coef: bool = True,
    backend: str = "auto",
    dtype: str = "float32",
    device: Any = None,
    batch_size: int | None = None,
    random_state: int | None = 0,
) -> RidgeResult:
    """Ridge regression for many targets with the alpha chosen per target from a grid.

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    Y : ndarray (n_samples, n_targets) or (n_samples,)
    alphas : float or sequence of float
        Penalties of eq. (1). A single value fits that alpha (no selection), like ``Ridge``.
    cv : "loo" or int
        ``"loo"``: exact efficient leave-one-out errors from the eigendecomposition (what
        ``RidgeCV(cv=None)`` does). ``int``: inner K-fold (seeded with ``random_state``).
    alpha_per_target : bool
        Choose an alpha per target (True) or one alpha minimising the mean error over targets.
    fit_intercept : bool
        Centre X and Y on the training means (scikit-learn semantics).
    method : {"auto", "primal", "dual"}
        ``"auto"``: primal when ``n_features <= n_samples``, dual (kernel) otherwise.
    X_test : ndarray (n_test, n_features), optional
        Samples to predict.
    return_coef : bool
        Compute the weights (costs ``n * p * t`` flops in the dual).
    backend, dtype, device
        See :func:`brainfit.mapping._backend.get_backend`; float32 by default.
    batch_size : int, optional
        Targets per batch (default: sized to ~512 MB of intermediates).

    Returns
    -------
    RidgeResult

    Warns
    -----
    AlphaGridWarning
        When the chosen alpha is at an edge of the grid for at least half of the targets
        (:mod:`brainfit.mapping._alpha_grid`). Features far from unit scale are solved exactly
        after a power-of-two rescaling, never overflowing float32.
    """
    X, Y, _ = _check_xy(X, Y)
    alphas = _check_alphas(alphas)
    cv = _check_cv(cv)
    be = get_backend(backend, dtype, device)
    n, p = X.shape
    kind = choose_method(n, p, method, fit_intercept)
    x_mean = _mean64(X) if fit_intercept else np.zeros(p)
    # exact power-of-two rescaling of far-from-unit features (alphas * c**2; _alpha_grid docstring)
    c = feature_scale(X, x_mean if fit_intercept else None)
    Xc = _center_into(X, x_mean if fit_intercept else None, be, scale=c)
    Yb = be.asarray(Y)
    data = be.gram(Xc) if kind == "dual" else Xc
    a_work = scaled_alphas(alphas, c, be.dtype)
    dec, Z, y_mean, idx, mse = _fit_train(
        data, Yb, a_work, kind=kind, fit_intercept=fit_intercept, cv=cv, alpha_per_target=alpha_per_target,
        be=be, batch_size=batch_size, random_state=random_state, overwrite=False,
    )
    del data
    evals = be.to_numpy(dec.evals)
    edges = alpha_edges(edge_codes(idx, alphas, evals, a_work), alphas)
    if edges.at_edge:
        warnings.warn(edges.message("targets", float(evals.max()) / c**2), AlphaGridWarning, stacklevel=2)
    if kind == "dual":
        C = dec.basis @ Z  # (n, t) dual coefficients
        coef = Xc.T @ C if (return_coef or X_test is not None) else None
    else:
        coef = dec.basis @ Z  # (p, t)
    preds = None
    if X_test is not None:
        Xt = _as_numpy(X_test, "X_test", (2,))
        if Xt.shape[1] != p:
            raise ValueError(f"X_test has {Xt.shape[1]} features, X has {p}")
        preds = be.to_numpy(_center_into(Xt, x_mean if fit_intercept else None, be, scale=c) @ coef + y_mean)
        _check_finite_result(preds, c)
    return RidgeResult(
        alpha=alphas[idx],
        coef=_unscale(be.to_numpy(coef), c) if (return_coef and coef is not None) else None,
        x_mean=x_mean.astype(be.dtype),
        y_mean=be.to_numpy(y_mean),
        cv_mse=mse,
        predictions=preds,
        method=kind,
    )
