"""Score the mini-zoo and the CIFAR ResNets on every Cowley et al. 2023 V4 session present.

Usage: ``python analyses/cowley_v4/run.py [--config analyses/cowley_v4/cowley_v4.yaml] [--out
results/cowley_v4] [--sessions 210325 ...]`` (or ``make cowley-v4``). Needs the data root
(``BRAINFIT_DATA``, default ``../shared/data``) with ``cowley2023_v4`` and
``pretrained_cifar_resnets``.

Per session, into ``OUT/<session>/``: score files (``scores/<model>_V4.nc`` and the per-layer
``scores/<model>_layers.nc``), ``per_layer.csv``, the leaderboard, paired contrasts, figures and
``report.html`` (through :func:`brainfit.report.write_comparison` / ``write_report``). Sessions
with single trials are scored as ceiled scores against split-half ceilings; the others with raw
r (their ceiled fields are NaN). Across sessions: ``OUT/leaderboard.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from brainfit._config import ConfigError, check_fields, int_field, read_yaml_mapping

HERE = Path(__file__).resolve().parent
REGION = "V4"


@dataclasses.dataclass(frozen=True)
class Model:
    """One model: ``key`` (its name in the results), registry ``name``, ``label``, weights and seed;
    ``recurrent_schedule``: unroll the 10 image-on steps and read the window as their mean."""

    key: str
    name: str
    label: str
    weights: str = "pretrained"
    seed: int = 0
    recurrent_schedule: bool = False


@dataclasses.dataclass(frozen=True)
class Config:
    models: tuple
    pairs: tuple
    sessions: object = "all"
    window_ms: tuple = (0.0, 100.0)
    n_folds: int = 5
    splits_seed: int = 0
    projection_width: int = 1024
    projection_seed: int = 0
    ridge_log10_alphas: tuple = (-2, 10)
    n_bootstrap: int = 500
    n_permutations: int = 2000
    seed: int = 0

    @classmethod
    def load(cls, path: Path) -> Config:
        d = read_yaml_mapping(path, "Cowley V4 analysis config")
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {unknown}")
        ints = {k: int_field(0) for k in ("splits_seed", "projection_width", "projection_seed", "n_bootstrap",
                                          "n_permutations", "seed")}
        values, problems = check_fields({**ints, "n_folds": int_field(2)}, d)
        models = []
        for i, m in enumerate(d.get("models") or []):
            try:
                models.append(Model(**m))
            except TypeError as err:
                problems.append(f"models[{i}]: {err}")
        keys = [m.key for m in models]
        if not models or len(set(keys)) != len(keys):
            problems.append("models: a non-empty list with unique keys")
        pairs = tuple(tuple(p) for p in d.get("pairs") or [])
        bad = [p for p in pairs if len(p) != 2 or not set(p) <= set(keys)]
        if bad:
            problems.append(f"pairs {[list(p) for p in bad]}: each must be [model key, control key] of listed models")
        try:
            window = tuple(float(x) for x in d.get("window_ms", (0, 100)))
        except (TypeError, ValueError):
            window = ()
        if len(window) != 2 or not window[0] < window[1]:
            problems.append(f"window_ms={d.get('window_ms')!r} (expected [start, end] in ms with start < end)")
        sessions = d.get("sessions", "all")
        if sessions != "all" and not (isinstance(sessions, list) and sessions):
            problems.append(f"sessions={sessions!r} (expected 'all' or a list of session names)")
        lo_hi = d.get("ridge_log10_alphas", [-2, 10])
        if not (isinstance(lo_hi, list) and len(lo_hi) == 2 and all(isinstance(k, int) for k in lo_hi)
                and lo_hi[0] < lo_hi[1]):
            problems.append(f"ridge_log10_alphas={lo_hi!r} (expected [lo, hi], integers with lo < hi)")
        if problems:
            raise ConfigError(f"invalid config {path}: " + "; ".join(problems), problems)
        return cls(**{**d, **values, "models": tuple(models), "pairs": pairs, "window_ms": window,
                      "ridge_log10_alphas": tuple(d.get("ridge_log10_alphas", (-2, 10)))})


def score_session(config: Config, session: str, built: dict, out: Path) -> pd.DataFrame:
    """Fit every model to one session; write its scores, comparison and report; return its leaderboard rows."""
    from brainfit.activations import RandomProjection
    from brainfit.assembly import average_repetitions, has_repetitions
    from brainfit.compare import ComparisonSettings
    from brainfit.data import load_dataset
    from brainfit.mapping import RidgeMapping, make_splits
    from brainfit.report import dataset_sha256, provenance, write_comparison, write_report
    from brainfit.scoring import fit_model, save_scores
    from brainfit.temporal import constant, one_to_one
    from brainfit._io import atomic_write_json, atomic_write_text

    stimuli, neural = load_dataset("cowley2023_v4", session=session, window_ms=config.window_ms)
    trials = has_repetitions(neural)
    metric = "ceiled" if trials else "r"
    splits = make_splits(average_repetitions(neural), n_folds=config.n_folds, seed=config.splits_seed)
    out.mkdir(parents=True, exist_ok=True)
    splits.save(out / "splits.json")
    dataset = {"name": "cowley2023_v4", "kwargs": {"session": session, "window_ms": list(config.window_ms)},
               "sha256": dataset_sha256(neural), "n_stimuli": len(stimuli),
               "n_neuroids": int(neural.sizes["neuroid"]), "regions": [REGION], "single_trials": trials}
    print(f"session {session}: {len(stimuli)} images, {neural.sizes['neuroid']} sites, "
          + ("single trials: ceiled scores" if trials else "repeat-averaged: raw r"), flush=True)
    alphas = tuple(10.0**k for k in range(config.ridge_log10_alphas[0], config.ridge_log10_alphas[1] + 1))
    scores, fits, infos, per_layer = {}, {}, [], []
    for m in config.models:
        t0 = time.perf_counter()
        tmap = one_to_one(latency_ms=config.window_ms[0]) if m.recurrent_schedule else constant()
        steps = {"n_steps": 10, "on_steps": 10} if m.recurrent_schedule else {}
        with warnings.catch_warnings():
            # layers the feedforward sweep has not reached in the first steps read ~0 there (expected)
            warnings.filterwarnings("ignore", message=".*feedforward signal has not reached.*")
            fit, by_region, info = fit_model(
                built[m.key], stimuli, neural, name=m.key, label=m.label, temporal_map=tmap, regions=[REGION],
                splits=splits, projection=RandomProjection(width=config.projection_width, seed=config.projection_seed)
                if config.projection_width else None,
                cache=out.parent / "activations", mapping=RidgeMapping(alphas=alphas), n_bootstrap=config.n_bootstrap,
                seed=config.seed, attrs={"dataset": dataset}, **steps)
        scores[m.key], fits[m.key] = by_region, fit
        save_scores(by_region[REGION], out / "scores" / f"{m.key}_{REGION}.nc")
        save_scores(fit, out / "scores" / f"{m.key}_layers.nc")
        info["seconds"] = round(time.perf_counter() - t0, 1)
        infos.append(info)
        for layer in fit.coords["layer"].values:
            f = fit.sel(layer=layer)
            per_layer.append({"model": m.key, "layer": str(layer), "median_r": float(f["median_r"].values[0]),
                              "median_ceiled": float(f["median_ceiled"].values[0]),
                              "n_reliable": int(f["n_reliable"].values[0])})
        chosen = "/".join(info["layers_selected"][REGION])
        print(f"  {m.key:34s} median {metric} {float(by_region[REGION][f'median_{metric}'].values[0]):.3f}  "
              f"layer chosen on training folds: {chosen}  ({info['seconds']:.0f} s)", flush=True)
    atomic_write_text(out / "per_layer.csv", pd.DataFrame(per_layer).to_csv(index=False))
    labels = {m.key: m.label for m in config.models}
    settings = ComparisonSettings(metric=metric, n_permutations=config.n_permutations,
                                  n_bootstrap=config.n_bootstrap, seed=config.seed)
    written = write_comparison(out, scores, pairs=list(config.pairs), regions=[REGION], labels=labels, fits=fits,
                               neural=neural if trials else None, windows={"window": (None, None)},
                               settings=settings, leaderboard_bootstrap=config.n_bootstrap)
    atomic_write_json(out / "provenance.json", provenance(
        command="analyses/cowley_v4/run.py", dataset=dataset,
        splits={"n_folds": config.n_folds, "seed": config.splits_seed, "fingerprint": splits.fingerprint},
        models=infos, settings={k: v for k, v in dataclasses.asdict(config).items() if k not in ("models", "pairs")}))
    write_report(out, title=f"Cowley et al. 2023 V4, session {session}: "
                 + ("ceiled scores" if trials else "raw r (no single trials)"))
    board = written["leaderboard"].assign(session=session)
    # raw r over ALL sites, the one number comparable across sessions (the leaderboard's median_r
    # is over the reliable sites where a session has ceilings)
    board["median_r_all_sites"] = [float(np.nanmedian(scores[k][REGION]["r"].values)) for k in board["model"]]
    board["layer"] = [", ".join(next(i for i in infos if i["name"] == k)["layers_selected"][REGION])
                      for k in board["model"]]
    return board


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(HERE / "cowley_v4.yaml"))
    p.add_argument("--out", default="results/cowley_v4")
    p.add_argument("--sessions", nargs="*", help="sessions to score (default: the config's)")
    args = p.parse_args(argv)
    from brainfit.compare import to_markdown
    from brainfit.data.cowley2023 import cowley2023_sessions
    from brainfit.models import model_from_spec
    from brainfit._io import atomic_write_text

    config = Config.load(Path(args.config))
    present = cowley2023_sessions()
    wanted = args.sessions or (present if config.sessions == "all" else [str(s) for s in config.sessions])
    missing = [s for s in wanted if s not in present]
    if missing:
        raise SystemExit(f"session(s) {missing} not under the data root; sessions present: {present}")
    # every model (and every weights file) is built before any work
    built = {m.key: model_from_spec(m.name, weights=m.weights, seed=m.seed) for m in config.models}
    out = Path(args.out)
    t0 = time.perf_counter()
    boards = [score_session(config, s, built, out / s) for s in wanted]
    board = pd.concat(boards, ignore_index=True)
    cols = ["session", "rank", "label", "metric", "score", "ci_low", "ci_high", "median_r", "median_r_all_sites",
            "layer", "n_reliable"]
    board = board.sort_values(["session", "rank"])
    atomic_write_text(out / "leaderboard.csv", board[cols + ["model"]].to_csv(index=False))
    order = [m.label for m in config.models]
    wide = board.pivot(index="label", columns="session", values="median_r_all_sites").loc[order]
    ceiled = board[board["metric"] == "ceiled"].pivot(index="label", columns="session", values="score")
    wide = wide.join(ceiled.rename(columns=lambda s: f"{s} ceiled")) if len(ceiled) else wide
    text = (to_markdown(board, cols) + "\nMedian raw r over all sites per model and session; ceiled score (r^2 / "
            "split-half ceiling, median over reliable sites) where the session has single trials:\n\n"
            + to_markdown(wide.reset_index(), None))
    atomic_write_text(out / "leaderboard.md", text)
    print(text)
    print(f"outputs in {out}/ ({time.perf_counter() - t0:.0f} s); per-session reports: {out}/<session>/report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
