"""The Cowley et al. 2023 V4 analysis: the zoo config ``cowley_v4.yaml`` (every session present as a
dataset), run and reported through the one pipeline, then a table across sessions.

Usage: ``python analyses/cowley_v4/run.py [--config analyses/cowley_v4/cowley_v4.yaml] [--out
results/cowley_v4] [--sessions 210325 ...] [--workers N]`` (or ``make cowley-v4``). Needs the data
root (``BRAINFIT_DATA``, default ``../shared/data``) with ``cowley2023_v4`` and
``pretrained_cifar_resnets``. A rerun skips every finished fit (and cached activations).

Per session: ``OUT/report/cowley_v4-<session>/`` (leaderboard, paired contrasts, figures,
``report.html``; ceiled scores where the session has single trials, raw r otherwise). Across
sessions: ``OUT/leaderboard.csv`` and ``.md`` (raw r over all sites, the one number comparable
across sessions, beside each session's leaderboard score) and ``OUT/per_layer.csv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def load_config(path: str | Path, out: str | None = None, sessions: list[str] | None = None):
    """The analysis's :class:`~brainfit.zoo.ZooConfig`; ``sessions`` replaces the config's list."""
    from brainfit._config import read_yaml_mapping
    from brainfit.zoo import ZooConfig

    d = read_yaml_mapping(path, "Cowley V4 analysis config")
    if sessions:
        d["datasets"] = [{**entry, "sessions": list(sessions)} for entry in d.get("datasets", [])]
    return ZooConfig.from_dict(d, out=out)


def cross_session_tables(config, plan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The leaderboard of every session, with raw r over all sites and the layer chosen; and every
    layer's scores per session (from the zoo's results)."""
    from brainfit.zoo import load_results

    results = load_results(plan, layers=True)
    boards, per_layer = [], []
    for dspec in config.datasets:
        session = dspec.kwargs["session"]
        board = pd.read_csv(Path(config.out) / "report" / dspec.id / "leaderboard.csv").assign(session=session)
        region = plan.datasets[dspec.id]["regions"][0]
        scores = {m: results[(m, dspec.id, region)] for m in board["model"]}
        # raw r over ALL sites (the leaderboard's median_r is over the reliable sites where there are ceilings)
        board["median_r_all_sites"] = [float(np.nanmedian(scores[m][0]["r"].values)) for m in board["model"]]
        board["layer"] = [", ".join(sorted(set(scores[m][0]["selected_layer"].values.astype(str)))) for m in board["model"]]
        boards.append(board)
        for m, (_, fit) in scores.items():
            for layer in fit.coords["layer"].values:
                f = fit.sel(layer=layer)
                per_layer.append({"session": session, "model": m, "layer": str(layer),
                                  "median_r": float(f["median_r"].values[0]),
                                  "median_ceiled": float(f["median_ceiled"].values[0]),
                                  "n_reliable": int(f["n_reliable"].values[0])})
    return pd.concat(boards, ignore_index=True).sort_values(["session", "rank"]), pd.DataFrame(per_layer)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(HERE / "cowley_v4.yaml"))
    p.add_argument("--out", help="output folder (default: the config's, results/cowley_v4)")
    p.add_argument("--sessions", nargs="*", help="sessions to score (default: the config's)")
    p.add_argument("--workers", type=int, default=0, help="Dask workers (default 0: this process)")
    args = p.parse_args(argv)
    from brainfit._io import atomic_write_text
    from brainfit.cli.zoo import Printer
    from brainfit.compare import to_markdown
    from brainfit.zoo import run_zoo
    from brainfit.zoo.report import write_zoo_report

    config = load_config(args.config, args.out, args.sessions)
    summary = run_zoo(config, workers=args.workers, on_event=Printer())
    write_zoo_report(config, on_event=Printer())
    board, per_layer = cross_session_tables(config, summary["plan"])
    out = Path(config.out)
    cols = ["session", "rank", "label", "metric", "score", "ci_low", "ci_high", "median_r", "median_r_all_sites",
            "layer", "n_reliable"]
    atomic_write_text(out / "leaderboard.csv", board[cols + ["model"]].to_csv(index=False))
    atomic_write_text(out / "per_layer.csv", per_layer.to_csv(index=False))
    order = [m.label for m in config.models]
    wide = board.pivot(index="label", columns="session", values="median_r_all_sites").loc[order]
    ceiled = board[board["metric"] == "ceiled"].pivot(index="label", columns="session", values="score")
    wide = wide.join(ceiled.rename(columns=lambda s: f"{s} ceiled")) if len(ceiled) else wide
    text = (to_markdown(board, cols) + "\nMedian raw r over all sites per model and session; ceiled score (r^2 / "
            "split-half ceiling, median over reliable sites) where the session has single trials:\n\n"
            + to_markdown(wide.reset_index(), None))
    atomic_write_text(out / "leaderboard.md", text)
    print(text)
    print(f"outputs in {out}/ ({summary['seconds']:.0f} s to fit); per-session reports: {out}/report/<dataset>/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
