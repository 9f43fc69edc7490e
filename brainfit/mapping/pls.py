"""Partial least squares regression (PLS1/PLS2, NIPALS), the mapping Brain-Score uses by default.

Brain-Score maps model features to neural sites with scikit-learn's
``PLSRegression(n_components=25, scale=False)``; this is the same algorithm on plain arrays so
that brainfit's PLS scores are comparable with Brain-Score's, step for step (Wegelin 2000, "A
survey of Partial Least Squares (PLS) methods", section 11.3, "PLS2" regression mode):

for each component ``k``: the first pair of singular vectors of ``Xk' Yk`` by the power method
(``x_weights``, ``y_weights``), scores ``t = Xk x_weights``, loadings ``p = Xk' t / t't`` and
``q = Yk' t / t't``, deflation ``Xk -= t p'`` and ``Yk -= t q'``. The regression coefficients are
``W (P' W)^+ Q'`` in the (optionally scaled) centred space.

Choices that follow scikit-learn exactly (so predictions agree to rounding): the power method
starts from the first non-constant target column, stops when the squared change of
``x_weights`` drops below ``tol`` (or after one iteration for a single target), adds ``eps`` to
the normalisations, and flips signs so the largest ``|x_weights|`` entry is positive.
``scale=True`` divides features and targets by their standard deviations (``ddof=1``; constant
columns by 1). Unlike scikit-learn, ``n_components`` larger than ``min(n_samples - 1, n_features)`` (the rank
of centred data) is clipped to it (logged) instead of raising, so one setting works for every
layer and fold.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = ["PLSResult", "pls_fit", "pls_predict"]

log = logging.getLogger(__name__)


@dataclass
class PLSResult:
    """Fitted PLS regression.

    Attributes
    ----------
    coef : ndarray (n_features, n_targets)
        Coefficients on centred features, in the original units (``predict = (X - x_mean) @ coef
        + y_mean``).
    x_mean : ndarray (n_features,)
    y_mean : ndarray (n_targets,)
    n_components : int
        Components actually extracted (after clipping, or fewer if the targets' residual became
        constant).
    n_iter : list of int
        Power iterations per component.
    """

    coef: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    n_components: int
    n_iter: list[int]


def _first_singular_vectors(X: np.ndarray, Y: np.ndarray, max_iter: int, tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    """First left/right singular vectors of ``X' Y`` by the power method (NIPALS inner loop)."""
    eps = np.finfo(X.dtype).eps
    nonconstant = np.flatnonzero(np.any(np.abs(Y) > eps, axis=0))
    if len(nonconstant) == 0:
        raise StopIteration("y residual is constant")
    y_score = Y[:, nonconstant[0]].copy()
    x_weights_old = None
    single = Y.shape[1] == 1
    for i in range(max_iter):
        x_weights = X.T @ y_score / (y_score @ y_score)
        x_weights /= np.sqrt(x_weights @ x_weights) + eps
        x_score = X @ x_weights
        y_weights = Y.T @ x_score / (x_score @ x_score)
        y_score = Y @ y_weights / (y_weights @ y_weights + eps)
        if single:
            break
        if x_weights_old is not None:
            diff = x_weights - x_weights_old
            if diff @ diff < tol:
                break
        x_weights_old = x_weights
    n_iter = i + 1
    if n_iter == max_iter:
        warnings.warn("PLS power method reached max_iter without converging", RuntimeWarning, stacklevel=3)
    return x_weights, y_weights, n_iter


def pls_fit(
    X: np.ndarray,
    Y: np.ndarray,
    n_components: int = 25,
    *,
    scale: bool = False,
    max_iter: int = 500,
    tol: float = 1e-6,
    dtype: str = "float64",
) -> PLSResult:
    """Fit PLS regression (NIPALS, regression-mode deflation).

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    Y : ndarray (n_samples, n_targets)
    n_components : int
        Number of latent components (Brain-Score: 25); clipped to ``min(n_samples - 1, n_features)``.
    scale : bool
        Standardise features and targets (scikit-learn's default is True; Brain-Score uses False).
    max_iter, tol : power-method limits (scikit-learn's defaults).
    dtype : {"float64", "float32"}

    Returns
    -------
    PLSResult
    """
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    X = np.array(X, dtype=dtype, copy=True)
    Y = np.array(Y, dtype=dtype, copy=True)
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"PLS needs X (n, p) and Y (n, q) with the same n, got {X.shape} and {Y.shape}")
    n, p = X.shape
    if n < 2:
        raise ValueError(f"PLS needs at least 2 samples, got {n}")
    for name, a in (("X", X), ("Y", Y)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} non-finite value(s) (NaN or inf)")
    # Centred data have rank <= n - 1: a component beyond that is numerical noise.
    bound = min(n - 1, p)
    if n_components > bound:
        log.info("PLS: n_components=%d clipped to min(n_samples - 1, n_features)=%d", n_components, bound)
        n_components = bound
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    X -= x_mean
    Y -= y_mean
    if scale:
        x_std = X.std(axis=0, ddof=1)
        x_std[x_std == 0.0] = 1.0
        X /= x_std
        y_std = Y.std(axis=0, ddof=1)
        y_std[y_std == 0.0] = 1.0
        Y /= y_std
    else:
        x_std = np.ones(p, dtype=X.dtype)
        y_std = np.ones(Y.shape[1], dtype=Y.dtype)
    q = Y.shape[1]
    W = np.zeros((p, n_components), dtype=X.dtype)
    P = np.zeros((p, n_components), dtype=X.dtype)
    Q = np.zeros((q, n_components), dtype=X.dtype)
    y_eps = np.finfo(Y.dtype).eps
    n_iter: list[int] = []
    done = 0
    for k in range(n_components):
        Y[:, np.all(np.abs(Y) < 10 * y_eps, axis=0)] = 0.0  # as scikit-learn: exact zeros
        try:
            x_weights, y_weights, it = _first_singular_vectors(X, Y, max_iter, tol)
        except StopIteration:
            log.info("PLS: targets' residual is constant after %d component(s); stopping", k)
            break
        n_iter.append(it)
        sign = np.sign(x_weights[np.argmax(np.abs(x_weights))])
        x_weights *= sign
        x_scores = X @ x_weights
        tt = x_scores @ x_scores
        x_loadings = x_scores @ X / tt
        X -= np.outer(x_scores, x_loadings)
        y_loadings = x_scores @ Y / tt
        Y -= np.outer(x_scores, y_loadings)
        W[:, k], P[:, k], Q[:, k] = x_weights, x_loadings, y_loadings
        done = k + 1
    W, P, Q = W[:, :done], P[:, :done], Q[:, :done]
    if done == 0:
        coef = np.zeros((p, q), dtype=X.dtype)
    else:
        rotations = W @ scipy.linalg.pinv(P.T @ W, check_finite=False)
        coef = (rotations @ Q.T) * y_std[None, :] / x_std[:, None]
    return PLSResult(coef=coef, x_mean=x_mean, y_mean=y_mean, n_components=done, n_iter=n_iter)


def pls_predict(result: PLSResult, X: np.ndarray) -> np.ndarray:
    """Predictions ``(X - x_mean) @ coef + y_mean``, shape (n_samples, n_targets)."""
    X = np.asarray(X, dtype=result.coef.dtype)
    return (X - result.x_mean) @ result.coef + result.y_mean
