"""A zoo on 1 and on 2 local Dask workers: wall time and speed-up (target >= 1.7x on 2 cores).

Runs ``analyses/zoo_demo.yaml`` (13 models x 2 regions of the synthetic set, 13 extractions and
26 fits; ``--models N`` keeps the first N) into a fresh folder each time (nothing cached):

1. a ``LocalCluster`` of 1 worker and 2. of 2 workers, as ``brainfit zoo run --workers N`` starts
   them (cores // workers torch/BLAS threads each: 2, then 1);
3. in this process without Dask, one task after the other, with 1 torch/BLAS thread (the floor a
   home-made loop reaches; faster here than with 2 threads, see below);
4. (``--all``) in this process with 2 threads, and on 2 workers with Dask's default worker
   environment (``MALLOC_TRIM_THRESHOLD_=65536``), which brainfit's local cluster leaves out.

Every run ends with the same results table (checked: same keys, scores equal to ~1e-7).

    python benchmarks/bench_zoo.py [--models N] [--all]

Measured on the 2-core development machine (2026-11-30, nothing else running; 13 models):

    1 worker x 2 threads                              489.5 s
    2 workers x 1 thread                              149.2 s   speed-up over 1 worker: 3.28x
    in this process, 1 thread                         238.0 s   2 workers are 1.60x faster
    in this process, 2 threads                        382.4 s
    2 workers, Dask's default MALLOC_TRIM_THRESHOLD_  235.9 s   1.58x slower than brainfit's env

So the speed-up over 1 worker (3.28x) is more than the 2 cores: one process with 2 threads is
slower than with 1 here. On the 3-model zoo in this process: 2 torch + 2 OpenBLAS threads 63.9 s,
1 + 1 40.4 s, 2 torch + 1 OpenBLAS 35.4 s, 1 torch + 2 OpenBLAS 64.7 s -- numpy's multithreaded
BLAS on the many small per-bin ridge problems costs more than it gains (``OMP_WAIT_POLICY=PASSIVE``
did not help: 62.6 s). Against the best single process, the 2-worker cluster is 1.60x faster.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from brainfit._config import read_yaml_mapping
from brainfit.zoo import ZooConfig, local_cluster, run_zoo, thread_env

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = ["mean_ceiled", "mean_r", "n_reliable"]


def config(out: Path, n_models: int | None) -> ZooConfig:
    full = ZooConfig.from_dict(read_yaml_mapping(ROOT / "analyses" / "zoo_demo.yaml", "zoo config"), out=out)
    if n_models is None or n_models >= len(full.models):
        return full
    keep = full.models[:n_models]
    ids = {m.id for m in keep}
    contrasts = tuple(p for p in full.compare.contrasts if set(p) <= ids)
    return dataclasses.replace(full, models=keep, compare=dataclasses.replace(full.compare, contrasts=contrasts))


def timed(label: str, out: Path, n_models: int | None, **kw) -> tuple[float, object]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    summary = run_zoo(config(out, n_models), dashboard_address=":0", **kw)
    seconds = time.perf_counter() - t0
    print(f"  {label:52s} {seconds:7.1f} s  ({summary['computed']} fits)", flush=True)
    return seconds, summary["table"]


@contextlib.contextmanager
def _torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, help="keep the first N models of the zoo demo")
    parser.add_argument("--all", action="store_true", help="also in this process with 2 threads, and 2 workers "
                        "with Dask's default environment")
    args = parser.parse_args()
    import distributed

    cores = os.cpu_count() or 1
    n = len(config(Path(tempfile.gettempdir()) / "x", args.models).models)
    print(f"zoo demo, {n} models x 2 regions, synthetic set; {cores} cores")
    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as tmp:
        tmp = Path(tmp)
        t1, table1 = timed(f"1 worker x {thread_env(1)['OMP_NUM_THREADS']} threads", tmp / "w1", args.models,
                           workers=1)
        t2, table2 = timed(f"2 workers x {thread_env(2)['OMP_NUM_THREADS']} thread(s)", tmp / "w2", args.models,
                           workers=2)
        for t in (table1, table2):
            assert t[["model", "region", "key"]].equals(table1[["model", "region", "key"]])
        print(f"  max |difference| of the tables' scores: "
              f"{np.abs(table1[NUMERIC].to_numpy(float) - table2[NUMERIC].to_numpy(float)).max():.2g}")
        print(f"speed-up, 2 workers over 1: {t1 / t2:.2f}x (target >= 1.7x)")
        with threadpool_limits(1), _torch_threads(1):
            t0, table0 = timed("in this process, no Dask, 1 thread (the floor)", tmp / "w0", args.models, workers=0)
        assert table0[["model", "region", "key"]].equals(table1[["model", "region", "key"]])
        print(f"speed-up, 2 workers over the in-process run: {t0 / t2:.2f}x")
        if args.all:
            with threadpool_limits(2), _torch_threads(2):
                timed("in this process, no Dask, 2 threads", tmp / "w4", args.models, workers=0)
            with local_cluster(2, dashboard_address=":0", environ={"MALLOC_TRIM_THRESHOLD_": "65536"}) as cluster, \
                    distributed.Client(cluster) as client:
                t3, _ = timed("2 workers, Dask's default MALLOC_TRIM_THRESHOLD_", tmp / "w3", args.models,
                              client=client)
            print(f"Dask's default worker environment is {t3 / t2:.2f}x slower than brainfit's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
