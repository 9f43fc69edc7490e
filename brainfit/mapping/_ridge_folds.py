"""Cross-validated ridge predictions from one shared kernel, and fold validation.

Builds on the solvers of :mod:`brainfit.mapping._solvers` (whose docstring holds the maths). The
point of this module: in the dual (``n_features > n_train``) a kernel ``Xc Xc'`` computed *once*
on all samples serves every fold -- and every nested inner fold -- because the deflated
eigendecomposition of a training block is exactly the fold's own decomposition (it is invariant
to any common shift of the rows), and test rows are re-centred on the fold's training mean by the
rank-one correction of :func:`_predict_from_kernel`. :class:`brainfit.mapping.CrossValidatedFit`
is the public face of that reuse.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from brainfit.mapping._alpha_grid import (
    AlphaGridWarning,
    _check_finite_result,
    alpha_edges,
    edge_codes,
    feature_scale,
    scaled_alphas,
)
from brainfit.mapping._backend import Backend, get_backend
from brainfit.mapping._grouped_loo import check_groups
from brainfit.mapping._solvers import (
    DEFAULT_ALPHAS,
    _as_numpy,
    _center_into,
    _check_alphas,
    _check_cv,
    _check_xy,
    _fit_train,
    _mean64,
    choose_method,
)

__all__ = ["check_folds", "gram_kernel", "ridge_cv_predictions", "scaled_gram_kernel"]

log = logging.getLogger(__name__)


def ridge_cv_predictions(
    X: np.ndarray,
    Y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    alphas: float | Sequence[float] = DEFAULT_ALPHAS,
    *,
    cv: str | int = "loo",
    alpha_per_target: bool = True,
    fit_intercept: bool = True,
    method: str = "auto",
    backend: str = "auto",
    dtype: str = "float32",
    device: Any = None,
    batch_size: int | None = None,
    random_state: int | None = 0,
    progress: bool = False,
    kernel: Any = None,
    kernel_scale: float = 1.0,
    warn_alpha_edges: bool = True,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Out-of-fold ridge predictions; alphas chosen on each training set only.

    In the dual (``n_features > n_train``) one kernel ``Xc Xc'`` on all samples serves every fold:
    training and test kernels are its blocks, and the deflated decomposition of each training
    block makes the result identical to centring on that fold's training mean (module docstring).

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    Y : ndarray (n_samples, n_targets) or (n_samples,)
    folds : sequence of (train_idx, test_idx) integer arrays
        Each sample must be in exactly one test set.
    kernel : array (n_samples, n_samples), optional
        Precomputed ``Xc Xc'`` for the dual, in this backend/dtype, where ``Xc`` is ``X`` minus any
        common row vector (with ``fit_intercept``) or ``X`` itself (without). Lets callers reuse
        one kernel for outer and nested inner folds (its blocks). Ignored in the primal.
    kernel_scale : float
        The factor the features were multiplied by before ``kernel`` was computed
        (the second value of :func:`scaled_gram_kernel`, see :mod:`brainfit.mapping._alpha_grid`);
        the alphas are multiplied by its square. Default 1.
    warn_alpha_edges : bool
        Issue :class:`AlphaGridWarning` (below); False for callers that summarise
        ``info["alpha_edge"]`` over many calls themselves (``fit_and_score``).
    groups : ndarray (n_samples,), optional
        A label per row: each training set chooses its alphas leaving out whole groups (exact
        leave-one-group-out with ``cv="loo"``), e.g. every (stimulus, bin) row of one stimulus
        for a readout shared across bins; ``cv_mse`` is then the grouped error.
    Other parameters as in :func:`brainfit.mapping.ridge_cv`.

    Returns
    -------
    predictions : ndarray (n_samples, n_targets) (or (n_samples,) for 1-D ``Y``)
    info : dict of ndarray (n_folds, n_targets)
        ``"alpha"``: alpha selected in each fold; ``"train_var"``: variance of the training
        targets; ``"alpha_edge"`` (int8): -1 / +1 where the selected alpha is an informative
        lower / upper edge of the grid, else 0 (:func:`~brainfit.mapping._alpha_grid.edge_codes`);
        ``"cv_mse"`` (only when alphas were selected): the training set's mean squared
        LOO / inner-CV error at the selected alpha, so ``1 - cv_mse / train_var`` is a
        training-only R^2 (used for nested layer selection without refitting).

    Warns
    -----
    AlphaGridWarning
        Once, when the chosen alpha is at an edge of the grid for at least half of the (fold,
        target) fits (:mod:`brainfit.mapping._alpha_grid`), unless ``warn_alpha_edges=False``.
    """
    X, Y, one_d = _check_xy(X, Y)
    alphas = _check_alphas(alphas)
    cv = _check_cv(cv)
    folds = check_folds(folds, X.shape[0])
    if groups is not None:  # alphas chosen leaving out whole groups (e.g. every bin of a stimulus)
        groups = check_groups(groups, X.shape[0])
    be = get_backend(backend, dtype, device)
    n, p = X.shape
    n_train_max = max(len(tr) for tr, _ in folds)
    kind = choose_method(n_train_max, p, method, fit_intercept)
    Yb = be.asarray(Y)
    out = np.empty(Y.shape, dtype=be.dtype)
    t = Y.shape[1]
    chosen = np.empty((len(folds), t))
    train_var = np.empty((len(folds), t))
    cv_mse = np.full((len(folds), t), np.nan) if len(alphas) > 1 else None
    edge = np.zeros((len(folds), t), dtype=np.int8)
    largest_eig = 0.0
    if kind == "dual":
        # Centre once on all samples: only for conditioning (the deflation removes any common
        # shift exactly), so no information from test samples enters a fold's fit.
        if kernel is None:
            K, c = scaled_gram_kernel(X, fit_intercept=fit_intercept, be=be)
        else:
            c = float(kernel_scale)
            K = be.asarray(kernel)
            if tuple(K.shape) != (n, n):
                raise ValueError(f"kernel must have shape ({n}, {n}), got {tuple(K.shape)}")
    else:
        # one power-of-two factor for every fold (any factor gives the same fit; _alpha_grid docstring)
        c = feature_scale(X, _mean64(X) if fit_intercept else None)
    a_work = scaled_alphas(alphas, c, be.dtype)
    for k, (tr, te) in enumerate(tqdm(folds, desc="ridge folds", disable=not progress, leave=False)):
        tr_i, te_i = be.index(tr), be.index(te)
        if kind == "dual":
            K_tr = K[tr_i][:, tr_i]
            row_mean = K_tr.mean(0) if fit_intercept else None
            dec, Z, y_mean, idx, mse = _fit_train(
                K_tr, Yb[tr_i], a_work, kind=kind, fit_intercept=fit_intercept, cv=cv,
                alpha_per_target=alpha_per_target, be=be, batch_size=batch_size, random_state=random_state,
                overwrite=True, groups=None if groups is None else np.unique(groups[tr], return_inverse=True)[1],
            )
            del K_tr
            pred = _predict_from_kernel(K[te_i][:, tr_i], row_mean, dec.basis @ Z, y_mean)
        else:
            x_mean = _mean64(X, tr) if fit_intercept else None
            Xc = _center_into(X, x_mean, be, rows=tr, scale=c)
            dec, Z, y_mean, idx, mse = _fit_train(
                Xc, Yb[tr_i], a_work, kind=kind, fit_intercept=fit_intercept, cv=cv,
                alpha_per_target=alpha_per_target, be=be, batch_size=batch_size, random_state=random_state,
                groups=None if groups is None else np.unique(groups[tr], return_inverse=True)[1],
            )
            pred = _center_into(X, x_mean, be, rows=te, scale=c) @ (dec.basis @ Z) + y_mean
        evals = be.to_numpy(dec.evals)
        largest_eig = max(largest_eig, float(evals.max()) / c**2)
        edge[k] = edge_codes(idx, alphas, evals, a_work)
        out[te] = be.to_numpy(pred)
        chosen[k] = alphas[idx]
        train_var[k] = Y[tr].var(axis=0)
        if cv_mse is not None:
            cv_mse[k] = mse[idx, np.arange(t)]
        log.debug("fold %d/%d: %s ridge, %d train, %d test", k + 1, len(folds), kind, len(tr), len(te))
    _check_finite_result(out, c)
    info = {"alpha": chosen, "train_var": train_var, "alpha_edge": edge}
    if cv_mse is not None:
        info["cv_mse"] = cv_mse
    edges = alpha_edges(edge, alphas)
    if warn_alpha_edges and edges.at_edge:
        warnings.warn(edges.message("fold-target fits", largest_eig), AlphaGridWarning, stacklevel=2)
    return (out[:, 0] if one_d else out), info


def _predict_from_kernel(K_te: Any, row_mean: Any, C: Any, y_mean: Any) -> Any:
    """Test predictions from a kernel whose rows were centred on some common vector ``m``.

    With training rows centred on their own mean ``m_tr``, the prediction is
    ``(x - m_tr)(X_tr - m_tr)' c + y_mean``. Because ``1'c = 0`` (the dual coefficients live in
    the deflated subspace), ``(X_tr - m_tr)' c = (X_tr - m)' c``, and ``(x - m_tr) = (x - m) -
    (m_tr - m)`` where ``(m_tr - m)(X_tr - m)' = mean over training rows of K_tr`` (``row_mean``).
    So ``pred = (K_te - row_mean) c + y_mean``: exact for any ``m``.
    """
    if row_mean is not None:
        return K_te @ C - row_mean @ C + y_mean
    return K_te @ C + y_mean


def scaled_gram_kernel(X: np.ndarray, *, fit_intercept: bool = True, be: Backend | None = None) -> tuple[Any, float]:
    """:func:`gram_kernel` of ``X`` rescaled by its power-of-two :func:`~brainfit.mapping._alpha_grid.feature_scale`,
    and that scale (pass it to :func:`ridge_cv_predictions` as ``kernel_scale``); the mean is computed once."""
    be = get_backend() if be is None else be
    X = _as_numpy(X, "X", (2,))
    mean = _mean64(X) if fit_intercept else None
    c = feature_scale(X, mean)
    return be.gram(_center_into(X, mean, be, scale=c)), c


def gram_kernel(X: np.ndarray, *, fit_intercept: bool = True, be: Backend | None = None, scale: float = 1.0) -> Any:
    """``(c Xc)(c Xc)'`` (n x n) in the backend's dtype, ``Xc`` centred on all rows when
    ``fit_intercept``, ``c = scale`` (a power of two from
    :func:`~brainfit.mapping._alpha_grid.feature_scale`; pass the same to
    :func:`ridge_cv_predictions` as ``kernel_scale``).

    The centring only conditions the float32 product; the deflated decomposition of any training
    block removes the common offset exactly (module docstring).
    """
    be = get_backend() if be is None else be
    X = _as_numpy(X, "X", (2,))
    Xc = _center_into(X, _mean64(X) if fit_intercept else None, be, scale=scale)
    return be.gram(Xc)


def check_folds(folds: Sequence[tuple[Any, Any]], n_samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validate (train, test) index pairs: disjoint, in range, every sample tested exactly once.

    Raises
    ------
    ValueError
        Naming the fold and the problem.
    """
    out = []
    tested = np.zeros(n_samples, dtype=int)
    folds = list(folds)
    if len(folds) < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {len(folds)}")
    for k, fold in enumerate(folds):
        try:
            tr, te = fold
        except (TypeError, ValueError) as err:
            raise ValueError(f"fold {k} must be a (train_idx, test_idx) pair") from err
        tr, te = np.asarray(tr, dtype=np.intp).ravel(), np.asarray(te, dtype=np.intp).ravel()
        for name, idx in (("train", tr), ("test", te)):
            if idx.size and (idx.min() < 0 or idx.max() >= n_samples):
                raise ValueError(f"fold {k} {name} indices out of range for {n_samples} samples")
        if len(tr) < 2 or len(te) < 1:
            raise ValueError(f"fold {k} has {len(tr)} training and {len(te)} test samples; "
                             "need >= 2 and >= 1")
        if np.intersect1d(tr, te).size:
            raise ValueError(f"fold {k} has {np.intersect1d(tr, te).size} sample(s) in both train and test")
        tested[te] += 1
        out.append((tr, te))
    if np.any(tested != 1):
        never, twice = np.flatnonzero(tested == 0), np.flatnonzero(tested > 1)
        raise ValueError(
            f"every sample must be in exactly one test fold: {len(never)} never tested, "
            f"{len(twice)} tested more than once"
        )
    return out
