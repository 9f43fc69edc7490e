"""PLS benchmark: brainfit's ``pls_fit`` vs scikit-learn ``PLSRegression`` vs the retired hand-written NIPALS.

Why this exists (docs/design.md, house style 12: use the maintained library unless there is a measured
reason): brainfit used to carry its own NIPALS PLS matching ``PLSRegression`` step for step. This
script times, in one process on the same data, a demo-sized problem -- n=864 training stimuli, 96
test stimuli, p=512 and p=3000 features, 192 targets, 25 components, ``scale=False`` (Brain-Score's
setting), float64 -- for:

* ``brainfit pls_fit``: the library function (today scikit-learn plus component clipping);
* ``sklearn PLSRegression``: the bare scikit-learn estimator;
* ``hand-written NIPALS``: the retired implementation, kept here only to reproduce the measurement
  behind the decision (see :mod:`brainfit.mapping.pls`).

It prints wall times, each time's ratio to scikit-learn's, and the maximum absolute difference of
the test predictions from scikit-learn's.

Data imitate activations: ReLU of a 100-dimensional latent code mixed into p features; targets
are linear in the latent code plus noise.

Usage::

    python benchmarks/bench_pls.py            # both cases (~15 s on a 2-core machine)
    python benchmarks/bench_pls.py --quick    # p=512 only
    python benchmarks/bench_pls.py --no-nipals

Timings are only comparable within one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.linalg


def make_data(n: int, n_test: int, p: int, t: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n + n_test, 100))
    X = np.maximum(Z @ (rng.standard_normal((100, p)) / 10) + 0.3 * rng.standard_normal((n + n_test, p)), 0)
    Y = Z @ rng.standard_normal((100, t)) / 10 + rng.standard_normal((n + n_test, t))
    return X[:n], Y[:n], X[n:]


def nipals_fit_predict(X: np.ndarray, Y: np.ndarray, Xt: np.ndarray, k: int, max_iter: int = 500,
                       tol: float = 1e-6) -> np.ndarray:
    """The retired hand-written NIPALS (scale=False), as it was in brainfit.mapping.pls."""
    X = np.array(X, dtype=np.float64)
    Y = np.array(Y, dtype=np.float64)
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    X -= x_mean
    Y -= y_mean
    p, q = X.shape[1], Y.shape[1]
    W, P, Q = np.zeros((p, k)), np.zeros((p, k)), np.zeros((q, k))
    eps = np.finfo(np.float64).eps
    done = 0
    for c in range(k):
        Y[:, np.all(np.abs(Y) < 10 * eps, axis=0)] = 0.0
        nonconstant = np.flatnonzero(np.any(np.abs(Y) > eps, axis=0))
        if len(nonconstant) == 0:
            break
        y_score = Y[:, nonconstant[0]].copy()
        x_weights_old = None
        for _ in range(max_iter):  # power method for the first singular vectors of X'Y
            x_weights = X.T @ y_score / (y_score @ y_score)
            x_weights /= np.sqrt(x_weights @ x_weights) + eps
            x_score = X @ x_weights
            y_weights = Y.T @ x_score / (x_score @ x_score)
            y_score = Y @ y_weights / (y_weights @ y_weights + eps)
            if q == 1:
                break
            if x_weights_old is not None:
                diff = x_weights - x_weights_old
                if diff @ diff < tol:
                    break
            x_weights_old = x_weights
        x_weights *= np.sign(x_weights[np.argmax(np.abs(x_weights))])
        x_scores = X @ x_weights
        tt = x_scores @ x_scores
        x_loadings = x_scores @ X / tt
        X -= np.outer(x_scores, x_loadings)
        y_loadings = x_scores @ Y / tt
        Y -= np.outer(x_scores, y_loadings)
        W[:, c], P[:, c], Q[:, c] = x_weights, x_loadings, y_loadings
        done = c + 1
    W, P, Q = W[:, :done], P[:, :done], Q[:, :done]
    coef = W @ scipy.linalg.pinv(P.T @ W, check_finite=False) @ Q.T
    return (Xt - x_mean) @ coef + y_mean


def run_brainfit(X, Y, Xt, k):
    from brainfit.mapping import pls_fit, pls_predict

    t0 = time.perf_counter()
    pred = pls_predict(pls_fit(X, Y, k), Xt)
    return time.perf_counter() - t0, pred


def run_sklearn(X, Y, Xt, k):
    from sklearn.cross_decomposition import PLSRegression

    t0 = time.perf_counter()
    pred = PLSRegression(n_components=k, scale=False).fit(X, Y).predict(Xt)
    return time.perf_counter() - t0, pred


def run_nipals(X, Y, Xt, k):
    t0 = time.perf_counter()
    pred = nipals_fit_predict(X, Y, Xt, k)
    return time.perf_counter() - t0, pred


def bench_case(p: int, nipals: bool, n: int = 864, n_test: int = 96, t: int = 192, k: int = 25) -> None:
    X, Y, Xt = make_data(n, n_test, p, t)
    print(f"\n== n={n} train + {n_test} test, p={p}, targets={t}, {k} components, scale=False, float64 ==",
          flush=True)
    runners = {"brainfit pls_fit": run_brainfit, "sklearn PLSRegression": run_sklearn}
    if nipals:
        runners["hand-written NIPALS"] = run_nipals
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-converged power iterations warn the same in every tool
        for label, run in runners.items():
            results[label] = run(X, Y, Xt, k)
    t_sk, ref = results["sklearn PLSRegression"]
    for label, (secs, pred) in results.items():
        diff = float(np.abs(pred - ref).max())
        print(f"{label:24s} {secs:8.2f} s   x{secs / t_sk:5.2f} sklearn time   max|pred - sklearn| {diff:.1e}",
              flush=True)
    if nipals:
        ratio = t_sk / results["hand-written NIPALS"][0]
        print(f"sklearn / hand-written NIPALS time: {ratio:.2f} (< 1.5: use scikit-learn)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="p=512 only")
    ap.add_argument("--no-nipals", action="store_true", help="skip the retired hand-written NIPALS")
    args = ap.parse_args()
    for p in (512,) if args.quick else (512, 3000):
        bench_case(p, nipals=not args.no_nipals)


if __name__ == "__main__":
    main()
