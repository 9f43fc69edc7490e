"""Exact leave-one-group-out errors of ridge from one eigendecomposition (the grouped form of eq. (2)
of :mod:`brainfit.mapping._solvers`).

Why: a readout shared across time bins is fitted on (stimulus, bin) rows. Leaving out one *row*
keeps the same stimulus's other bins in training -- for a model whose features are the same in
every bin, an exact copy of the left-out row -- so row-wise LOO errors are optimistic and choose
too small a penalty (most of all for a static model: a bias against it). The penalty must be chosen
leaving out whole stimuli: every row of a group at once.

For a linear smoother with hat matrix ``H`` (intercept included), the residuals of the fit without
group ``g`` on its own rows are exactly ``(I - H_gg)^-1 e_g``, with ``e`` the residuals of the full
fit (the block form of the Sherman-Morrison-Woodbury identity behind eq. (2); e.g. Hastie, Tibshirani
& Friedman, "Elements of Statistical Learning", the leave-one-out shortcut generalised to blocks).
Here ``H = J/n + proj diag(m) proj'`` with the multipliers ``m = 1 / (l + alpha)`` (primal,
``proj = Xc V``) or ``m = l / (l + alpha)`` (dual, ``proj = Q`` on the centred subspace), so each
group costs one ``|g| x |g|`` solve per alpha. Computed in float64 on the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_groups", "grouped_loo_mse"]


def check_groups(groups: Any, n: int) -> np.ndarray:
    """``groups`` as an int array of length ``n`` with at least 2 distinct groups (ValueError otherwise)."""
    g = np.asarray(groups)
    if g.ndim != 1 or len(g) != n:
        raise ValueError(f"groups must be one label per row ({n}), got shape {g.shape}")
    _, codes = np.unique(g, return_inverse=True)
    if codes.max(initial=-1) < 1:
        raise ValueError("leave-one-group-out needs at least 2 groups")
    return codes.astype(np.int64)


def grouped_loo_mse(kind: str, evals: np.ndarray, proj: np.ndarray, Yc: np.ndarray, S: np.ndarray,
                    alphas: np.ndarray, groups: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """Mean squared leave-one-group-out error over the rows, shape (n_alphas, n_targets).

    ``evals`` (r,), ``proj`` (n, r), ``Yc`` (n, t) centred targets, ``S = proj' Yc`` (r, t) as in
    :class:`~brainfit.mapping._solvers._Decomposition`; ``groups`` (n,) int codes.
    """
    n, t = Yc.shape
    order = np.argsort(groups, kind="stable")
    codes = groups[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, n])
    P, Y = proj[order], Yc[order]
    sse = np.zeros((len(alphas), t))
    for a, alpha in enumerate(alphas):
        m = 1.0 / (evals + alpha) if kind == "primal" else evals / (evals + alpha)
        resid = Y - P @ (S * m[:, None])
        for size in np.unique(sizes):  # groups of one size are solved as one batch
            first = starts[sizes == size]
            rows = first[:, None] + np.arange(size)[None, :]  # (G, size)
            Pg = P[rows]  # (G, size, r)
            H = np.einsum("gir,r,gjr->gij", Pg, m, Pg, optimize=True)
            if fit_intercept:
                H += 1.0 / n
            A = np.eye(size)[None] - H
            err = np.linalg.solve(A, resid[rows])  # (G, size, t)
            sse[a] += (err * err).sum(axis=(0, 1))
    return sse / n
