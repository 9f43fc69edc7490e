"""A zoo's report: per dataset, the leaderboard, per-timestep curves of every model and the paired
contrasts of the config (:func:`brainfit.report.write_comparison`), rendered as one HTML page
(:func:`brainfit.report.write_report`); and one leaderboard over every dataset."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from brainfit._io import atomic_write_json, atomic_write_text
from brainfit.zoo.config import ZooConfig
from brainfit.zoo.plan import Plan, load_data, plan_zoo
from brainfit.zoo.results import load_results, results_table

__all__ = ["FigureHook", "ZooIncompleteError", "write_zoo_report"]

#: Zoos with more models than this get no layer x bin figure per model unless the config asks.
MAX_HEATMAPS = 12


class ZooIncompleteError(RuntimeError):
    """A report asked for before every fit of the zoo has finished."""


def _complete_models(plan: Plan, dataset: str, done: set[tuple[str, str, str]]) -> tuple[list[str], list[str]]:
    """Model ids of ``dataset`` with every region finished, and the fits still missing."""
    regions = plan.datasets[dataset]["regions"]
    complete, missing = [], []
    for spec in plan.config.models:
        if any((spec.id, dataset, r) not in done for r in regions):
            missing.append(f"{spec.id} / {dataset}")
        else:
            complete.append(spec.id)
    return complete, missing


def _readouts_figure(scores: dict[str, dict[str, dict[str, Any]]], labels: dict[str, str], regions: list[str],
                     metric: str) -> dict[str, tuple[Any, str]]:
    """The readouts side by side: every model's curve under each readout, one panel per region."""
    from brainfit import plots

    curves = {f"{labels[m]} [{readout.replace('_', '-')}]": by_region
              for readout, of_model in scores.items() for m, by_region in of_model.items()}
    fig = plots.timecourse_panels(curves, regions, metric=metric)
    what = "ceiled score" if metric == "ceiled" else "raw r"
    return {"readouts.png": (fig, f"The readouts side by side: median {what} per time bin of every model with one "
                                  "ridge map per bin [per-bin] and with one map shared by every bin [shared]. A "
                                  "static model's time course under the per-bin readout comes from re-weighting "
                                  "its features bin by bin; under the shared readout only from the features")}


#: The report's figure hook: ``hook(dataset_id, plan) -> {file name: (Figure, caption)}``, figures
#: added to that dataset's report after the standard ones (e.g. ``brainfit demo``'s channel maps).
FigureHook = Callable[[str, Plan], dict[str, tuple[Any, str]]]


def write_zoo_report(config: ZooConfig, *, partial: bool = False, title: str | None = None,
                     extra_figures: FigureHook | None = None,
                     on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Write ``<out>/report/<dataset>/`` (tables, figures, ``report.html``) for every dataset of the zoo
    and ``<out>/report/leaderboard.csv`` over all of them (its ``metric`` column says, per dataset,
    whether ``score`` is the ceiled score or raw r); returns ``{"reports": {dataset: path},
    "leaderboard": DataFrame, "missing": [...]}``.

    ``partial``: report the models whose every region has finished (contrasts with a missing model
    are left out and named in the summary); without it, an unfinished zoo is an error naming the
    missing fits. ``extra_figures``: the report's hook for more figures (:data:`FigureHook`),
    called once per dataset.
    """
    from brainfit.compare import resolve_metric

    emit = on_event or (lambda event: None)
    plan = plan_zoo(config, write=False)
    readouts = config.mapping.readouts
    results = {r: load_results(plan, layers=True, readout=r) for r in readouts}
    out = Path(config.out) / "report"
    cmp = config.compare
    table = results_table(plan, results)
    reports: dict[str, Path] = {}
    boards = []
    all_missing: list[str] = []
    for dspec in config.datasets:
        regions = plan.datasets[dspec.id]["regions"]
        models: dict[str, list[str]] = {}
        missing_here: list[str] = []
        for readout in readouts:
            models[readout], missing = _complete_models(plan, dspec.id, set(results[readout]))
            missing = [f"{m} ({readout} readout)" if len(readouts) > 1 else m for m in missing]
            missing_here += missing
            all_missing += missing
            if missing and not partial:
                raise ZooIncompleteError(
                    f"{len(missing)} fit(s) of zoo {config.name!r} have not finished (e.g. {missing[:5]}); run "
                    "`brainfit zoo run` first, or report the finished models with --partial")
        if not any(models.values()):
            emit({"event": "warning", "message": f"{dspec.id}: no model has finished every region; no report"})
            continue
        scores = {r: {m: {g: results[r][(m, dspec.id, g)][0] for g in regions} for m in models[r]}
                  for r in readouts if models[r]}
        metric = resolve_metric(cmp.metric, next(iter(scores.values())))
        labels = {m: plan.models[m]["label"] for m in plan.models}
        figures = dict(extra_figures(dspec.id, plan)) if extra_figures is not None else {}  # once per dataset
        if len(scores) > 1:
            figures.update(_readouts_figure(scores, labels, regions, metric))
        _, neural = load_data(dspec)
        shutil.rmtree(out / dspec.id, ignore_errors=True)  # nothing of an earlier report (other contrasts) reappears
        for readout, of_model in scores.items():
            folder = out / dspec.id / readout if len(readouts) > 1 else out / dspec.id
            written = _write_one(config, plan, dspec, readout, of_model, results[readout], regions, metric, neural,
                                 folder, table, missing_here, figures, title)
            reports[dspec.id if len(readouts) == 1 else f"{dspec.id}/{readout}"] = written["report"]
            boards.append(written["leaderboard"].assign(dataset=dspec.id, readout=readout))
            emit({"event": "report", "dataset": dspec.id + ("" if len(readouts) == 1 else f" ({readout} readout)"),
                  "path": str(written["report"]), "models": len(of_model), "contrasts": len(written["pairs"])})
    board = pd.concat(boards, ignore_index=True) if boards else pd.DataFrame()
    if boards:
        atomic_write_text(out / "leaderboard.csv", board.to_csv(index=False))
    return {"reports": reports, "leaderboard": board, "missing": all_missing}


def _write_one(config: ZooConfig, plan: Plan, dspec: Any, readout: str, scores: dict[str, dict[str, Any]],
               results: dict[tuple[str, str, str], Any], regions: list[str], metric: str, neural: Any, folder: Path,
               table: pd.DataFrame, missing: list[str], figures: dict[str, tuple[Any, str]],
               title: str | None) -> dict[str, Any]:
    """One dataset's report under one readout, in ``folder``."""
    from brainfit.compare import ComparisonSettings
    from brainfit.report import provenance, write_comparison, write_report

    cmp = config.compare
    models = list(scores)
    pairs = [(a, b) for a, b in cmp.contrasts if a in scores and b in scores]
    dropped = [f"{a} - {b}" for a, b in cmp.contrasts if (a, b) not in pairs]
    heatmaps = cmp.heatmaps if cmp.heatmaps is not None else len(models) <= MAX_HEATMAPS
    fits = {m: results[(m, dspec.id, regions[0])][1] for m in models} if heatmaps else {}  # one for all regions
    written = write_comparison(
        folder, scores, pairs=pairs, regions=regions, labels={m: plan.models[m]["label"] for m in models},
        fits=fits, neural=neural, leaderboard_bootstrap=cmp.n_bootstrap, extra_figures=figures or None,
        settings=ComparisonSettings(metric=metric, n_permutations=cmp.n_permutations, n_bootstrap=cmp.n_bootstrap,
                                    seed=cmp.seed))
    rows = table[(table["dataset"] == dspec.id) & (table["readout"] == readout)]
    atomic_write_text(folder / "zoo_results.csv", rows.to_csv(index=False))
    if missing or dropped:
        note = (f"\nNot in this report (unfinished): {len(missing)} fit(s): {', '.join(missing[:20])}"
                + (f"; contrasts left out: {', '.join(dropped)}" if dropped else "") + "\n")
        atomic_write_text(folder / "summary.txt", written["summary"] + note)
    m = config.mapping
    atomic_write_json(folder / "provenance.json", provenance(
        command=f"brainfit zoo report ({config.name})", dataset=plan.datasets[dspec.id],
        splits=scores[models[0]][regions[0]].attrs.get("splits"),
        models=[{k: v for k, v in plan.models[x].items() if k != "content"} for x in models],
        settings={"mapping": "ridge", "readout": readout, "alphas": list(m.alphas),
                  "projection_width": m.projection_width, "projection_seed": m.projection_seed,
                  "n_bootstrap": m.n_bootstrap, "seed": m.seed,
                  "compare": {"metric": metric, "contrasts": [list(p) for p in pairs],
                              "n_permutations": cmp.n_permutations, "n_bootstrap": cmp.n_bootstrap},
                  "zoo": config.name}))
    suffix = "" if len(config.mapping.readouts) == 1 else f" ({readout.replace('_', '-')} readout)"
    report = write_report(folder, title=(title or f"brainfit zoo {config.name}: {dspec.id}") + suffix)
    return {"report": report, "leaderboard": written["leaderboard"], "pairs": pairs}
