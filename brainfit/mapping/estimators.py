"""scikit-learn estimators on top of the array solvers.

:class:`RidgeMapping` and :class:`PLSMapping` follow the scikit-learn contract (keyword-only
parameters stored unchanged by ``__init__``, fitted attributes ending in ``_``, ``clone``-able,
checked with :func:`sklearn.utils.estimator_checks.check_estimator` in the tests), so they can be
used in any scikit-learn tool. Out-of-fold predictions (one ridge kernel for all folds) are in
:mod:`brainfit.mapping.cv`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from brainfit.mapping._solvers import DEFAULT_ALPHAS, ridge_cv
from brainfit.mapping.pls import pls_fit

__all__ = ["RidgeMapping", "PLSMapping"]

log = logging.getLogger(__name__)


class RidgeMapping(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ridge regression with a penalty chosen per target (neuroid) from a grid.

    Parameters
    ----------
    alphas : float or sequence of float, default 1e-2 ... 1e6 (9 values)
        Penalty grid; one value means a fixed penalty (like ``sklearn.linear_model.Ridge``).
    cv : "loo" or int, default "loo"
        Alpha selection by exact efficient leave-one-out (as ``RidgeCV``) or inner K-fold.
    alpha_per_target : bool, default True
    fit_intercept : bool, default True
    method : {"auto", "primal", "dual"}, default "auto"
        ``"auto"``: primal for ``n_features < n_samples``, dual (kernel) otherwise.
    backend : {"auto", "numpy", "torch"}, default "auto"
    dtype : {"float32", "float64"}, default "float32"
        Working precision of the solver (predictions are returned in float64).
    device : str or None
        Torch device (see :func:`brainfit.device.resolve_device`).
    batch_size : int or None
        Targets per batch (default: sized to memory).
    random_state : int or None, default 0
        Seed of the inner K-fold (``cv`` int).

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features) or (n_features,)
    intercept_ : ndarray (n_targets,) or float
    alpha_ : ndarray (n_targets,) or float
        Selected penalty per target.
    cv_mse_ : ndarray (n_alphas, n_targets) or None
        Mean squared LOO / inner-CV error per alpha (None for a single alpha).
    x_mean_, y_mean_ : training means used for centring.
    method_ : {"primal", "dual"}
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        alphas: float | Sequence[float] = DEFAULT_ALPHAS,
        cv: str | int = "loo",
        alpha_per_target: bool = True,
        fit_intercept: bool = True,
        method: str = "auto",
        backend: str = "auto",
        dtype: str = "float32",
        device: str | None = None,
        batch_size: int | None = None,
        random_state: int | None = 0,
    ):
        self.alphas = alphas
        self.cv = cv
        self.alpha_per_target = alpha_per_target
        self.fit_intercept = fit_intercept
        self.method = method
        self.backend = backend
        self.dtype = dtype
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    @property
    def independent_targets(self) -> bool:
        """Whether every target is fitted on its own (several time bins can then share one fit):
        only with a penalty chosen per target; one alpha shared by all targets depends on which
        targets are fitted together."""
        return bool(self.alpha_per_target)

    def _solver_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ridge_cv` / ``ridge_cv_predictions`` (all params but alphas)."""
        return dict(cv=self.cv, alpha_per_target=self.alpha_per_target, fit_intercept=self.fit_intercept,
                    method=self.method, backend=self.backend, dtype=self.dtype, device=self.device,
                    batch_size=self.batch_size, random_state=self.random_state)

    def fit(self, X: Any, y: Any) -> RidgeMapping:
        """Fit on ``X`` (n_samples, n_features) and ``y`` (n_samples[, n_targets])."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        if X.shape[0] < 2:
            raise ValueError(f"RidgeMapping needs at least 2 samples, got n_samples={X.shape[0]}")
        res = ridge_cv(X, y, self.alphas, return_coef=True, **self._solver_kwargs())
        one_d = y.ndim == 1
        coef = res.coef.T.astype(np.float64)
        self.x_mean_ = res.x_mean.astype(np.float64)
        self.y_mean_ = res.y_mean.astype(np.float64)
        intercept = self.y_mean_ - coef @ self.x_mean_
        self.coef_ = coef[0] if one_d else coef
        self.intercept_ = float(intercept[0]) if one_d else intercept
        self.alpha_ = float(res.alpha[0]) if one_d else res.alpha
        self.cv_mse_ = res.cv_mse
        self.method_ = res.method
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (n_samples, n_targets) or (n_samples,), float64."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        # Centre first: with large feature means, X @ coef and x_mean @ coef would nearly cancel.
        Xc = np.asarray(X, dtype=np.float64) - self.x_mean_
        coef = np.atleast_2d(self.coef_)
        pred = Xc @ coef.T + self.y_mean_
        return pred[:, 0] if np.ndim(self.coef_) == 1 else pred

class PLSMapping(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """PLS regression (scikit-learn's ``PLSRegression``, NIPALS), Brain-Score's default neural mapping.

    Fits in float64 (as ``PLSRegression`` does); see :func:`brainfit.mapping.pls_fit`.

    Parameters
    ----------
    n_components : int, default 25
        Clipped to ``min(n_samples - 1, n_features)`` (logged).
    scale : bool, default False
        Standardise features and targets (Brain-Score uses False; scikit-learn's default is True).
    max_iter : int, default 500
    tol : float, default 1e-6

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features) or (n_features,)
    intercept_ : ndarray (n_targets,) or float
    n_components_ : int
        Components extracted (after clipping).
    n_iter_ : list of int
        Power iterations per component.
    n_features_in_ : int
    """

    def __init__(self, *, n_components: int = 25, scale: bool = False, max_iter: int = 500, tol: float = 1e-6):
        self.n_components = n_components
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol

    #: PLS components depend on all targets jointly: bins must be fitted separately.
    independent_targets = False

    def fit(self, X: Any, y: Any) -> PLSMapping:
        """Fit on ``X`` (n_samples, n_features) and ``y`` (n_samples[, n_targets])."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        if X.shape[0] < 2:
            raise ValueError(f"PLSMapping needs at least 2 samples, got n_samples={X.shape[0]}")
        res = pls_fit(X, y, int(self.n_components), scale=self.scale, max_iter=self.max_iter, tol=self.tol)
        one_d = y.ndim == 1
        coef = res.coef.T.astype(np.float64)
        self.x_mean_ = res.x_mean.astype(np.float64)
        self.y_mean_ = res.y_mean.astype(np.float64)
        intercept = self.y_mean_ - coef @ self.x_mean_
        self.coef_ = coef[0] if one_d else coef
        self.intercept_ = float(intercept[0]) if one_d else intercept
        self.n_components_ = res.n_components
        self.n_iter_ = res.n_iter
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions (n_samples, n_targets) or (n_samples,), float64."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        Xc = np.asarray(X, dtype=np.float64) - self.x_mean_
        pred = Xc @ np.atleast_2d(self.coef_).T + self.y_mean_
        return pred[:, 0] if np.ndim(self.coef_) == 1 else pred
