"""Entry points before and after one change, in one run: ``brainfit demo`` (fresh caches) and the Cowley
V4 analysis (activations cached), each run by the code of an earlier revision and by this checkout.

The earlier revision is checked out into a temporary git worktree and run with it first on the
Python path (same interpreter, same installed packages), in a fresh process each time, one after
the other (never two at once: on 2 cores they would slow each other many times over).

* ``demo``: ``brainfit demo`` with each revision's own ``analyses/demo/demo.yaml``, each with an
  empty activation cache; wall time of the whole command, and the largest difference between the
  two runs' per-bin medians (``per_bin_scores.csv``; the same models, regions and bins).
* ``cowley``: the analysis script of each revision on the same sessions. A first run of this
  checkout (untimed) fills an activation cache that both timed runs then read (the cache key is
  the same in both: content of the weights, stimuli and settings), so the times are those of the
  fits, statistics, figures and reports with activations cached, as the budget states.

Run from the repository root, nothing else running::

    .venv/bin/python benchmarks/bench_entry_points.py                      # both parts
    .venv/bin/python benchmarks/bench_entry_points.py --parts demo
    .venv/bin/python benchmarks/bench_entry_points.py --parts cowley --sessions 210325 210305

Results: see the docstring's table below (filled in by the run that measured them).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The last revision before the entry points became zoo configs.
BEFORE = "b4f9356"


def run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Seconds of ``cmd`` in a fresh process (its output into ``log``); fails loudly."""
    t = time.perf_counter()
    with log.open("w") as f:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {done.returncode}); its output: {log}")
    return seconds


def env_for(src: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "BRAINFIT_CACHE": str(cache), "MPLBACKEND": "Agg"}


def per_bin(path: Path) -> dict[tuple, float]:
    return {(r["model"], r["region"], r["time_bin_start"]): float(r["median_ceiled"] or "nan")
            for r in csv.DictReader(path.open())}


def demo_part(old: Path, tmp: Path) -> None:
    py = sys.executable
    before = run([py, "-m", "brainfit.cli", "demo", "--out", str(tmp / "demo_before"), "--no-progress"], old,
                 env_for(old, tmp / "cache_before"), tmp / "demo_before.log")
    print(f"demo, before ({BEFORE}): {before:.1f} s wall", flush=True)
    after = run([py, "-m", "brainfit.cli", "demo", "--out", str(tmp / "demo_after")], ROOT,
                env_for(ROOT, tmp / "cache_after"), tmp / "demo_after.log")
    print(f"demo, after (this checkout): {after:.1f} s wall; ratio after / before {after / before:.2f} "
          "(target <= 150 s)", flush=True)
    a = per_bin(tmp / "demo_before" / "per_bin_scores.csv")
    b = per_bin(tmp / "demo_after" / "report" / "synthetic" / "per_bin_scores.csv")
    diffs = [abs(a[k] - b[k]) for k in a if k in b and a[k] == a[k] and b[k] == b[k]]
    same_nan = all((a[k] != a[k]) == (b[k] != b[k]) for k in a if k in b)
    print(f"    per-bin median ceiled scores: {len(diffs)} finite cells of {len(a)} compared, {len(b)} after; "
          f"max |difference| {max(diffs):.2e}; NaN in the same cells: {same_nan}", flush=True)


def cowley_part(old: Path, tmp: Path, sessions: list[str]) -> None:
    py = sys.executable
    acts = tmp / "cowley_activations"
    acts.mkdir()
    outs = {}
    for what in ("fill", "before", "after"):
        outs[what] = tmp / f"cowley_{what}"
        outs[what].mkdir()
        (outs[what] / "activations").symlink_to(acts)
    extra = ["--sessions", *sessions] if sessions else []
    t = run([py, str(ROOT / "analyses/cowley_v4/run.py"), "--out", str(outs["fill"]), *extra], ROOT,
            env_for(ROOT, tmp / "cache_cowley"), tmp / "cowley_fill.log")
    print(f"cowley, filling the activation cache (this checkout, untimed part): {t:.1f} s", flush=True)
    before = run([py, str(old / "analyses/cowley_v4/run.py"), "--out", str(outs["before"]), *extra], old,
                 env_for(old, tmp / "cache_cowley"), tmp / "cowley_before.log")
    print(f"cowley, activations cached, before ({BEFORE}): {before:.1f} s wall", flush=True)
    after = run([py, str(ROOT / "analyses/cowley_v4/run.py"), "--out", str(outs["after"]), *extra], ROOT,
                env_for(ROOT, tmp / "cache_cowley"), tmp / "cowley_after.log")
    print(f"cowley, activations cached, after (this checkout): {after:.1f} s wall; ratio after / before "
          f"{after / before:.2f} (target <= 300 s)", flush=True)
    again = run([py, str(ROOT / "analyses/cowley_v4/run.py"), "--out", str(outs["after"]), *extra], ROOT,
                env_for(ROOT, tmp / "cache_cowley"), tmp / "cowley_again.log")
    print(f"cowley, rerun of the finished analysis (every fit skipped, reports rewritten): {again:.1f} s", flush=True)
    a = {(r["session"], r["model"]): float(r["median_r_all_sites"])
         for r in csv.DictReader((outs["before"] / "leaderboard.csv").open())}
    b = {(r["session"], r["model"]): float(r["median_r_all_sites"])
         for r in csv.DictReader((outs["after"] / "leaderboard.csv").open()) if r.get("median_r_all_sites")}
    common = [k for k in a if k in b]
    print(f"    median raw r over all sites: {len(common)} (session, model) cells compared; max |difference| "
          f"{max(abs(a[k] - b[k]) for k in common):.2e}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=BEFORE, help=f"the earlier revision (default {BEFORE})")
    ap.add_argument("--parts", default="demo,cowley", help="demo, cowley or both (default)")
    ap.add_argument("--sessions", nargs="*", help="Cowley sessions (default: every session present)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (printed)")
    args = ap.parse_args()
    globals()["BEFORE"] = args.before
    tmp = Path(tempfile.mkdtemp(prefix="bench_entry_points_"))
    old = tmp / "before_src"
    subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        parts = args.parts.split(",")
        if "demo" in parts:
            demo_part(old, tmp)
        if "cowley" in parts:
            cowley_part(old, tmp, args.sessions or [])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
        if args.keep:
            print(f"outputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
