"""The ridge penalty against the scale of the features: a scale-safe solve, and a warning when
the chosen alphas sit at the edge of the grid.

Why both. The penalty ``alpha`` of eq. (1) in :mod:`brainfit.mapping._solvers` only acts
relative to the eigenvalues of the centred ``X'X``, which grow with the square of the features'
scale. Features far from unit scale break the solve or the grid:

* Overflow and underflow. Features of order 1e20 give ``X'X`` entries of order 1e40, past
  float32's 3.4e38: the eigensolver fails. Features of order 1e-20 give entries of order 1e-40,
  below float32's smallest normal number (1.2e-38). The solvers therefore multiply ``X`` by a
  power of two ``c`` (:func:`feature_scale`) and the alphas by ``c**2`` (:func:`scaled_alphas`)
  whenever the largest centred feature magnitude lies outside ``2**-20 .. 2**20``: the same
  problem exactly (``w = c w'``, identical predictions and LOO errors), solved where float32
  works. A power of two is exact in floating point, and inside that range nothing is rescaled,
  so well-scaled inputs give bit-identical results.
* A grid that misses the spectrum. Once the solve is safe, 1e-20 features still score ~0: every
  alpha of the default grid (1e-2 .. 1e6) dwarfs eigenvalues of order 1e-38, so every fit shrinks
  the predictions to the mean. Nothing is wrong numerically -- the grid is in the wrong units --
  so it is reported, not changed: :class:`AlphaGridWarning` when the chosen alpha is at an edge
  of the grid for at least :data:`EDGE_SHARE` (half) of the fits, once per call, with the share,
  the alpha, the grid and the largest eigenvalue.

Which fits count (:func:`edge_codes`): those where an edge says something about the grid.
With ``l_j`` the eigenvalues of a training set, a penalty ``a`` keeps ``dof(a) = sum_j l_j /
(l_j + a)`` effective parameters and removes ``shrink(a) = sum_j a / (l_j + a)``.

* The *largest* alpha counts where it still keeps at least one parameter, ``dof(a_max) >= 1``.
  An unpredictable target is best predicted by its mean, i.e. by the largest penalty (50-60% of
  simulated pure-noise targets pick it); that says nothing about a grid that reaches full
  shrinkage (the default grid against unit-scale features), but does when the grid stops short.
* The *smallest* alpha counts where it still removes at least one parameter, ``shrink(a_min) >=
  1`` (less penalty would change the fit; noise targets pick it for 0-1% of fits), and where the
  whole grid is negligible, ``shrink(a_max) < 1``: every alpha then fits alike (as for 1e20
  features, or a grid far below the spectrum), the tie goes to the smallest alpha, and the grid
  regularises nothing -- worth saying.
* Features without variance (every eigenvalue 0: e.g. a model whose input is the same gray screen
  for every stimulus) have nothing to fit and never count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EDGE_SHARE",
    "AlphaEdges",
    "AlphaGridWarning",
    "alpha_edges",
    "edge_codes",
    "feature_scale",
    "scaled_alphas",
]

#: Share of fits at one edge of the alpha grid from which :class:`AlphaGridWarning` is issued.
EDGE_SHARE = 0.5

# Largest centred feature magnitudes solved as they are: 2**-20 .. 2**20 (about 1e-6 .. 1e6). Inside,
# float32 X'X of any benchmark size (n * p up to ~1e10) stays far from overflow and underflow.
_SAFE_LOG2 = 20


class AlphaGridWarning(RuntimeWarning):
    """The ridge penalty chosen by cross-validation sits at an edge of its grid for many fits.

    The grid does not cover the penalties the data ask for -- usually because the features are
    far from unit scale (the module docstring of :mod:`brainfit.mapping._alpha_grid`).
    """


def feature_scale(X: np.ndarray, mean: np.ndarray | None) -> float:
    """A power of two ``c`` for the solvers to multiply ``X - mean`` by (1.0 when not needed).

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    mean : ndarray (n_features,) or None
        The centring (float64), or None without intercept.

    Returns
    -------
    float
        1.0 when ``m = max |X - mean|`` is 0 or lies in ``2**-20 .. 2**20``; else
        ``2**-ceil(log2(m))``, which brings ``m`` to ``(0.5, 1]`` exactly.
    """
    if X.size == 0:
        return 1.0
    hi = X.max(axis=0).astype(np.float64)
    lo = X.min(axis=0).astype(np.float64)
    if mean is not None:
        hi, lo = hi - mean, lo - mean
    m = float(max(np.abs(hi).max(), np.abs(lo).max()))
    if m == 0.0 or not math.isfinite(m) or abs(math.log2(m)) <= _SAFE_LOG2:
        return 1.0
    return 2.0 ** -math.ceil(math.log2(m))


def scaled_alphas(alphas: np.ndarray, scale: float, dtype: np.dtype) -> np.ndarray:
    """The alphas of the problem with features multiplied by ``scale``: ``alphas * scale**2``.

    Clipped to ``[tiny / eps, eps / tiny]`` of ``dtype`` (about 1e-31 .. 1e31 in float32) when
    rescaled, so ``1 / (eigenvalue + alpha)`` stays finite: alphas beyond those bounds are
    already negligible (or dominant) against every eigenvalue of the rescaled, unit-scale
    features, so the clipping does not change the fit. ``scale == 1`` returns ``alphas`` as given.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if scale == 1.0:
        return alphas
    info = np.finfo(dtype)
    floor = float(info.tiny) / float(info.eps)
    return np.clip(alphas * scale * scale, floor, 1.0 / floor)


def _unscale(coef: np.ndarray, scale: float) -> np.ndarray:
    """Weights on the original features from those on features multiplied by ``scale``: ``w = scale w'``."""
    return coef if scale == 1.0 else coef * scale


def _check_finite_result(values: np.ndarray, scale: float) -> None:
    """Refuse non-finite predictions (a degenerate problem), naming the features' scale."""
    if not np.isfinite(values).all():
        raise ValueError(f"ridge produced {int((~np.isfinite(values)).sum())} non-finite prediction(s): the features "
                         f"are degenerate or far from unit scale (multiplied by {scale:g} for the solve); standardise "
                         "them or use dtype='float64'")


def edge_codes(idx: np.ndarray, alphas: np.ndarray, evals: np.ndarray, scaled: np.ndarray) -> np.ndarray:
    """Which fits of one training set chose an informative edge of the grid (module docstring).

    With ``l`` the non-zero eigenvalues of the training set, ``shrink(a) = sum(a / (l + a))`` is
    the number of effective parameters a penalty ``a`` removes and ``dof(a) = sum(l / (l + a))``
    the number it keeps. The smallest alpha counts where ``shrink(a_min) >= 1`` (less penalty
    would change the fit) or where the whole grid is negligible, ``shrink(a_max) < 1``; the
    largest where ``dof(a_max) >= 1`` (more penalty would change the fit). Features without
    variance (all ``l`` zero) have nothing to fit and never count.

    Parameters
    ----------
    idx : ndarray (n_targets,) of int
        Index of the chosen alpha per target.
    alphas : ndarray (n_alphas,)
        The grid as given.
    evals : ndarray (r,)
        Eigenvalues of the training set's (rescaled) centred ``X'X`` or kernel.
    scaled : ndarray (n_alphas,)
        The grid as used with ``evals`` (:func:`scaled_alphas`).

    Returns
    -------
    ndarray (n_targets,) of int8
        -1 at an informative smallest alpha, +1 at an informative largest alpha, else 0 (always
        0 for a single alpha).
    """
    codes = np.zeros(len(idx), dtype=np.int8)
    evals = np.asarray(evals)
    top = float(evals.max()) if evals.size else 0.0
    if len(alphas) < 2 or not top > 0.0:
        return codes
    # eigenvalues within rounding of 0 belong to directions the data do not span
    eps = float(np.finfo(evals.dtype).eps) if evals.dtype.kind == "f" else float(np.finfo(np.float64).eps)
    lam = evals[evals > 16 * eps * top].astype(np.float64)
    lo, hi = float(np.min(scaled)), float(np.max(scaled))
    shrink_lo, shrink_hi = float((lo / (lam + lo)).sum()), float((hi / (lam + hi)).sum())
    if shrink_lo >= 1.0 or shrink_hi < 1.0:
        codes[idx == int(np.argmin(alphas))] = -1
    if float((lam / (lam + hi)).sum()) >= 1.0:
        codes[idx == int(np.argmax(alphas))] = 1
    return codes


@dataclass(frozen=True)
class AlphaEdges:
    """How many fits chose an informative edge of the alpha grid (see :func:`alpha_edges`)."""

    grid: tuple[float, ...]
    n: int
    n_low: int
    n_high: int

    @property
    def share_low(self) -> float:
        """Share of the fits at the smallest alpha."""
        return self.n_low / self.n if self.n else 0.0

    @property
    def share_high(self) -> float:
        """Share of the fits at the largest alpha, where that alpha still leaves >= 1 effective parameter."""
        return self.n_high / self.n if self.n else 0.0

    @property
    def at_edge(self) -> bool:
        """True when either share reaches :data:`EDGE_SHARE`."""
        return len(self.grid) > 1 and (self.share_low >= EDGE_SHARE or self.share_high >= EDGE_SHARE)

    def __add__(self, other: AlphaEdges) -> AlphaEdges:
        return AlphaEdges(self.grid, self.n + other.n, self.n_low + other.n_low, self.n_high + other.n_high)

    def describe(self, what: str = "fits") -> str:
        """The shares at each edge (those reaching :data:`EDGE_SHARE`), in words."""
        lo, hi = min(self.grid), max(self.grid)
        parts = []
        if self.share_low >= EDGE_SHARE:
            parts.append(f"the smallest alpha of the grid ({lo:g}) for {self.share_low:.0%} of {self.n} {what} "
                         "(less penalty would fit them better, or the whole grid is negligible and every alpha "
                         "fits alike)")
        if self.share_high >= EDGE_SHARE:
            parts.append(f"the largest alpha of the grid ({hi:g}) for {self.share_high:.0%} of {self.n} {what}, "
                         "though it still leaves the fit at least one effective parameter (more penalty would fit "
                         "them better)")
        return " and ".join(parts)

    def advice(self, largest_eigenvalue: float | None = None) -> str:
        """The grid, the threshold and what to do (the tail of :meth:`message`)."""
        grid = sorted(self.grid)
        shown = ", ".join(f"{a:g}" for a in grid) if len(grid) <= 10 else f"{grid[0]:g} .. {grid[-1]:g}"
        eig = "" if largest_eigenvalue is None else f" (here the largest is {largest_eigenvalue:.3g})"
        return (f"alpha grid [{shown}] ({len(grid)} values; warned from {EDGE_SHARE:.0%} of fits at an edge). "
                f"A penalty only acts relative to the eigenvalues of the centred X'X{eig}, which scale with the "
                "square of the features: standardise or rescale the features, or extend the grid past that edge")

    def message(self, what: str = "fits", largest_eigenvalue: float | None = None) -> str:
        """The warning text: shares, alphas, grid, and what to do."""
        return f"ridge chose {self.describe(what)}; {self.advice(largest_eigenvalue)}"


def alpha_edges(codes: np.ndarray, grid: np.ndarray) -> AlphaEdges:
    """Count the fits at each informative edge of ``grid``.

    Parameters
    ----------
    codes : ndarray, any shape, of int
        :func:`edge_codes` of every fit, e.g. ``info["alpha_edge"]`` (n_folds, n_targets) of
        :func:`~brainfit.mapping.ridge_cv_predictions`.
    grid : ndarray (n_alphas,)

    Returns
    -------
    AlphaEdges
    """
    codes = np.asarray(codes)
    grid = tuple(np.atleast_1d(np.asarray(grid, dtype=np.float64)).tolist())
    return AlphaEdges(grid, int(codes.size), int((codes == -1).sum()), int((codes == 1).sum()))
