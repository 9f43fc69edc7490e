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

RESULT_COLUMNS = ["model", "label", "dataset", "region", "readout", "is_recurrent", "params", "weights", "n_bins", "n_neuroids",
                  "mean_ceiled", "mean_r", "n_reliable", "layers_selected", "latencies_selected_ms", "key"]


def _mean(values: np.ndarray) -> float:
    values = np.asarray(values, float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def load_results(plan: Plan, fits: list[FitTask] | None = None, *, layers: bool = False,
                 readout: str | None = None) -> dict[tuple[str, str, str], Any]:
    """``(model, dataset, region) -> scores Dataset`` of the finished fits of one readout (``layers``:
    also the per-layer Dataset, as a ``(scores, per_layer)`` pair). Unfinished or damaged results
    are left out.

    ``readout``: ``"per_bin"`` or ``"shared"``; required when the zoo fits both (a ``ValueError``
    otherwise), else the zoo's one readout.
    """
    from brainfit.scoring import load_scores

    readouts = plan.config.mapping.readouts
    if readout is None:
        if len(readouts) > 1:
            raise ValueError(f"zoo {plan.config.name!r} fits the readouts {list(readouts)}: name one (readout=...)")
        readout = readouts[0]
    elif readout not in readouts:
        raise ValueError(f"zoo {plan.config.name!r} fits no {readout!r} readout; readouts: {list(readouts)}")
    out: dict[tuple[str, str, str], Any] = {}
    for fit in plan.fits if fits is None else fits:
        if fit.readout != readout or fit.finished() is None:
            continue
        paths = fit.paths()
        per_layer = load_scores(paths["layers"]) if layers else None
        for region, path in paths["scores"].items():
            scores = load_scores(path)
            out[(fit.model.id, fit.dataset.id, region)] = (scores, per_layer) if layers else scores
    return out


def read_results_folder(folder: str | os.PathLike, dataset: str | None = None,
                        readout: str | None = None) -> dict[str, Any]:
    """Every complete result in a results folder, whoever wrote it (``brainfit zoo run``, ``brainfit
    fit``, ``brainfit demo``): ``{"dataset": id, "readout": name, "scores": {model: {region:
    Dataset}}, "fits": {model: per-layer Dataset}, "models": {model: model attrs}}``.

    Results are found by their manifests (``results/<dataset>/<model>/<key>.json``), each checked
    against its files' SHA-256 (a damaged or unfinished result is left out, with a warning). Where
    one model has results under several keys (settings changed between runs), the newest manifest
    wins. ``dataset`` picks one dataset of a folder holding several, ``readout`` one readout
    (``"per_bin"`` or ``"shared"``) of a folder holding both (each required then).

    Raises
    ------
    ValueError
        For a folder without results, an unknown ``dataset`` or ``readout``, or several datasets or
        readouts without one named.
    """
    from brainfit.scoring import load_scores

    root = Path(folder) / "results"
    found: dict[str, dict[str, dict[str, tuple[float, Path, dict]]]] = {}
    for path in sorted(root.glob("*/*/*.json")):
        found_here = read_manifest(path)
        if found_here is None:
            warnings.warn(f"{path}: not a complete result (unreadable, or a file missing or damaged), left out",
                          RuntimeWarning, stacklevel=2)
            continue
        manifest, files = found_here
        ds_id, model = manifest["dataset"], manifest["model"]
        of_readout = found.setdefault(ds_id, {}).setdefault(manifest.get("readout", "per_bin"), {})
        stamp = path.stat().st_mtime
        if model not in of_readout or stamp > of_readout[model][0]:
            of_readout[model] = (stamp, path, files)
    if not found:
        raise ValueError(f"{folder} holds no complete results (results/<dataset>/<model>/*.json)")
    if dataset is None:
        if len(found) > 1:
            raise ValueError(f"{folder} holds results on several datasets {sorted(found)}: name one")
        dataset = next(iter(found))
    if dataset not in found:
        raise ValueError(f"{folder} holds no results on dataset {dataset!r}; datasets: {sorted(found)}")
    if readout is None:
        if len(found[dataset]) > 1:
            raise ValueError(f"{folder} holds results of several readouts on {dataset!r} {sorted(found[dataset])}: "
                             "name one")
        readout = next(iter(found[dataset]))
    if readout not in found[dataset]:
        raise ValueError(f"{folder} holds no {readout!r} readout results on {dataset!r}; readouts: "
                         f"{sorted(found[dataset])}")
    scores: dict[str, dict[str, Any]] = {}
    fits: dict[str, Any] = {}
    models: dict[str, dict] = {}
    for model, (_, _, files) in found[dataset][readout].items():
        for what, path in files.items():
            ds = load_scores(path)
            if what == "layers":
                fits[model] = ds
            else:
                scores.setdefault(model, {})[what.removeprefix("scores/")] = ds
            models[model] = ds.attrs.get("model", {"name": model})
    return {"dataset": dataset, "readout": readout, "scores": scores, "fits": fits, "models": models}


def results_table(plan: Plan, results: dict[str, dict[tuple[str, str, str], Any]] | None = None) -> pd.DataFrame:
    """One row per finished (model, dataset, region, readout), in config order: the mean over bins of
    the median ceiled score and of the median raw r, the layers chosen on training folds, the key.

    ``results``: readout -> what :func:`load_results` returned for it (read again when not given)."""
    if results is None:
        results = {r: load_results(plan, readout=r) for r in plan.config.mapping.readouts}
    rows = []
    for readout, found in results.items():
        rows += _rows(plan, readout, found)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _rows(plan: Plan, readout: str, results: dict[tuple[str, str, str], Any]) -> list[dict]:
    rows = []
    for (model, dataset, region), ds in results.items():
        ds = ds[0] if isinstance(ds, tuple) else ds
        facts = plan.models[model]
        rows.append({
            "model": model, "label": facts["label"], "dataset": dataset, "region": region, "readout": readout,
            "is_recurrent": facts["is_recurrent"], "params": facts["params"], "weights": facts["weights"],
            "n_bins": int(ds.sizes["time_bin"]), "n_neuroids": int(ds.sizes["neuroid"]),
            "mean_ceiled": _mean(ds["median_ceiled"].values), "mean_r": _mean(ds["median_r"].values),
            "n_reliable": float(np.asarray(ds["reliable"].values, bool).sum(axis=0).mean()),
            "layers_selected": "/".join(sorted(set(np.asarray(ds["selected_layer"].values).astype(str).tolist()))),
            "latencies_selected_ms": ("/".join(f"{x:g}" for x in sorted(set(ds["selected_latency_ms"].values.tolist())))
                                      if "selected_latency_ms" in ds else ""),
            "key": ds.attrs.get("zoo_key", ""),
        })
    return rows

