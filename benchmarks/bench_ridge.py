"""Ridge benchmark: brainfit vs scikit-learn RidgeCV vs himalaya RidgeCV, same data, one process.

Cases (docs/design.md budget): n=3200 training stimuli x p=20000 features x 256 targets (dual/kernel
path), and n=3200 x p=1000 (primal path); alphas 1e-2 ... 1e6 (9 values), one alpha per target.
Each tool fits on the training stimuli and predicts 800 held-out stimuli; we print wall times,
speed ratios, the fraction of targets given the same alpha as scikit-learn, and the maximum
absolute difference of the predictions from scikit-learn's, also relative to the predictions'
spread (max |pred - mean|).

Data imitate activations: ReLU of a 200-dimensional latent code mixed into p features (so
features are correlated, non-negative, with a common offset and a steep kernel spectrum);
targets are linear in the latent code with per-target noise levels, so the best alpha varies.

Usage::

    python benchmarks/bench_ridge.py                 # both cases, with himalaya if installed (~4 min more)
    python benchmarks/bench_ridge.py --no-himalaya   # skip himalaya
    python benchmarks/bench_ridge.py --quick         # small smoke run (n=800, p=4000)

Timings are only comparable within one run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

ALPHAS = np.logspace(-2, 6, 9)


def make_data(n: int, n_test: int, p: int, t: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    latent = 200
    Z = rng.standard_normal((n + n_test, latent)).astype(np.float32)
    A = (rng.standard_normal((latent, p)) / np.sqrt(latent)).astype(np.float32)
    X = Z @ A
    X += 0.3 * rng.standard_normal(X.shape, dtype=np.float32)
    np.maximum(X, 0, out=X)  # ReLU: non-negative, common offset
    B = rng.standard_normal((latent, t)).astype(np.float32) / np.sqrt(latent)
    noise = np.exp(rng.uniform(np.log(0.1), np.log(10.0), size=t)).astype(np.float32)
    Y = Z @ B + noise * rng.standard_normal((n + n_test, t), dtype=np.float32)
    return X[:n], Y[:n], X[n:], Y[n:]


def run_brainfit(X, Y, Xt, dtype="float32", backend="auto"):
    from brainfit.mapping import ridge_cv

    t0 = time.perf_counter()
    res = ridge_cv(X, Y, ALPHAS, X_test=Xt, return_coef=False, dtype=dtype, backend=backend)
    return time.perf_counter() - t0, res.predictions, res.alpha


def run_sklearn(X, Y, Xt):
    from sklearn.linear_model import RidgeCV

    t0 = time.perf_counter()
    m = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y)
    pred = m.predict(Xt)
    return time.perf_counter() - t0, pred, m.alpha_


def run_himalaya(X, Y, Xt):
    from himalaya.ridge import RidgeCV

    t0 = time.perf_counter()
    m = RidgeCV(alphas=ALPHAS, cv=5).fit(X, Y)
    pred = m.predict(Xt)
    return time.perf_counter() - t0, np.asarray(pred), np.asarray(m.best_alphas_)


def bench_case(name: str, n: int, p: int, t: int, n_test: int, himalaya: bool, torch_backend: bool, float64: bool) -> None:
    X, Y, Xt, _ = make_data(n, n_test, p, t)
    print(f"\n== {name}: n={n} train + {n_test} test, p={p}, targets={t}, alphas 1e-2..1e6 (9), float32 input ==", flush=True)
    results = {}
    results["brainfit"] = run_brainfit(X, Y, Xt)
    if float64:
        results["brainfit float64"] = run_brainfit(X, Y, Xt, dtype="float64")
    if torch_backend:
        results["brainfit torch-cpu"] = run_brainfit(X, Y, Xt, backend="torch")
    results["sklearn RidgeCV"] = run_sklearn(X, Y, Xt)
    if himalaya:
        results["himalaya RidgeCV(cv=5)"] = run_himalaya(X, Y, Xt)
    t_bf = results["brainfit"][0]
    ref_pred, ref_alpha = results["sklearn RidgeCV"][1], results["sklearn RidgeCV"][2]
    spread = float(np.abs(ref_pred - ref_pred.mean(axis=0)).max())
    for label, (secs, pred, alpha) in results.items():
        diff = float(np.abs(np.asarray(pred, dtype=np.float64) - ref_pred).max())
        same = float(np.mean(np.isclose(alpha, ref_alpha)))
        print(f"{label:24s} {secs:8.2f} s   x{secs / t_bf:6.2f} brainfit time   "
              f"max|pred - sklearn| {diff:.2e} ({diff / spread:.1e} of spread)   same alpha {same:6.1%}", flush=True)
    t_sk = results["sklearn RidgeCV"][0]
    print(f"speed-up over scikit-learn: {t_sk / t_bf:.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-himalaya", action="store_true", help="skip himalaya (it takes ~4 min on the large case)")
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--torch", action="store_true", help="also time brainfit's torch backend on CPU")
    ap.add_argument("--float64", action="store_true", help="also time brainfit in float64")
    ap.add_argument("--targets", type=int, default=256)
    args = ap.parse_args()
    himalaya = not args.no_himalaya and importlib.util.find_spec("himalaya") is not None
    if not args.no_himalaya and not himalaya:
        print("himalaya not installed: skipping it")
    n, n_test, p_big, p_small = (800, 200, 4000, 400) if args.quick else (3200, 800, 20000, 1000)
    bench_case("large (dual)", n, p_big, args.targets, n_test, himalaya, args.torch, args.float64)
    bench_case("small (primal)", n, p_small, args.targets, n_test, himalaya, args.torch, args.float64)


if __name__ == "__main__":
    main()
