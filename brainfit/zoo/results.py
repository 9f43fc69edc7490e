"""A zoo's results as tables and score Datasets, read from its result files (whoever computed them)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainfit.zoo.plan import FitTask, Plan, read_manifest

__all__ = ["RESULT_COLUMNS", "load_results", "read_results_folder", "results_table"]

RESULT_COLUMNS = ["model", "label", "dataset", "region", "is_recurrent", "params", "weights", "n_bins", "n_neuroids",
                  "mean_ceiled", "mean_r", "n_reliable", "layers_selected", "key"]


def _mean(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def load_results(plan: Plan, fits: list[FitTask] | None = None, *, layers: bool = False) -> dict[tuple[str, str, str],
                                                                                              Any]:
    """``(model, dataset, region) -> scores Dataset`` of the finished fits (``layers``: also the
    per-layer Dataset, as a ``(scores, per_layer)`` pair). Unfinished or damaged results are left out."""
    from brainfit.scoring import load_scores

    out: dict[tuple[str, str, str], Any] = {}
    for fit in plan.fits if fits is None else fits:
        if fit.finished() is None:
            continue
        paths = fit.paths()
        per_layer = load_scores(paths["layers"]) if layers else None
        for region, path in paths["scores"].items():
            scores = load_scores(path)
            out[(fit.model.id, fit.dataset.id, region)] = (scores, per_layer) if layers else scores
    return out


def read_results_folder(folder: str | os.PathLike, dataset: str | None = None) -> dict[str, Any]:
    """Every complete result in a results folder, whoever wrote it (``brainfit zoo run``, ``brainfit
    fit``, ``brainfit demo``): ``{"dataset": id, "scores": {model: {region: Dataset}}, "fits": {model:
    per-layer Dataset}, "models": {model: model attrs}}``.

    Results are found by their manifests (``results/<dataset>/<model>/<key>.json``), each checked
    against its files' SHA-256 (a damaged or unfinished result is left out, with a warning). Where
    one model has results under several keys (settings changed between runs), the newest manifest
    wins. ``dataset`` picks one dataset of a folder holding several (required then).

    Raises
    ------
    ValueError
        For a folder without results, an unknown ``dataset`` or several datasets without one named.
    """
    from brainfit.scoring import load_scores

    root = Path(folder) / "results"
    found: dict[str, dict[str, tuple[float, Path, dict]]] = {}
    for path in sorted(root.glob("*/*/*.json")):
        found_here = read_manifest(path)
        if found_here is None:
            warnings.warn(f"{path}: not a complete result (unreadable, or a file missing or damaged), left out",
                          RuntimeWarning, stacklevel=2)
            continue
        manifest, files = found_here
        ds_id, model = manifest["dataset"], manifest["model"]
        stamp = path.stat().st_mtime
        if model not in found.setdefault(ds_id, {}) or stamp > found[ds_id][model][0]:
            found[ds_id][model] = (stamp, path, files)
    if not found:
        raise ValueError(f"{folder} holds no complete results (results/<dataset>/<model>/*.json)")
    if dataset is None:
        if len(found) > 1:
            raise ValueError(f"{folder} holds results on several datasets {sorted(found)}: name one")
        dataset = next(iter(found))
    if dataset not in found:
        raise ValueError(f"{folder} holds no results on dataset {dataset!r}; datasets: {sorted(found)}")
    scores: dict[str, dict[str, Any]] = {}
    fits: dict[str, Any] = {}
    models: dict[str, dict] = {}
    for model, (_, _, files) in found[dataset].items():
        for what, path in files.items():
            ds = load_scores(path)
            if what == "layers":
                fits[model] = ds
            else:
                scores.setdefault(model, {})[what.removeprefix("scores/")] = ds
            models[model] = ds.attrs.get("model", {"name": model})
    return {"dataset": dataset, "scores": scores, "fits": fits, "models": models}


def results_table(plan: Plan, results: dict[tuple[str, str, str], Any] | None = None) -> pd.DataFrame:
    """One row per finished (model, dataset, region), in config order: the mean over bins of the
    median ceiled score and of the median raw r, the layers chosen on training folds, the key.

    ``results``: what :func:`load_results` returned (read again when not given)."""
    rows = []
    for (model, dataset, region), ds in (load_results(plan) if results is None else results).items():
        ds = ds[0] if isinstance(ds, tuple) else ds
        facts = plan.models[model]
        rows.append({
            "model": model, "label": facts["label"], "dataset": dataset, "region": region,
            "is_recurrent": facts["is_recurrent"], "params": facts["params"], "weights": facts["weights"],
            "n_bins": int(ds.sizes["time_bin"]), "n_neuroids": int(ds.sizes["neuroid"]),
            "mean_ceiled": _mean(ds["median_ceiled"].values), "mean_r": _mean(ds["median_r"].values),
            "n_reliable": float(np.asarray(ds["reliable"].values, bool).sum(axis=0).mean()),
            "layers_selected": "/".join(sorted(set(np.asarray(ds["selected_layer"].values).astype(str).tolist()))),
            "key": ds.attrs.get("zoo_key", ""),
        })
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)

