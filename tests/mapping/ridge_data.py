"""Shared test data for the mapping tests: the alpha grid and a linear problem with offsets."""

from __future__ import annotations

import numpy as np

ALPHAS = np.logspace(-3, 4, 15)

SHAPES = [(40, 10), (30, 80), (25, 25)]  # n > p, n < p, n == p


def _data(n, p, t=5, seed=0, offset=5.0, noise=2.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * 3 + offset
    Y = X @ rng.standard_normal((p, t)) / np.sqrt(p) + noise * rng.standard_normal((n, t)) + 10.0
    Xt = rng.standard_normal((7, p)) * 3 + offset
    return X, Y, Xt
