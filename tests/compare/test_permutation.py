"""Sign-flip permutation tests (brainfit.compare.permutation) against a brute-force oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import t as student_t
from scipy.stats import ttest_1samp

from brainfit.compare import find_clusters, sign_flip_test, sign_patterns
from brainfit.compare.permutation import MIN_NEUROIDS


def brute_force(d, mask, cluster_alpha=0.05, tail=0):
    """Every sign pattern, one bin and one cluster at a time, with scipy's t-test."""
    N, T = d.shape
    n = mask.sum(axis=0)
    q = 1 - cluster_alpha / (2 if tail == 0 else 1)
    thr = [student_t.ppf(q, n[t] - 1) if n[t] >= MIN_NEUROIDS else np.inf for t in range(T)]

    def tvals(signs):
        out = []
        for t in range(T):
            x = (signs * d[:, t])[mask[:, t]]
            if len(x) < MIN_NEUROIDS:
                out.append(np.nan)
            elif np.all(x == x[0]):
                out.append(0.0 if x[0] == 0 else np.sign(x[0]) * np.inf)
            else:
                out.append(ttest_1samp(x, 0.0).statistic)
        return np.array(out)

    def clusters(tv):
        found = []
        for sign in ((1, -1) if tail == 0 else (tail,)):
            for t in range(T):
                if np.isnan(tv[t]) or not sign * tv[t] > thr[t]:
                    continue
                if found and found[-1][3] == sign and found[-1][1] == t:  # extends the previous bin's cluster
                    found[-1] = (found[-1][0], t + 1, found[-1][2] + tv[t], sign)
                else:
                    found.append((t, t + 1, tv[t], sign))
        return found

    stat = {0: abs, 1: lambda x: x, -1: lambda x: -x}[tail]
    obs = tvals(np.ones(N))
    obs_clusters = clusters(obs)
    null_t, null_max = [], []
    for signs in itertools.product([1.0, -1.0], repeat=N):
        tv = tvals(np.array(signs))
        null_t.append(tv)
        null_max.append(max([abs(c[2]) for c in clusters(tv)], default=0.0))
    null_t = np.array(null_t)
    p = np.array([np.mean([stat(v) >= stat(obs[t]) - 1e-9 for v in null_t[:, t]]) if np.isfinite(obs[t]) else np.nan
                  for t in range(T)])
    pc = [np.mean(np.array(null_max) >= abs(c[2]) - 1e-9) for c in sorted(obs_clusters)]
    return obs, p, sorted(obs_clusters), pc


@pytest.mark.parametrize("tail", [0, 1, -1])
def test_exact_test_matches_the_brute_force_oracle(tail):
    rng = np.random.default_rng(3)
    N, T = 9, 7
    d = rng.normal(0.0, 1.0, (N, T)) + np.array([0, 0.2, 1.2, 1.4, 1.0, -0.1, -1.3])
    mask = np.ones((N, T), bool)
    mask[0, 1] = mask[3, 4] = mask[5, 6] = False   # neuroid sets change from bin to bin
    mask[:5, 0] = False                             # bin 0: 4 neuroids, untested
    res = sign_flip_test(d, mask, n_permutations=10_000, tail=tail)
    assert res.exact and res.n_permutations == 2**N
    t, p, clusters, pc = brute_force(d, mask, tail=tail)
    np.testing.assert_allclose(res.t, t, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(res.p, p, rtol=1e-12, equal_nan=True)
    assert np.isnan(res.p[0]) and res.cluster[0] == -1
    got = [(c["start"], c["stop"], c["sign"]) for c in res.clusters]
    assert got == [(c[0], c[1], c[3]) for c in clusters]
    assert len(got) >= 1
    np.testing.assert_allclose([c["mass"] for c in res.clusters], [c[2] for c in clusters], rtol=1e-9)
    np.testing.assert_allclose([c["p"] for c in res.clusters], pc, rtol=1e-12)


def test_sampled_patterns_approach_the_exact_p_values():
    rng = np.random.default_rng(0)
    d = rng.normal(0.3, 1.0, (12, 5))
    mask = np.ones_like(d, bool)
    exact = sign_flip_test(d, mask, n_permutations=5000)
    sampled = sign_flip_test(d, mask, n_permutations=3000, seed=1)
    assert exact.exact and not sampled.exact
    np.testing.assert_allclose(sampled.p, exact.p, atol=0.03)
    assert (sampled.p > 0).all()  # (1 + hits) / (1 + P), never 0


def test_sign_patterns_enumerate_or_sample():
    flips, exact = sign_patterns(3, 8, 0)
    assert exact and flips.shape == (8, 3) and len({tuple(r) for r in flips}) == 8
    assert (flips[0] == 1).all()
    flips, exact = sign_patterns(40, 100, 0)
    assert not exact and flips.shape == (101, 40) and (flips[0] == 1).all()
    with pytest.raises(ValueError, match="n_permutations must be >= 1"):
        sign_patterns(3, 0, 0)


def test_clusters_split_on_sign_and_on_gaps():
    t = np.array([3.0, 4.0, np.nan, 5.0, -3.0, -4.0, 1.0])
    c = find_clusters(t, np.full(7, 2.0))
    assert [(x["start"], x["stop"], x["sign"]) for x in c] == [(0, 2, 1), (3, 4, 1), (4, 6, -1)]
    assert c[2]["mass"] == pytest.approx(-7.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same shape|one shape"):
        sign_flip_test(np.zeros((3, 4)), np.ones((3, 5), bool))
    with pytest.raises(ValueError, match="tail must be"):
        sign_flip_test(np.zeros((3, 4)), np.ones((3, 4), bool), tail=2)
    with pytest.raises(ValueError, match="cluster_alpha"):
        sign_flip_test(np.zeros((3, 4)), np.ones((3, 4), bool), cluster_alpha=1.5)


def test_equal_nonzero_differences_are_the_strongest_effect_not_untested():
    d = np.full((6, 3), 0.1)
    d[:, 1] = np.random.default_rng(0).normal(0, 1, 6)
    res = sign_flip_test(d, np.ones_like(d, bool), n_permutations=1000)
    assert np.isinf(res.t[0]) and res.p[0] == pytest.approx(2 / 64)  # the all-+ and all-- patterns
    assert np.isfinite(res.p).all()
    inf_cluster = [c for c in res.clusters if np.isinf(c["mass"])]
    assert inf_cluster and inf_cluster[0]["p"] > 0  # never 0: the observed pattern counts
