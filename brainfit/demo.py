"""``brainfit demo``: the whole pipeline on the embedded synthetic ventral stream.

1. Generate the synthetic stimulus set and single-trial V4/IT spike counts (no download).
2. Load the shipped mini-zoo (task-trained on CIFAR-10 by ``brainfit train``): the gated ConvRNN
   (``convrnn_small_rgc``), the same weights with recurrence removed
   (``convrnn_small_rgc_unrolled``) and its parameter-matched wider feedforward control
   (``ff_small_wider_rgc``).
3. Extract time-resolved activations of every layer (random projection to a fixed width,
   streamed to a content-addressed cache), map model steps onto the neural 10 ms bins (one step
   per bin for the time-varying models, the single response copied to every bin for the
   feedforward control).
4. Fit cross-validated ridge per time bin on the SAME stimulus folds for every model, choose the
   layer per region on training folds only, score against split-half noise ceilings.
5. Write per-model scores (netCDF), a per-bin table (CSV), paired per-neuroid differences of the
   ConvRNN against each control, the per-timestep predictivity figure and a summary.

Everything lands in ``out`` (default ``results/demo``); rerunning reuses the activation cache.
"""

from __future__ import annotations

import csv
import io
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from brainfit._io import atomic_path, atomic_write_json, atomic_write_text

__all__ = ["run_demo", "DEMO_MODELS", "paired_differences"]

log = logging.getLogger(__name__)

# (registry name, label, temporal map kind): the ConvRNN first, then its controls.
DEMO_MODELS: tuple[tuple[str, str, str], ...] = (
    ("convrnn_small_rgc", "ConvRNN (RGC)", "one_to_one"),
    ("convrnn_small_rgc_unrolled", "same weights, no recurrence", "one_to_one"),
    ("ff_small_wider_rgc", "feedforward, wider (matched params)", "constant"),
)


def paired_differences(a: xr.Dataset, b: xr.Dataset, metric: str = "ceiled") -> dict[str, np.ndarray]:
    """Per-bin paired comparison of two models scored on the same neuroids and folds.

    Uses neuroid-bins that are reliable (same ceilings in both). Returns per bin the median
    difference ``a - b`` over neuroids, the fraction of neuroids where ``a`` is higher, and the
    two-sided Wilcoxon signed-rank p-value over neuroids, Benjamini-Hochberg adjusted over bins.
    Descriptive: the stimulus-bootstrap statistics belong to the comparison module.
    """
    from scipy.stats import wilcoxon

    if not np.array_equal(a.neuroid_id.values, b.neuroid_id.values):
        raise ValueError("paired_differences needs both score sets on the same neuroids in the same order")
    if a.attrs.get("splits", {}).get("fingerprint") != b.attrs.get("splits", {}).get("fingerprint"):
        raise ValueError("paired_differences needs both models scored on the same splits (fingerprints differ)")
    diff = (a[metric] - b[metric]).values
    reliable = a["reliable"].values
    T = diff.shape[1]
    med, frac, p = np.full(T, np.nan), np.full(T, np.nan), np.full(T, np.nan)
    for t in range(T):
        d = diff[reliable[:, t] & np.isfinite(diff[:, t]), t]
        if len(d) == 0:
            continue
        med[t], frac[t] = np.median(d), np.mean(d > 0)
        if len(d) >= 6 and np.any(d != 0):
            p[t] = wilcoxon(d).pvalue
    return {"median_diff": med, "frac_higher": frac, "p_fdr": _bh(p)}


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaNs kept out of the family)."""
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok])]
    m = len(order)
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out[order] = np.minimum(adj, 1.0)
    return out


def run_demo(out: str | Path = "results/demo", *, quick: bool = False, device: str | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Run the end-to-end demo and write its outputs to ``out``; returns the summary dict.

    Parameters
    ----------
    out : path
        Output folder (created).
    quick : bool
        A smaller dataset and fewer folds/bootstrap samples (a fast check of the whole path).
    device : str, optional
        See :func:`brainfit.device.resolve_device`.
    progress : bool
        Progress bars (the tables are printed either way).
    """
    from brainfit.activations import RandomProjection, extract
    from brainfit.assembly import average_repetitions, select_region
    from brainfit.data import load_dataset
    from brainfit.mapping import make_splits
    from brainfit.models import count_params, create_model, list_pretrained
    from brainfit.scoring import fit_and_score, save_scores, score_predictions
    from brainfit.temporal import constant, one_to_one

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = print
    shipped = set(list_pretrained())
    missing = [name for name, _, _ in DEMO_MODELS if name not in shipped]
    if missing:
        raise FileNotFoundError(f"the demo needs the shipped mini-zoo weights for {missing} in brainfit/weights "
                                "(train them with analyses/train_zoo/run_zoo.sh and release.py)")

    data_kw = dict(images_per_object=4, n_v4=32, n_it=64) if quick else {}
    stimuli, neural = load_dataset("synthetic", **data_kw)
    n_folds, n_boot, width = (5, 100, 256) if quick else (10, 500, 512)
    say(f"synthetic ventral stream: {len(stimuli)} images, {neural.sizes['neuroid']} sites "
        f"(V4, IT), {neural.sizes['time_bin']} bins of 10 ms, {int(neural.repetition.max()) + 1} repetitions")
    splits = make_splits(average_repetitions(neural), n_folds=n_folds, seed=0)
    splits.save(out / "splits.json")
    regions = ["V4", "IT"]
    layers = ["conv3", "conv4", "conv5"]  # the blocks the models assign to V4 and IT (candidates for both)
    maps = {"one_to_one": one_to_one(latency_ms=0.0), "constant": constant()}

    scores: dict[str, dict[str, xr.Dataset]] = {}
    models_info = []
    for name, label, kind in DEMO_MODELS:
        model = create_model(name, pretrained=True)
        t_model = time.perf_counter()
        acts = extract(model, stimuli, projection=RandomProjection(width=width, seed=0), cache=out / "activations",
                       device=device, model_id=name, progress=progress)
        with warnings.catch_warnings():
            # layers the feedforward sweep has not reached yet score ~0 in the earliest bins (expected)
            warnings.filterwarnings("ignore", message=".*feedforward signal has not reached.*")
            # one fit for all sites (one decomposition per layer, bin and fold serves V4 and IT);
            # layers are chosen per region on training folds; the per-region scores and their
            # stimulus-bootstrap CIs then come from the out-of-fold predictions of that choice
            fit = fit_and_score(acts, neural, maps[kind], layers=layers, splits=splits, n_bootstrap=0, seed=0,
                                keep_predictions=True, progress=progress)
        scores[name] = {}
        site_region = np.asarray(fit.region.values).astype(str)
        for region in regions:
            ds = score_predictions(fit["prediction_selected"].isel(neuroid=site_region == region),
                                   select_region(neural, region), splits=splits, n_bootstrap=n_boot, seed=0)
            ds["selected_layer"] = fit["selected_layer"].sel(selection_region=region, drop=True)
            ds.attrs.update({k: v for k, v in fit.attrs.items() if k not in ds.attrs})
            save_scores(ds, out / "scores" / f"{name}_{region}.nc")
            scores[name][region] = ds
        acts.close()
        chosen = {r: sorted(set(scores[name][r]["selected_layer"].values.ravel().tolist())) for r in regions}
        models_info.append({"name": name, "label": label, "params": count_params(model),
                            "is_recurrent": bool(model.is_recurrent), "temporal_map": kind,
                            "layers_selected": chosen, "seconds": round(time.perf_counter() - t_model, 1)})
        say(f"  {name:28s} {label:38s} layers chosen on training folds: "
            + ", ".join(f"{r} {'/'.join(chosen[r])}" for r in regions) + f"  ({time.perf_counter() - t_model:.0f} s)")

    ref = scores[DEMO_MODELS[0][0]][regions[0]]
    starts = ref.time_bin_start.values
    rows = []
    for name, label, _ in DEMO_MODELS:
        for region in regions:
            ds = scores[name][region]
            ci = ds["median_ceiled_ci"]
            for t, s in enumerate(starts):
                rows.append({"model": name, "region": region, "time_bin_start": float(s),
                             "time_bin_end": float(ds.time_bin_end.values[t]),
                             "median_ceiled": float(ds["median_ceiled"].values[t]),
                             "ci_low": float(ci.values[t, 0]), "ci_high": float(ci.values[t, 1]),
                             "median_r": float(ds["median_r"].values[t]),
                             "n_reliable": int(ds["n_reliable"].values[t])})
    _write_csv(out / "per_bin_scores.csv", rows)

    comparisons = []
    base = DEMO_MODELS[0][0]
    for other, _, _ in DEMO_MODELS[1:]:
        for region in regions:
            d = paired_differences(scores[base][region], scores[other][region])
            for t, s in enumerate(starts):
                comparisons.append({"model": base, "control": other, "region": region, "time_bin_start": float(s),
                                    "median_diff_ceiled": float(d["median_diff"][t]),
                                    "frac_neuroids_higher": float(d["frac_higher"][t]), "p_fdr": float(d["p_fdr"][t])})
    _write_csv(out / "paired_differences.csv", comparisons)

    table = _table(scores, regions, starts) + _paired_lines(comparisons, regions)
    atomic_write_text(out / "summary.txt", table)
    figure = _figure(scores, regions, out / "timecourse.png")
    summary = {
        "dataset": {"name": "synthetic", **data_kw, "n_images": len(stimuli), "n_sites": int(neural.sizes["neuroid"])},
        "splits": {"n_folds": n_folds, "seed": 0, "fingerprint": splits.fingerprint},
        "projection_width": width, "n_bootstrap": n_boot,
        "models": models_info,
        "mean_ceiled_over_bins": {name: {r: float(np.nanmean(scores[name][r]["median_ceiled"].values))
                                         for r in regions} for name, _, _ in DEMO_MODELS},
        "outputs": ["scores/*.nc", "per_bin_scores.csv", "paired_differences.csv", "summary.txt", figure.name],
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    atomic_write_json(out / "summary.json", summary)
    say(table)
    say(f"outputs in {out}/ ({summary['wall_time_s']:.0f} s): per-model scores (scores/*.nc), per_bin_scores.csv, "
        f"paired_differences.csv, {figure.name}")
    return summary


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _table(scores: dict[str, dict[str, xr.Dataset]], regions: list[str], starts: np.ndarray) -> str:
    lines = ["median ceiled score (r^2 / ceiling, reliable sites, layer chosen on training folds) per time bin"]
    lines.append(f"  {'bin start (ms)':>40s} " + " ".join(f"{s:5.0f}" for s in starts) + "   mean")
    for region in regions:
        lines.append(f"  {region}")
        for name, ds_by_region in scores.items():
            v = ds_by_region[region]["median_ceiled"].values
            lines.append(f"  {name:>40s} " + " ".join(f"{x:5.2f}" for x in v) + f"  {np.nanmean(v):5.2f}")
        n_rel = scores[next(iter(scores))][region]["n_reliable"].values
        lines.append(f"  {'reliable sites':>40s} " + " ".join(f"{int(x):5d}" for x in n_rel))
    return "\n".join(lines) + "\n"


def _paired_lines(comparisons: list[dict], regions: list[str]) -> str:
    lines = ["paired per-site differences of the ConvRNN's ceiled score (Wilcoxon over reliable sites, BH-FDR over bins)"]
    for control in dict.fromkeys(c["control"] for c in comparisons):
        for region in regions:
            rows = [c for c in comparisons if c["control"] == control and c["region"] == region
                    and np.isfinite(c["median_diff_ceiled"])]
            if not rows:
                continue
            diff = np.array([c["median_diff_ceiled"] for c in rows])
            p = np.array([c["p_fdr"] for c in rows])
            up, down = int(np.sum((p < 0.05) & (diff > 0))), int(np.sum((p < 0.05) & (diff < 0)))
            lines.append(f"  vs {control:28s} {region:3s}: median difference {np.median(diff):+.3f} over {len(rows)} bins; "
                         f"ConvRNN higher in {up}, lower in {down} bins (FDR < 0.05)")
    return "\n".join(lines) + "\n"


def _figure(scores: dict[str, dict[str, xr.Dataset]], regions: list[str], path: Path) -> Path:
    from brainfit.plots import _pyplot, plot_timecourse

    plt = _pyplot()
    labels = {name: label for name, label, _ in DEMO_MODELS}
    fig, axes = plt.subplots(1, len(regions), figsize=(5 * len(regions), 3.6), sharey=True)
    for ax, region in zip(np.atleast_1d(axes), regions):
        plot_timecourse({labels[name]: by_region[region] for name, by_region in scores.items()}, selected=False, ax=ax)
        ax.set_title(f"{region}: per-time-bin predictivity")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return path
