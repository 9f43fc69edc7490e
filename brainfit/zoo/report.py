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
    from brainfit.compare import ComparisonSettings, resolve_metric
    from brainfit.report import provenance, write_comparison, write_report

    emit = on_event or (lambda event: None)
    plan = plan_zoo(config, write=False)
    results = load_results(plan, layers=True)
    done = set(results)
    out = Path(config.out) / "report"
    cmp = config.compare
    table = results_table(plan, results)
    reports: dict[str, Path] = {}
    boards = []
    all_missing: list[str] = []
    for dspec in config.datasets:
        models, missing = _complete_models(plan, dspec.id, done)
        all_missing += missing
        if missing and not partial:
            raise ZooIncompleteError(
                f"{len(missing)} fit(s) of zoo {config.name!r} have not finished (e.g. {missing[:5]}); run "
                "`brainfit zoo run` first, or report the finished models with --partial")
        if not models:
            emit({"event": "warning", "message": f"{dspec.id}: no model has finished every region; no report"})
            continue
        regions = plan.datasets[dspec.id]["regions"]
        scores = {m: {r: results[(m, dspec.id, r)][0] for r in regions} for m in models}
        metric = resolve_metric(cmp.metric, scores)
        pairs = [(a, b) for a, b in cmp.contrasts if a in scores and b in scores]
        dropped = [f"{a} - {b}" for a, b in cmp.contrasts if (a, b) not in pairs]
        heatmaps = cmp.heatmaps if cmp.heatmaps is not None else len(models) <= MAX_HEATMAPS
        fits = {m: results[(m, dspec.id, regions[0])][1] for m in models} if heatmaps else {}  # one for all regions
        _, neural = load_data(dspec)
        folder = out / dspec.id
        shutil.rmtree(folder, ignore_errors=True)  # nothing of an earlier report (other contrasts) reappears
        written = write_comparison(
            folder, scores, pairs=pairs, regions=regions, labels={m: plan.models[m]["label"] for m in models},
            fits=fits, neural=neural, leaderboard_bootstrap=cmp.n_bootstrap,
            extra_figures=extra_figures(dspec.id, plan) if extra_figures is not None else None,
            settings=ComparisonSettings(metric=metric, n_permutations=cmp.n_permutations, n_bootstrap=cmp.n_bootstrap,
                                        seed=cmp.seed))
        atomic_write_text(folder / "zoo_results.csv", table[table["dataset"] == dspec.id].to_csv(index=False))
        if missing or dropped:
            note = (f"\nNot in this report (unfinished): {len(missing)} fit(s): {', '.join(missing[:20])}"
                    + (f"; contrasts left out: {', '.join(dropped)}" if dropped else "") + "\n")
            atomic_write_text(folder / "summary.txt", written["summary"] + note)
        m = config.mapping
        atomic_write_json(folder / "provenance.json", provenance(
            command=f"brainfit zoo report ({config.name})", dataset=plan.datasets[dspec.id],
            splits=scores[models[0]][regions[0]].attrs.get("splits"),
            models=[{k: v for k, v in plan.models[x].items() if k != "content"} for x in models],
            settings={"mapping": "ridge", "alphas": list(m.alphas), "projection_width": m.projection_width,
                      "projection_seed": m.projection_seed, "n_bootstrap": m.n_bootstrap, "seed": m.seed,
                      "compare": {"metric": metric, "contrasts": [list(p) for p in pairs],
                                  "n_permutations": cmp.n_permutations, "n_bootstrap": cmp.n_bootstrap},
                      "zoo": config.name}))
        reports[dspec.id] = write_report(folder, title=title or f"brainfit zoo {config.name}: {dspec.id}")
        boards.append(written["leaderboard"].assign(dataset=dspec.id))
        emit({"event": "report", "dataset": dspec.id, "path": str(reports[dspec.id]), "models": len(models),
              "contrasts": len(pairs)})
    board = pd.concat(boards, ignore_index=True) if boards else pd.DataFrame()
    if boards:
        atomic_write_text(out / "leaderboard.csv", board.to_csv(index=False))
    return {"reports": reports, "leaderboard": board, "missing": all_missing}
