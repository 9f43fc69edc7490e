"""Sign-flip permutation tests over neuroids, per time bin and for clusters of contiguous bins.

Null hypothesis: the two models predict every neuroid equally well, so each neuroid's paired
difference ``d_i(t)`` is symmetric about zero and flipping its sign leaves the joint distribution
unchanged. One permutation flips the sign of whole neuroids -- the same flip in every bin -- so
the dependence between bins is kept. The statistic per bin is the one-sample ``t`` of the
differences over the neuroids in that bin's comparison (reliable in both models; the set may
change from bin to bin).

Per bin
    ``p`` is the fraction of permutations with ``|t| >= |t_obs|`` (two-sided; ``tail=1`` or
    ``-1`` for one direction), the observed sign pattern counted once.
Family of bins
    :func:`~brainfit.compare.paired.fdr_bh` on the per-bin ``p`` (false discovery rate), and the
    cluster-based permutation test (Maris & Oostenveld 2007, J Neurosci Methods 164:177; what
    MNE's ``permutation_cluster_1samp_test`` does on a 1-D time axis): bins whose ``t`` passes
    the two-sided ``cluster_alpha`` threshold of Student's t (df = neuroids in the bin - 1) form
    clusters of contiguous bins with the same sign; a cluster's mass is the sum of its ``t``; its
    ``p`` is the fraction of permutations whose largest cluster mass (in absolute value, over
    both signs) reaches it. That maximum controls the family-wise error over all bins.

Exact or sampled: with ``2**n_neuroids <= n_permutations`` every sign pattern is enumerated and
``p`` is exact; otherwise ``n_permutations`` random patterns (seeded) are drawn and
``p = (1 + #{null >= observed}) / (1 + n_permutations)``, never 0. With exact enumeration the
smallest two-sided ``p`` is ``2 / 2**n``: a bin of 5 neuroids (:data:`MIN_NEUROIDS`) can never
reach 0.05 -- the test says so honestly rather than by approximation.

Why not MNE itself: it is not a light dependency here (its install pulls pooch, jinja2,
lazy_loader and more for one function), and its 1-sample test takes a complete
(observations x times) array, while our neuroid sets change between bins with reliability. The
test suite checks this implementation against a brute-force loop over every sign pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

__all__ = ["PermutationResult", "sign_flip_test", "sign_patterns", "find_clusters", "MIN_NEUROIDS"]

#: Fewest neuroids in a bin for it to be tested (fewer: t and p are NaN, the bin breaks clusters).
MIN_NEUROIDS = 5


@dataclass(frozen=True)
class PermutationResult:
    """Per-bin and cluster results of :func:`sign_flip_test` (arrays over bins, shape (T,)).

    ``clusters``: one dict per observed cluster, ``start``/``stop`` (bin indices, stop exclusive),
    ``sign`` (+1: a > b), ``mass`` (sum of t), ``p``. ``cluster`` (T,) gives each bin's cluster
    index into ``clusters`` (-1: none) and ``p_cluster`` (T,) its cluster's p (NaN: none).
    """

    t: np.ndarray
    p: np.ndarray
    n: np.ndarray
    threshold: np.ndarray
    clusters: list[dict]
    cluster: np.ndarray
    p_cluster: np.ndarray
    n_permutations: int
    exact: bool


def sign_patterns(n: int, n_permutations: int, seed: int) -> tuple[np.ndarray, bool]:
    """Sign flips (P, n) of +1/-1; row 0 is the identity (the observed data).

    All ``2**n`` patterns when that is at most ``n_permutations`` (``exact`` True), else the
    identity plus ``n_permutations`` random patterns.
    """
    if n < 1:
        raise ValueError("sign_patterns needs at least one neuroid")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    if n < 31 and 2**n <= n_permutations:
        codes = np.arange(2**n)[:, None]
        return 1.0 - 2.0 * ((codes >> np.arange(n)[None, :]) & 1), True
    rng = np.random.default_rng(seed)
    flips = rng.integers(0, 2, size=(n_permutations, n)) * 2.0 - 1.0
    return np.vstack([np.ones((1, n)), flips]), False


def _t_rows(flips: np.ndarray, d: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One-sample t per bin for every sign pattern: flips (P, N), d (N, T) zero outside mask -> (P, T)."""
    n = mask.sum(axis=0).astype(np.float64)
    s1 = flips @ d
    s2 = (d * d).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = (s2 - n * mean * mean) / (n - 1.0)
        # all differences equal in size: var is 0 up to rounding for the sign patterns that agree
        var = np.where(var > 1e-12 * np.maximum(s2 / n, 1e-300), var, 0.0)
        t = mean / np.sqrt(var / n)
    t = np.where((var == 0.0) & (mean == 0.0), 0.0, t)
    return np.where(n >= MIN_NEUROIDS, t, np.nan)


def _nan_to_minus_inf(x: np.ndarray) -> np.ndarray:
    """NaN (untested bins) to -inf so they pass no threshold; +-inf stay infinite (np.nan_to_num
    would make them the largest finite float)."""
    return np.where(np.isnan(x), -np.inf, x)


def _less_tolerance(x: np.ndarray) -> np.ndarray:
    """``x`` lowered by a relative rounding tolerance (so an equal null value counts as a hit); infinite
    values stay as they are (``inf - inf`` would be NaN and count nothing, not even the observed)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.isfinite(x), x - 1e-12 * np.maximum(1.0, np.abs(np.where(np.isfinite(x), x, 0.0))), x)


def find_clusters(t: np.ndarray, threshold: np.ndarray, tail: int = 0) -> list[dict]:
    """Clusters of contiguous bins with ``sign * t > threshold`` (NaN bins break clusters).

    Returns dicts with ``start``, ``stop`` (exclusive), ``sign`` and ``mass`` (sum of t), in bin order.
    """
    out = []
    for sign in _signs(tail):
        above = _nan_to_minus_inf(sign * t) > threshold
        j = 0
        while j < len(t):
            if above[j]:
                k = j
                while k < len(t) and above[k]:
                    k += 1
                out.append({"start": j, "stop": k, "sign": sign, "mass": float(np.sum(t[j:k]))})
                j = k
            else:
                j += 1
    return sorted(out, key=lambda c: c["start"])


def _signs(tail: int) -> tuple[int, ...]:
    return {0: (1, -1), 1: (1,), -1: (-1,)}[tail]


def _max_cluster_mass(t: np.ndarray, threshold: np.ndarray, tail: int) -> np.ndarray:
    """Largest ``|mass|`` of any cluster in each row of ``t`` (P, T) -> (P,), 0 without clusters."""
    best = np.zeros(t.shape[0])
    for sign in _signs(tail):
        st = _nan_to_minus_inf(sign * t)
        above = st > threshold[None, :]
        run = np.zeros(t.shape[0])
        for j in range(t.shape[1]):  # running cluster mass, reset where a bin falls below threshold
            run = np.where(above[:, j], run + np.where(above[:, j], st[:, j], 0.0), 0.0)
            best = np.maximum(best, run)
    return best


def sign_flip_test(d: np.ndarray, mask: np.ndarray, *, n_permutations: int = 2000, cluster_alpha: float = 0.05,
                   tail: int = 0, seed: int = 0) -> PermutationResult:
    """Per-bin and cluster sign-flip permutation tests of paired differences over neuroids.

    Parameters
    ----------
    d : ndarray (neuroid, time_bin)
        Paired differences ``a - b``; only entries where ``mask`` is True are used.
    mask : ndarray of bool (neuroid, time_bin)
        Neuroid-bins in the comparison.
    n_permutations : int
        Random sign patterns (exact enumeration when ``2**n_neuroids`` is not larger).
    cluster_alpha : float
        Per-bin threshold for cluster formation: the t quantile at ``1 - cluster_alpha / 2``
        (two-sided) or ``1 - cluster_alpha`` (one-sided).
    tail : {0, 1, -1}
        0: two-sided; 1: ``a > b``; -1: ``a < b``.
    seed : int

    Returns
    -------
    PermutationResult
    """
    d = np.asarray(d, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if d.ndim != 2 or d.shape != mask.shape:
        raise ValueError(f"d and mask must be (neuroid, time_bin) arrays of one shape, got {d.shape} and {mask.shape}")
    if tail not in (0, 1, -1):
        raise ValueError(f"tail must be 0 (two-sided), 1 or -1, got {tail!r}")
    if not 0.0 < cluster_alpha < 1.0:
        raise ValueError(f"cluster_alpha must lie in (0, 1), got {cluster_alpha!r}")
    mask = mask & np.isfinite(d)
    d = np.where(mask, d, 0.0)
    rows = np.flatnonzero(mask.any(axis=1))  # neuroids in no bin's comparison cannot move any statistic
    n_bins = d.shape[1]
    n = mask.sum(axis=0)
    q = 1.0 - cluster_alpha / (2.0 if tail == 0 else 1.0)
    with np.errstate(invalid="ignore"):
        threshold = np.where(n >= MIN_NEUROIDS, student_t.ppf(q, np.maximum(n - 1, 1)), np.inf)
    if len(rows) == 0:
        nan = np.full(n_bins, np.nan)
        return PermutationResult(nan, nan.copy(), n, threshold, [], np.full(n_bins, -1), nan.copy(), 0, True)
    flips, exact = sign_patterns(len(rows), n_permutations, seed)
    t_all = _t_rows(flips, d[rows], mask[rows])  # (P, T), row 0 observed
    t_obs = t_all[0]
    stat = {0: np.abs, 1: lambda x: x, -1: lambda x: -x}[tail]
    with np.errstate(invalid="ignore"):
        ge = stat(t_all) >= _less_tolerance(stat(t_obs))[None, :]
    if exact:
        p = ge.mean(axis=0)
    else:
        p = (1.0 + ge[1:].sum(axis=0)) / (1.0 + (len(flips) - 1))
    # t = +-inf (every difference equal and nonzero) is the strongest effect, not an untested bin
    p = np.where(np.isnan(t_obs), np.nan, p)
    clusters = find_clusters(t_obs, threshold, tail)
    null_max = _max_cluster_mass(t_all, threshold, tail)
    cluster = np.full(n_bins, -1)
    p_cluster = np.full(n_bins, np.nan)
    for i, c in enumerate(clusters):
        hits = null_max >= _less_tolerance(np.array([abs(c["mass"])]))[0]
        c["p"] = float(hits.mean() if exact else (1.0 + hits[1:].sum()) / len(flips))
        cluster[c["start"]:c["stop"]] = i
        p_cluster[c["start"]:c["stop"]] = c["p"]
    return PermutationResult(t_obs, p, n, threshold, clusters, cluster, p_cluster,
                             len(flips) if exact else len(flips) - 1, exact)
