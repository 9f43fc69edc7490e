"""A zoo's results as tables and score Datasets, read from its result files (whoever computed them)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from brainfit.zoo.plan import FitTask, Plan

__all__ = ["RESULT_COLUMNS", "load_results", "results_table"]

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
        scores = load_scores(paths["scores"])
        out[(fit.model.id, fit.dataset.id, fit.region)] = (scores, load_scores(paths["layers"])) if layers else scores
    return out


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

