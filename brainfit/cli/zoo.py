"""``brainfit zoo``: batch runs over model zoos (``run``, ``status``, ``report``) from a YAML config."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["add_parser"]


class Printer:
    """Prints zoo events as a live count: ``[ 5/24] fitted model / dataset / region (1.2 s)``."""

    def __init__(self) -> None:
        self.total = self.done = 0
        self.t0 = time.perf_counter()

    def __call__(self, e: dict[str, Any]) -> None:
        kind = e["event"]
        if kind == "plan":
            self.total, self.done = e["total"], e["skipped"]
            print(f"zoo: {e['models']} model(s) x {e['datasets']} dataset(s): {e['total']} fits, {e['skipped']} "
                  f"already finished, {e['pending']} to run ({e['extracts']} extraction(s))", flush=True)
        elif kind == "dashboard":
            where = e["link"] or "not served (install bokeh for the Dask dashboard)"
            print(f"dask: {e['workers']} worker(s); dashboard: {where}", flush=True)
        elif kind == "extracted":
            print(f"  extracted {e['task']} ({e['seconds']:.1f} s)", flush=True)
        elif kind == "fitted":
            self.done += 1
            chosen = ", ".join(f"{r} {'/'.join(v)}" for r, v in (e.get("layers_selected") or {}).items())
            lat = ", ".join(f"{r} {'/'.join(f'{x:g}' for x in v)}"
                            for r, v in (e.get("latencies_selected_ms") or {}).items())
            print(f"[{self.done:>{len(str(self.total))}}/{self.total}] fitted {e['task']} ({e['fit_seconds']:.1f} s; "
                  f"{time.perf_counter() - self.t0:.0f} s elapsed)"
                  + (f"; layers chosen on training folds: {chosen}" if chosen else "")
                  + (f"; latencies (ms): {lat}" if lat else ""), flush=True)
            for w in e.get("warnings") or ():
                print(f"    {w[:300]}{'...' if len(w) > 300 else ''}", file=sys.stderr, flush=True)
        elif kind == "failed":
            print(f"  FAILED {e['task']}: {e['error']}", file=sys.stderr, flush=True)
        elif kind == "warning":
            print(f"warning: {e['message']}", file=sys.stderr, flush=True)
        elif kind == "report":
            print(f"report ({e['dataset']}: {e['models']} models, {e['contrasts']} contrasts): {e['path']}", flush=True)


def _config(args: argparse.Namespace) -> Any:
    from brainfit.zoo import ZooConfig

    return ZooConfig.from_yaml(args.config, out=args.out)


def _cmd_run(args: argparse.Namespace) -> int:
    from brainfit.zoo import run_zoo
    from brainfit.zoo.run import quiet_dask_logs

    config = _config(args)
    if not args.verbose:  # Dask logs every worker and connection at INFO; warnings (a lost worker) still show
        quiet_dask_logs()
    try:
        summary = run_zoo(config, workers=args.workers, scheduler=args.scheduler, device=args.device,
                          dashboard_address=args.dashboard_address, on_event=Printer())
    except ImportError as err:
        raise RuntimeError(str(err)) from err
    print(f"zoo {config.name}: {summary['computed']} fit(s) computed, {summary['skipped']} already finished, "
          f"{summary['total']} in all ({summary['seconds']:.0f} s); table: {config.out}/results.csv")
    print(f"next: brainfit zoo report {args.config}" + (f" --out {args.out}" if args.out else ""))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from brainfit.zoo import plan_zoo

    config = _config(args)
    plan = plan_zoo(config, write=False)
    pending = plan.pending()
    print(f"zoo {config.name}: {len(config.models)} model(s) x {len(config.datasets)} dataset(s); "
          f"{len(plan.fits) - len(pending)} of {len(plan.fits)} fits finished; output: {config.out}")
    for m in config.models:
        facts = plan.models[m.id]
        print(f"  {m.id:40s} {facts['params']:>10,d} params  {'recurrent' if facts['is_recurrent'] else 'feedforward'}"
              f"  {m.weights if m.weights in ('pretrained', 'random', 'module') else 'checkpoint'}"
              f"  map {facts['temporal_map']['kind']}")
    for fit in pending[:args.show]:
        print(f"  pending: {fit.name}")
    if len(pending) > args.show:
        print(f"  ... and {len(pending) - args.show} more")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from brainfit.zoo.report import write_zoo_report

    config = _config(args)
    result = write_zoo_report(config, partial=args.partial, on_event=Printer())
    if result["missing"]:
        print(f"{len(result['missing'])} unfinished fit(s) left out (--partial)")
    board = result["leaderboard"]
    if len(board):
        print(f"leaderboard over all datasets: {config.out}/report/leaderboard.csv")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``zoo`` command group."""
    p = sub.add_parser("zoo", help="batch runs over model zoos (local or on a Dask cluster), resumable")
    zsub = p.add_subparsers(dest="zoo_command", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("config", help="zoo config (YAML; e.g. analyses/zoo_demo.yaml)")
        q.add_argument("--out", help="output folder (default: the config's 'out')")

    q = zsub.add_parser("run", help="run every unfinished task of a zoo (finished ones are skipped)")
    common(q)
    where = q.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="worker processes of a local Dask cluster (default: one per core, "
                       "at most 4); 0 runs everything in this process")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786 "
                       "(dask-jobqueue, dask-kubernetes)")
    q.add_argument("--device", help="cpu (default), cuda or auto")
    q.add_argument("--dashboard-address", default=":8787", help="local cluster's dashboard (default :8787)")
    q.set_defaults(func=_cmd_run)

    q = zsub.add_parser("status", help="check a zoo config and count its finished fits (runs nothing)")
    common(q)
    q.add_argument("--show", type=int, default=20, help="pending fits to list (default 20)")
    q.set_defaults(func=_cmd_status)

    q = zsub.add_parser("report", help="leaderboard, per-timestep curves, contrasts and the HTML report")
    common(q)
    q.add_argument("--partial", action="store_true", help="report the finished models of an unfinished zoo")
    q.set_defaults(func=_cmd_report)
