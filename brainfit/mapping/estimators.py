"""scikit-learn estimators on top of the array solvers, and out-of-fold predictions.

:class:`RidgeMapping` and :class:`PLSMapping` follow the scikit-learn contract (keyword-only
parameters stored unchanged by ``__init__``, fitted attributes ending in ``_``, ``clone``-able,
checked with :func:`sklearn.utils.estimator_checks.check_estimator` in the tests), so they can be
used in any scikit-learn tool. :func:`cross_validated_predictions` returns out-of-fold predictions
for given folds; for ridge in the dual form it computes one kernel for all folds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from brainfit.mapping._solvers import DEFAULT_ALPHAS, check_folds, ridge_cv, ridge_cv_predictions
from brainfit.mapping.pls import pls_fit
from brainfit.mapping.splits import Splits

__all__ = ["RidgeMapping", "PLSMapping", "cross_validated_predictions"]

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

    #: Targets are fitted independently, so several time bins can share one fit.
    independent_targets = True

    def _solver_kwargs(self) -> dict[str, Any]:
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

    def _cv_predict(self, X: np.ndarray, Y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                    progress: bool = False, kernel: Any = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Out-of-fold predictions (one kernel for all folds in the dual; ``kernel`` reuses one)."""
        pred, info = ridge_cv_predictions(X, Y, folds, self.alphas, progress=progress, kernel=kernel,
                                          **self._solver_kwargs())
        return pred.astype(np.float64), info


class PLSMapping(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """PLS regression (NIPALS), Brain-Score's default neural mapping.

    Parameters
    ----------
    n_components : int, default 25
        Clipped to ``min(n_samples - 1, n_features)``.
    scale : bool, default False
        Standardise features and targets (Brain-Score uses False; scikit-learn's default is True).
    max_iter : int, default 500
    tol : float, default 1e-6
    dtype : {"float64", "float32"}, default "float64"

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features) or (n_features,)
    intercept_ : ndarray (n_targets,) or float
    n_components_ : int
    n_features_in_ : int
    """

    def __init__(self, *, n_components: int = 25, scale: bool = False, max_iter: int = 500, tol: float = 1e-6,
                 dtype: str = "float64"):
        self.n_components = n_components
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol
        self.dtype = dtype

    #: PLS components depend on all targets jointly: bins must be fitted separately.
    independent_targets = False

    def fit(self, X: Any, y: Any) -> PLSMapping:
        """Fit on ``X`` (n_samples, n_features) and ``y`` (n_samples[, n_targets])."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32])
        if X.shape[0] < 2:
            raise ValueError(f"PLSMapping needs at least 2 samples, got n_samples={X.shape[0]}")
        res = pls_fit(X, y, int(self.n_components), scale=self.scale, max_iter=self.max_iter, tol=self.tol,
                      dtype=self.dtype)
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


def cross_validated_predictions(
    X: np.ndarray,
    Y: np.ndarray,
    splits: Splits | Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    mapping: BaseEstimator | None = None,
    stimulus_ids: Sequence[str] | None = None,
    progress: bool = False,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Out-of-fold predictions: each sample predicted by a mapping fitted without it.

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    Y : ndarray (n_samples, n_targets) or (n_samples,)
    splits : Splits or sequence of (train_idx, test_idx)
        With :class:`Splits`, ``stimulus_ids`` (one per row, unique) must be given; rows are
        matched to folds by id, and ids that differ from the splits' ids raise.
    mapping : estimator, default ``RidgeMapping()``
        Cloned for every fold (its fitted state is never reused across folds).
    stimulus_ids : sequence of str, optional
    progress : bool
        Show a progress bar over folds.
    return_info : bool
        Also return a dict of per-fold diagnostics (ridge: ``"alpha"``, ``"train_var"``,
        ``"cv_mse"``, each (n_folds, n_targets); see :func:`ridge_cv_predictions`).

    Returns
    -------
    predictions : ndarray, same shape as ``Y`` (float64)
    info : dict (only with ``return_info``)
    """
    mapping = RidgeMapping() if mapping is None else mapping
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must be (n_samples[, n_targets]) with n_samples={X.shape[0]}, got shape {Y.shape}")
    for name, a in (("X", X), ("Y", Y)):
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} non-finite value(s) (NaN or inf)")
    if isinstance(splits, Splits):
        if stimulus_ids is None:
            raise ValueError("stimulus_ids (one per row of X) are needed to apply Splits")
        if len(stimulus_ids) != X.shape[0]:
            raise ValueError(f"got {len(stimulus_ids)} stimulus_ids for {X.shape[0]} rows of X")
        folds = splits.indices(stimulus_ids, name="data")
    else:
        folds = check_folds(splits, X.shape[0])
    if hasattr(mapping, "_cv_predict"):
        pred, info = mapping._cv_predict(X, Y, folds, progress=progress)
    else:
        pred = np.empty(Y.shape, dtype=np.float64)
        for tr, te in tqdm(folds, desc="mapping folds", disable=not progress, leave=False):
            est = clone(mapping).fit(X[tr], Y[tr])
            pred[te] = np.asarray(est.predict(X[te])).reshape(pred[te].shape)
        info = {}
    return (pred, info) if return_info else pred
