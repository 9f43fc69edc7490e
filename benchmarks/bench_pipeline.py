"""Pipeline benchmark: extraction against a bare forward loop (stage by stage), ``fit_and_score``
against a bare numpy version of the same ridge fits, and the wall time of the whole demo.

(a) Extraction of ``convrnn_small_rgc`` (5 layers, 26 steps, 960 PNG images from a zip, batch 64,
    random projection to 1000 features per layer), as stages added one at a time, each timed
    over the whole stimulus set (best of ``--repeats``):

    decode     iterate the stimulus batches (PNG decode, resize, normalise)
    forward    + the model's ``torch.no_grad`` forward pass: the bare loop, the floor
    hooks      + forward hooks on the 5 layers that receive every step's output
    reduce     + the projection of every distinct output (brainfit's hook callback)
    assemble   + copying the features into time-major (T, B, F) blocks, the finiteness check (in
               the foreground here; extract does it in its writer thread)
    extract    the whole ``brainfit.activations.extract`` into a fresh cache folder (adds the
               cache key, the HDF5 writes in a background thread, the file's seal)

    Overhead = extract / forward - 1. Peak memory at 1x and 4x the stimuli comes from
    ``bench_extraction.py`` (``--rss``).
(b) ``fit_and_score`` as the demo runs it for one model (960 stimuli, the 3 candidate layers of
    512 random features, 19 bins, 10 folds, 13 alphas, LOO alpha choice, layer selection) next to
    a bare numpy version of the same fits: per layer, per set of identical bins and per fold,
    centring in float64, ``X'X`` and one ``eigh`` in float32, the exact LOO errors of every alpha,
    the best alpha per target, and the test predictions. Ratio = fit_and_score / bare.
(c) ``brainfit demo`` (the default config, 3 models) in a fresh process with an empty cache.

Run from the repository root (nothing else running; timings on a busy machine mean nothing)::

    .venv/bin/python benchmarks/bench_pipeline.py            # (a), (b), (c): about 8 minutes
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # smaller (a), no (c)

Results, 2026-11-30, 2-core AMD EPYC VM (no GPU), torch 2.13.0+cpu with 2 threads,
``.venv/bin/python benchmarks/bench_pipeline.py --rss``. Timings on this VM move by +-15%
from run to run (the bare loop alone took 10.4 to 13.8 s), so read ratios, not seconds::

    (a) extraction, 960 images x 26 steps x 5 layers, projection 1000/layer (best of 3):
        decode       0.37 s   stage  +0.37 s
        forward     10.37 s   stage +10.00 s   (the bare loop)
        hooks       10.04 s   stage  -0.34 s   (noise: hooks cost ~nothing)
        reduce      11.37 s   stage  +1.33 s   vs bare forward  +9.6%
        assemble    12.78 s   stage  +1.41 s   (foreground here, in the writer thread in extract)
        extract     12.31 s                    vs bare forward +18.6%
        peak RSS 960 stimuli 578 MB, 3840 stimuli 578 MB, ratio 1.000
    (b) demo-sized fits (570 fold fits): fit_and_score 41.9 s, bare numpy 40.4 s, ratio 1.04;
        max |prediction difference| 6.7e-04 of a spread of 8.8 (float32)
    (c) brainfit demo (3 models, fresh cache): 179.6 s wall

A second full run of (a) after the last review changes: forward 9.29 s, extract 11.63 s, +25.2%
(its stage lines were noise-dominated: hooks +0.85 s, assemble below reduce); peak RSS 581 / 583 MB.

Before this benchmark's changes (same machine and day): extract +63% and +87% over the bare loop
(two runs); fit_and_score 113.7 s against 46.9 s bare (2.43x, ``--no-serial-eigh`` puts that back
for (b)); the demo 273 s (205 s after, in the same A/B run). Five interleaved bare/extract pairs
(not best-of) gave overheads +18.7% to +33.6%, median +24.4%.

No GPU was lent to the session that wrote this: the accelerator table is still to be measured
(``--parts ab`` on the GPU machine; extraction projects on the device there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import make_zip, peak_rss  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- (a) extraction


def extraction_stages(n_images: int, n_steps: int, batch: int, repeats: int) -> dict[str, float]:
    """Seconds of each cumulative stage (module docstring), best of ``repeats``."""
    from brainfit.activations import RandomProjection, extract
    from brainfit.activations.extraction import _Blocks, _features_of_batch, _plan
    from brainfit.activations.reduce import _sparse_matrix
    from brainfit.models import create_model
    from brainfit.stimuli import Preprocessing, StimulusSet

    torch.manual_seed(0)
    model = create_model("convrnn_small_rgc").eval()
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        zpath = Path(tmp) / "stim.zip"
        make_zip(zpath, n_images)
        stimuli = StimulusSet.from_zip(zpath)
        prep = Preprocessing(size=32, mean=model.norm_mean, std=model.norm_std)
        proj = RandomProjection(1000, seed=0)

        def job():
            return _plan(model, stimuli, None, n_steps=n_steps, on_steps=None, batch_size=batch, preprocessing=prep,
                         pooling=None, projection=proj, cache_dir=Path(tmp) / "plan", device="cpu", model_id=None,
                         progress=False)

        def decode(j):
            for _ in stimuli.batches(batch, prep):
                pass

        def forward(j):
            with torch.no_grad():
                for _, x in stimuli.batches(batch, prep):
                    model(x, n_steps=n_steps)

        def hooks(j):
            with j.view.capture(lambda name, out: None), torch.no_grad():
                for _, x in stimuli.batches(batch, prep):
                    j.view.run(x, j.n_steps, j.on_steps)

        def reduce(j):
            for _, x in stimuli.batches(batch, prep):
                _features_of_batch(j, x)

        def assemble(j):
            blocks = None
            for ids, x in stimuli.batches(batch, prep):
                feats = _features_of_batch(j, x)
                if blocks is None:
                    blocks = _Blocks(j, {n: next(f for f in feats[n] if f is not None).shape[1] for n in feats})
                blocks.assemble(feats, ids)

        runs = {"decode": decode, "forward": forward, "hooks": hooks, "reduce": reduce, "assemble": assemble}
        for r in range(repeats):
            for name, fn in runs.items():
                j = job()  # planning (keys, hashes) is timed in extract only
                _sparse_matrix.cache_clear()  # every run draws its projection matrices, as a first extraction does
                t = time.perf_counter()
                fn(j)
                best[name] = min(best.get(name, np.inf), time.perf_counter() - t)
            _sparse_matrix.cache_clear()
            t = time.perf_counter()
            act = extract(model, stimuli, n_steps=n_steps, batch_size=batch, preprocessing=prep, projection=proj,
                          cache=Path(tmp) / f"cache{r}", progress=False)
            best["extract"] = min(best.get("extract", np.inf), time.perf_counter() - t)
            act.close()
    return best


# ----------------------------------------------------------------------------- (b) fitting


def demo_fit_inputs():
    """The demo's first model, data, splits and mapping: what ``brainfit demo`` fits for it (its zoo
    config read and planned as the demo does)."""
    from brainfit.activations import RandomProjection, extract
    from brainfit.mapping import RidgeMapping, Splits
    from brainfit.temporal import TemporalMap
    from brainfit.zoo import ZooConfig, build_model, plan_zoo
    from brainfit.zoo.plan import load_data

    with tempfile.TemporaryDirectory() as tmp:
        cfg = ZooConfig.from_yaml(ROOT / "analyses" / "demo" / "demo.yaml", out=tmp)
        plan = plan_zoo(cfg)
        fit = plan.fits[0]
        splits = Splits.load(fit.splits_path)
    stimuli, neural = load_data(fit.dataset)
    m = cfg.mapping
    acts = extract(build_model(fit.model), stimuli, layers=list(fit.layers), projection=RandomProjection(
        m.projection_width, seed=m.projection_seed), cache=False, progress=False)
    return acts, neural, TemporalMap.from_dict(fit.temporal_map), splits, RidgeMapping(alphas=m.alphas), cfg


def bare_fits(X_by_layer: dict[str, np.ndarray], Y: np.ndarray, folds: list, alphas: np.ndarray) -> np.ndarray:
    """Out-of-fold ridge predictions (L, n, N, T) with LOO alpha choice per target, in bare numpy.

    ``X_by_layer``: layer -> (n, p, T) features per bin; ``Y``: (n, N, T) responses. Bins whose
    features are identical are one multi-target fit (as in fit_and_score).
    """
    L = len(X_by_layer)
    n, N, T = Y.shape
    pred = np.empty((L, n, N, T))
    for li, X3 in enumerate(X_by_layer.values()):
        groups: dict[bytes, list[int]] = {}
        for b in range(T):
            groups.setdefault(X3[:, :, b].tobytes(), []).append(b)
        for bins in groups.values():
            X = X3[:, :, bins[0]].astype(np.float64)
            Yg = Y[:, :, bins].reshape(n, -1)
            out = np.empty(Yg.shape)
            for tr, te in folds:
                xm, ym = X[tr].mean(0), Yg[tr].mean(0)
                Xc = (X[tr] - xm).astype(np.float32)
                Yc = (Yg[tr] - ym).astype(np.float32)
                evals, V = np.linalg.eigh(Xc.T @ Xc)
                evals = np.maximum(evals, 0)
                P = Xc @ V
                S = P.T @ Yc
                Dinv = 1.0 / (evals[:, None] + alphas[None, :].astype(np.float32))
                denom = 1.0 - (P * P) @ Dinv - 1.0 / len(tr)
                mse = np.stack([((((Yc - P @ (S * Dinv[:, a:a + 1])) / denom[:, a:a + 1]) ** 2).mean(0))
                                for a in range(len(alphas))])
                Z = S * Dinv[:, np.argmin(mse, axis=0)]
                out[te] = ((X[te] - xm).astype(np.float32) @ V) @ Z + ym
            pred[li][:, :, bins] = out.reshape(n, N, len(bins))
    return pred


def fitting(repeats: int) -> dict[str, float]:
    """Seconds of fit_and_score (as the demo calls it) and of :func:`bare_fits`, best of ``repeats``."""
    from brainfit.assembly import LAYER, average_repetitions, reorder_to
    from brainfit.scoring import fit_and_score

    acts, neural, tmap, splits, mapping, cfg = demo_fit_inputs()
    ids = splits.stimulus_ids
    avg = reorder_to(average_repetitions(neural), ids, name="neural")
    mapped = reorder_to(tmap(acts, avg), ids, name="activations")
    layer_of = np.asarray(mapped.coords[LAYER].values).astype(str)
    X_by_layer = {name: np.ascontiguousarray(mapped.values[:, layer_of == name]) for name in cfg.layers}
    Y = avg.values.astype(np.float64)
    folds = splits.indices(ids)
    res: dict[str, float] = {}
    for _ in range(repeats):
        t = time.perf_counter()
        ds = fit_and_score(acts, neural, tmap, layers=list(cfg.layers), splits=splits, n_bootstrap=0, seed=cfg.mapping.seed,
                           keep_predictions=True, mapping=mapping, progress=False)
        res["fit_and_score"] = min(res.get("fit_and_score", np.inf), time.perf_counter() - t)
        t = time.perf_counter()
        pred = bare_fits(X_by_layer, Y, folds, np.asarray(cfg.mapping.alphas))
        res["bare"] = min(res.get("bare", np.inf), time.perf_counter() - t)
    ours = np.moveaxis(ds["prediction"].values, -1, 0)
    res["max_abs_pred_diff"] = float(np.abs(ours - pred).max())
    res["pred_spread"] = float(np.abs(pred - pred.mean(1, keepdims=True)).max())
    res["n_fits"] = len(folds) * sum(len({X[:, :, b].tobytes() for b in range(X.shape[2])}) for X in X_by_layer.values())
    return res


# ----------------------------------------------------------------------------- (c) demo


def demo_wall() -> float:
    """Wall seconds of ``brainfit demo`` (default config) in a fresh process with an empty cache."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BRAINFIT_CACHE": str(Path(tmp) / "cache")}
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "brainfit.cli", "demo", "--config", str(ROOT / "analyses/demo/demo.yaml"),
                        "--out", str(Path(tmp) / "out")], check=True, env=env,
                       stdout=subprocess.DEVNULL, cwd=ROOT)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="256 images in (a), 1 repeat, no (c)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rss", action="store_true", help="also peak memory at 1x and 4x the stimuli")
    ap.add_argument("--parts", default="abc", help="which parts to run (default: abc)")
    ap.add_argument("--no-serial-eigh", action="store_true",
                    help="(b) with scipy's BLAS at every thread in small eigendecompositions (as before)")
    args = ap.parse_args()
    if args.no_serial_eigh:
        from brainfit.mapping import _backend
        _backend.SERIAL_EIGH_MAX = 0
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    repeats = 1 if args.quick else args.repeats
    n = 256 if args.quick else 960
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores", flush=True)

    if "a" in args.parts:
        extraction_part(n, repeats, args.rss)
    if "b" in args.parts:
        fit = fitting(1 if args.quick else 2)
        print(f"(b) demo-sized fits ({fit['n_fits']} fold fits): fit_and_score {fit['fit_and_score']:.1f} s, "
              f"bare numpy {fit['bare']:.1f} s, ratio {fit['fit_and_score'] / fit['bare']:.2f} (target <= 1.3); "
              f"max |prediction difference| {fit['max_abs_pred_diff']:.2e} of spread {fit['pred_spread']:.2f}",
              flush=True)
    if "c" in args.parts and not args.quick:
        print(f"(c) brainfit demo (3 models, fresh cache): {demo_wall():.1f} s wall", flush=True)


def extraction_part(n: int, repeats: int, rss: bool) -> None:
    st = extraction_stages(n, n_steps=26, batch=64, repeats=repeats)
    floor = st["forward"]
    print(f"(a) extraction, {n} images x 26 steps x 5 layers, projection 1000/layer (best of {repeats}):")
    prev = 0.0
    for name in ("decode", "forward", "hooks", "reduce", "assemble", "extract"):
        print(f"    {name:9s} {st[name]:7.2f} s   stage {st[name] - prev:+6.2f} s   "
              f"vs bare forward {100 * (st[name] / floor - 1):+6.1f}%")
        prev = st[name]
    print(f"    extraction overhead over the bare loop: {100 * (st['extract'] / floor - 1):+.1f}%  "
          "(target <= +25%, stretch <= +10%)", flush=True)
    if rss:
        a, b = peak_rss(n, n_steps=26)
        print(f"    peak RSS {a['n_images']} stimuli {a['peak_rss_mb']:.0f} MB, {b['n_images']} stimuli "
              f"{b['peak_rss_mb']:.0f} MB, ratio {b['peak_rss_mb'] / a['peak_rss_mb']:.3f} (target <= 1.10)", flush=True)


if __name__ == "__main__":
    main()
