"""Partial least squares regression, the mapping Brain-Score uses by default, on plain arrays.

Brain-Score maps model features to neural sites with scikit-learn's
``PLSRegression(n_components=25, scale=False)`` (NIPALS, regression-mode deflation; Wegelin 2000,
"A survey of Partial Least Squares (PLS) methods", section 11.3). :func:`pls_fit` *is* that
estimator, so brainfit's PLS scores equal Brain-Score's; it adds one thing: ``n_components``
larger than ``min(n_samples - 1, n_features)`` (the rank of centred data) is clipped to it
(logged) instead of fitting noise components or raising, so one setting works for every layer and
fold. When the targets' residual becomes constant before the last component, extraction stops
there (scikit-learn's warning becomes a log message) and :attr:`PLSResult.n_components` says how
many components were extracted.

Why scikit-learn and not an own NIPALS (docs/design.md, house style 12): brainfit used to carry a
hand-written NIPALS that matched ``PLSRegression`` to rounding. Measured in one run on the
2-core development machine with ``python benchmarks/bench_pls.py`` (n=864 training stimuli, 96
test stimuli, 192 targets, 25 components, ``scale=False``, float64, ReLU-like features; the
script keeps the retired NIPALS to reproduce this):

=========  ====================  ===================  ==========================
features   hand-written NIPALS   scikit-learn         time sklearn / NIPALS
=========  ====================  ===================  ==========================
p=512      1.04 s                1.08 s               1.04
p=3000     2.60 s                2.58 s               0.99
=========  ====================  ===================  ==========================

Test predictions agree to 7e-15. Same speed, same numbers: the maintained implementation is
used, and ``pls_fit`` adds only the clipping (its time is within 6% of bare ``PLSRegression``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.cross_decomposition import PLSRegression

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


def pls_fit(
    X: np.ndarray,
    Y: np.ndarray,
    n_components: int = 25,
    *,
    scale: bool = False,
    max_iter: int = 500,
    tol: float = 1e-6,
) -> PLSResult:
    """Fit PLS regression (scikit-learn's ``PLSRegression``, NIPALS), float64.

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    Y : ndarray (n_samples, n_targets) or (n_samples,)
    n_components : int
        Number of latent components (Brain-Score: 25); clipped to ``min(n_samples - 1, n_features)``.
    scale : bool
        Standardise features and targets (scikit-learn's default is True; Brain-Score uses False).
    max_iter, tol : power-method limits (scikit-learn's defaults).

    Returns
    -------
    PLSResult

    Raises
    ------
    ValueError
        ``n_components < 1``, mismatched shapes, fewer than 2 samples or non-finite values.
    """
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
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
    model = PLSRegression(n_components=int(n_components), scale=scale, max_iter=max_iter, tol=tol)
    with warnings.catch_warnings():
        # a constant residual means the targets are explained: stopping there is expected (logged below)
        warnings.filterwarnings("ignore", message="y residual is constant", category=UserWarning)
        model.fit(X, Y)
    done = len(model.n_iter_)
    if done < n_components:
        log.info("PLS: targets' residual is constant after %d component(s); stopping", done)
    # scikit-learn's coef_ (n_targets, n_features) acts on centred, unscaled features
    return PLSResult(coef=np.array(model.coef_.T), x_mean=X.mean(axis=0), y_mean=np.array(model.intercept_),
                     n_components=done, n_iter=list(model.n_iter_))


def pls_predict(result: PLSResult, X: np.ndarray) -> np.ndarray:
    """Predictions ``(X - x_mean) @ coef + y_mean``, shape (n_samples, n_targets)."""
    X = np.asarray(X, dtype=result.coef.dtype)
    return (X - result.x_mean) @ result.coef + result.y_mean
