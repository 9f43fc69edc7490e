"""Shrinkage LDA in closed form, fitted for many label permutations of one training set at once.

Why our own: a permutation test refits the classifier for every permutation, fold and time bin --
``(1 + 200) x 5 x 50 = 50,250`` fits for the Zhang et al. (2011) IT data -- and scikit-learn's
``make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))``
takes ~25 ms per fit there (399 trials, 132 units, one core), about 21 minutes in all. Everything
of an LDA that does not depend on the labels is computed once per fold and bin and shared by every
permutation: the standardisation (training mean and SD), the total covariance and its
eigendecomposition. What depends on the labels is low-rank: the pooled within-class covariance is
the total covariance minus the between-class scatter, of rank <= ``n_classes``, so its inverse
follows from Woodbury's identity with ``n_classes x n_classes`` solves, batched over permutations.
The whole default decoding then takes seconds (see :mod:`brainfit.neural.decoding`).

The classifier (Friedman 1989 regularised discriminant analysis with the Ledoit & Wolf 2004
shrinkage intensity; the "shrinkage LDA" of Blankertz et al. 2011, NeuroImage 56:814-825):

* features standardised with the training trials' mean and SD (SD 0 -> 1);
* ``S_w`` = pooled within-class covariance (class-centred training data, divided by ``n``);
* ``Sigma = (1 - lam) S_w + lam mu I`` with ``mu = trace(S_w) / p`` and ``lam`` the Ledoit-Wolf
  intensity of the class-centred data (``sklearn.covariance.ledoit_wolf_shrinkage`` of them,
  ``assume_centered=True``), or a given ``lam``;
* class ``k`` scores ``x' Sigma^-1 m_k - m_k' Sigma^-1 m_k / 2 + log(prior_k)``, priors = class
  frequencies in training; the prediction is the highest score.

With ``lam = 0`` this is exactly scikit-learn's ``LinearDiscriminantAnalysis(solver="lsqr")``
(LDA is invariant to the standardisation). scikit-learn's ``shrinkage="auto"`` differs slightly:
it shrinks each class's covariance (standardised within the class) separately and averages them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lda_predict", "standardize"]


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    sd = train.std(axis=0)
    sd = np.where(sd > 1e-12 * max(float(np.abs(train).max(initial=0.0)), 1e-300), sd, 1.0)
    return (train - mean) / sd, (test - mean) / sd


def lda_predict(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, n_classes: int, *,
                shrinkage: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fit a shrinkage LDA per row of ``y_train`` and predict ``test``.

    Parameters
    ----------
    train : ndarray (n_train, n_features)
    y_train : ndarray (n_labelings, n_train) or (n_train,) of int in ``[0, n_classes)``
        One labeling per row (the real labels and their permutations); the features are shared.
    test : ndarray (n_test, n_features)
    n_classes : int
        A class absent from a labeling's training trials is never predicted for it.
    shrinkage : float in [0, 1], optional
        Fixed intensity ``lam``; default: Ledoit-Wolf per labeling (module docstring).

    Returns
    -------
    pred : ndarray (n_labelings, n_test) of int
    lam : ndarray (n_labelings,)
        The shrinkage intensity used.
    """
    train = np.asarray(train, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    y_train = np.atleast_2d(np.asarray(y_train))
    n, p = train.shape
    n_lab = y_train.shape[0]
    xs, ts = standardize(train, test)
    # label-free and shared by every labeling: the total covariance in its eigenbasis
    d, vecs = np.linalg.eigh(xs.T @ xs / n)
    d = np.clip(d, 0.0, None)
    z = xs @ vecs
    zt = ts @ vecs
    onehot = (y_train[:, :, None] == np.arange(n_classes)).astype(np.float64)  # (L, n, K)
    counts = onehot.sum(axis=1)  # (L, K)
    means = (onehot.transpose(0, 2, 1) @ z) / np.maximum(counts, 1.0)[:, :, None]  # (L, K, p)
    w = counts / n
    msq = means**2
    norms = msq.sum(axis=-1)  # (L, K): ||m_k||^2
    gram = means @ means.transpose(0, 2, 1)  # (L, K, K)
    # S_w = diag(d) - sum_k w_k m_k m_k' (the data are centred, so the grand mean is 0)
    trace_w = d.sum() - (w * norms).sum(axis=-1)
    fro2 = ((d**2).sum() - 2.0 * (w * (msq * d).sum(axis=-1)).sum(axis=-1)
            + np.einsum("lk,lj,lkj->l", w, w, gram**2))
    mu = trace_w / p
    if shrinkage is None:
        # Ledoit & Wolf (2004) on the class-centred rows r_i = z_i - m_{y_i}, as scikit-learn computes
        # it: beta = (sum_i |r_i|^4 / n - |S_w|_F^2) / (p n), delta = |S_w - mu I|_F^2 / p
        zm = np.take_along_axis(z @ means.transpose(0, 2, 1), y_train[:, :, None], axis=2)[..., 0]  # (L, n)
        r2 = (z**2).sum(axis=1)[None, :] - 2.0 * zm + np.take_along_axis(norms, y_train, axis=1)
        delta = (fro2 - p * mu**2) / p
        beta = np.minimum(((r2**2).sum(axis=1) / n - fro2) / (p * n), delta)
        with np.errstate(invalid="ignore", divide="ignore"):
            lam = np.where(beta > 0, beta / np.where(delta > 0, delta, 1.0), 0.0)
        lam = np.clip(lam, 0.0, 1.0)
    else:
        if not 0.0 <= float(shrinkage) <= 1.0:
            raise ValueError(f"shrinkage must lie in [0, 1], got {shrinkage}")
        lam = np.full(n_lab, float(shrinkage))
    # Sigma = diag(a) - c U U' with a = (1 - lam) d + lam mu, c = 1 - lam, U = [sqrt(w_k) m_k]
    a = (1.0 - lam)[:, None] * d[None, :] + (lam * mu)[:, None]
    tol = 1e-10 * np.maximum(a.max(axis=1, keepdims=True), 1e-300)
    inv_a = np.where(a > tol, 1.0 / np.where(a > tol, a, 1.0), 0.0)  # pseudo-inverse on the null space
    h = means * inv_a[:, None, :]  # rows A^-1 m_k
    j = h @ means.transpose(0, 2, 1)  # J_kl = m_k' A^-1 m_l
    c = (1.0 - lam)[:, None, None]
    s = np.sqrt(w)
    inner = np.eye(n_classes)[None] - c * s[:, :, None] * j * s[:, None, :]
    corr = np.linalg.pinv(inner) @ (s[:, :, None] * j)  # (I - c U'A^-1 U)^-1 U'A^-1 m_l, column l
    # Woodbury: Sigma^-1 m_l = A^-1 m_l + c sum_k A^-1 m_k s_k corr_kl
    weights = h + c * (corr * s[:, :, None]).transpose(0, 2, 1) @ h  # (L, K, p) rows Sigma^-1 m_l
    with np.errstate(divide="ignore"):
        bias = -0.5 * np.einsum("lkp,lkp->lk", weights, means) + np.where(counts > 0, np.log(np.maximum(w, 1e-300)),
                                                                          -np.inf)
    scores = zt[None] @ weights.transpose(0, 2, 1) + bias[:, None, :]  # (L, n_test, K)
    return scores.argmax(axis=-1), lam
