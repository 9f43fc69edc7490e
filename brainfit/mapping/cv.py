"""Out-of-fold predictions: one mapping, one feature matrix, any number of target sets and folds.

:class:`CrossValidatedFit` is the reusable form: it is built once per feature matrix and then
predicts, out of fold, any targets for any folds over any subset of its rows. Its point is the
ridge kernel: for a :class:`~brainfit.mapping.RidgeMapping` in the dual form (more features than
samples) it computes ``Xc Xc'`` once, and every call -- outer folds, nested inner folds on a
training subset, several target sets -- fits from blocks of that one kernel. The blocks give each
fold's exact fit (the deflation of :mod:`brainfit.mapping._solvers` makes the fit invariant to the
common centring), so the predictions equal a fresh fit per call to float rounding. Any other
scikit-learn regressor is cloned and fitted per fold.

:func:`cross_validated_predictions` is the one-call form, which also applies :class:`Splits` by
stimulus id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from tqdm.auto import tqdm

from brainfit.mapping._backend import get_backend
from brainfit.mapping._ridge_folds import check_folds, ridge_cv_predictions, scaled_gram_kernel
from brainfit.mapping._solvers import choose_method
from brainfit.mapping.estimators import RidgeMapping
from brainfit.mapping.splits import Splits

__all__ = ["CrossValidatedFit", "cross_validated_predictions"]

log = logging.getLogger(__name__)


def _check_finite(name: str, a: np.ndarray) -> None:
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} non-finite value(s) (NaN or inf)")


class CrossValidatedFit:
    """Out-of-fold predictions of one mapping from one feature matrix, reusing the ridge kernel.

    Parameters
    ----------
    mapping : estimator, default ``RidgeMapping()``
        A :class:`~brainfit.mapping.RidgeMapping` uses the kernel path described in the module
        docstring; any other scikit-learn regressor is cloned and fitted per fold (its fitted
        state is never reused across folds).
    X : ndarray (n_samples, n_features)
        Features of every sample any later call may use.
    progress : bool
        Show a progress bar over folds in each :meth:`predict`.
    warn_alpha_edges : bool
        Let each ridge :meth:`predict` issue :class:`~brainfit.mapping.AlphaGridWarning`; False
        when the caller summarises ``info["alpha_edge"]`` itself.

    Attributes
    ----------
    mapping : estimator
    X : ndarray (n_samples, n_features)
    reuses_kernel : bool
        True when a ridge kernel (n_samples x n_samples) was computed once for all calls.

    Examples
    --------
    >>> fit = CrossValidatedFit(RidgeMapping(), X)                    # doctest: +SKIP
    >>> pred, info = fit.predict(Y, outer_folds)                      # doctest: +SKIP
    >>> inner_pred, _ = fit.predict(Y[train], inner_folds, rows=train)  # same kernel  # doctest: +SKIP
    """

    def __init__(self, mapping: BaseEstimator | None, X: Any, *, progress: bool = False,
                 warn_alpha_edges: bool = True):
        self.mapping = RidgeMapping() if mapping is None else mapping
        self.X = np.asarray(X)
        self.progress = progress
        self.warn_alpha_edges = warn_alpha_edges
        if self.X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {self.X.shape}")
        _check_finite("X", self.X)
        self._kernel = None
        self._kernel_scale = 1.0
        m = self.mapping
        # dual for all samples implies dual for every (smaller) training set
        if isinstance(m, RidgeMapping) and choose_method(*self.X.shape, m.method, m.fit_intercept) == "dual":
            be = get_backend(m.backend, m.dtype, m.device)
            # far-from-unit features are rescaled exactly by a power of two (_alpha_grid docstring)
            self._kernel, self._kernel_scale = scaled_gram_kernel(self.X, fit_intercept=m.fit_intercept, be=be)
            log.debug("CrossValidatedFit: one %d x %d ridge kernel for all folds", len(self.X), len(self.X))

    @property
    def reuses_kernel(self) -> bool:
        """Whether one ridge kernel serves every call (dual-form :class:`RidgeMapping`)."""
        return self._kernel is not None

    def predict(
        self,
        Y: Any,
        folds: Sequence[tuple[np.ndarray, np.ndarray]],
        rows: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Out-of-fold predictions of ``Y`` from the features of ``rows``.

        Parameters
        ----------
        Y : ndarray (n_rows, n_targets) or (n_rows,)
            Targets of the selected rows, in the order of ``rows``.
        folds : sequence of (train_idx, test_idx) integer arrays
            Positions into the selected rows (``0..n_rows-1``); each must be tested exactly once.
        rows : ndarray (n_rows,) of int, optional
            Rows of ``X`` to use (e.g. an outer fold's training set, for nested inner folds);
            default all.
        groups : ndarray (n_rows,), optional
            Ridge only: a label per selected row; alphas are chosen leaving out whole groups
            (:func:`~brainfit.mapping.ridge_cv_predictions`).

        Returns
        -------
        predictions : ndarray, same shape as ``Y`` (float64)
        info : dict of ndarray (n_folds, n_targets)
            Ridge: ``"alpha"``, ``"train_var"``, ``"alpha_edge"`` and (with more than one alpha) ``"cv_mse"``, see
            :func:`~brainfit.mapping.ridge_cv_predictions`; empty for other mappings.

        Raises
        ------
        ValueError
            When ``Y`` does not match the rows, holds non-finite values, or the folds are invalid.
        """
        X = self.X if rows is None else self.X[rows]
        Y = np.asarray(Y)
        if Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0]:
            raise ValueError(f"Y must be (n_samples[, n_targets]) with n_samples={X.shape[0]}, got shape {Y.shape}")
        _check_finite("Y", Y)
        folds = check_folds(folds, X.shape[0])
        m = self.mapping
        if isinstance(m, RidgeMapping):
            K = None
            if self._kernel is not None:
                K = self._kernel if rows is None else self._kernel[rows][:, rows]
            pred, info = ridge_cv_predictions(X, Y, folds, m.alphas, progress=self.progress, kernel=K,
                                              kernel_scale=self._kernel_scale,
                                              warn_alpha_edges=self.warn_alpha_edges, groups=groups,
                                              **m._solver_kwargs())
            return pred.astype(np.float64), info
        pred = np.empty(Y.shape, dtype=np.float64)
        for tr, te in tqdm(folds, desc="mapping folds", disable=not self.progress, leave=False):
            est = clone(m).fit(X[tr], Y[tr])
            pred[te] = np.asarray(est.predict(X[te])).reshape(pred[te].shape)
        return pred, {}


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

    See Also
    --------
    CrossValidatedFit : the same predictions, reusing one ridge kernel across calls.
    """
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must be (n_samples[, n_targets]) with n_samples={X.shape[0]}, got shape {Y.shape}")
    _check_finite("X", X)
    _check_finite("Y", Y)
    if isinstance(splits, Splits):
        if stimulus_ids is None:
            raise ValueError("stimulus_ids (one per row of X) are needed to apply Splits")
        if len(stimulus_ids) != X.shape[0]:
            raise ValueError(f"got {len(stimulus_ids)} stimulus_ids for {X.shape[0]} rows of X")
        folds = splits.indices(stimulus_ids, name="data")
    else:
        folds = check_folds(splits, X.shape[0])
    pred, info = CrossValidatedFit(mapping, X, progress=progress).predict(Y, folds)
    return (pred, info) if return_info else pred
