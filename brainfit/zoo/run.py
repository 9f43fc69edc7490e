"""Running a zoo: its pending tasks on a ``dask.distributed`` cluster (a local one by default), or in
this process; the only module of brainfit that knows Dask.

Why Dask and not a home-made process pool: a worker process that dies (killed, out of memory, a
node lost) is replaced and its tasks rerun by the scheduler, the same code runs on one laptop
(``LocalCluster``) and on SLURM/PBS (``dask-jobqueue``) or Kubernetes (``dask-kubernetes``)
through a scheduler address, and its dashboard shows the batch live.

Threads: one task at a time per worker process, and ``cores // workers`` torch/BLAS threads in
each, set in the worker's environment before it starts (torch and BLAS read it at import; two
processes of 2 threads each on 2 cores ran 10-30x slower than with 1 each). On a cluster brainfit
did not start, the workers' own settings stand and brainfit warns when a host is oversubscribed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from brainfit._io import atomic_write_text
from brainfit.zoo.config import ZooConfig
from brainfit.zoo.plan import FitTask, Plan, plan_zoo
from brainfit.zoo.results import load_results, results_table
from brainfit.zoo.tasks import run_extract, run_fit, worker_threads

__all__ = ["ZooRunError", "default_workers", "local_cluster", "quiet_dask_logs", "run_zoo", "thread_env"]

Event = Callable[[dict[str, Any]], None]


class ZooRunError(RuntimeError):
    """Tasks of a zoo that failed; every other result was kept (a rerun retries only these)."""

    def __init__(self, failures: list[dict[str, str]]) -> None:
        lines = [f"{f['task']}: {f['error']}" for f in failures]
        super().__init__(f"{len(failures)} zoo task(s) failed (finished results are kept; rerun to retry): "
                         + "; ".join(lines))
        self.failures = failures


def default_workers() -> int:
    """Worker processes of the default local cluster: one per core, at most 4 (memory: each holds a
    dataset, a model and its activations)."""
    return max(1, min(os.cpu_count() or 1, 4))


def thread_env(workers: int, cores: int | None = None) -> dict[str, str]:
    """The environment that gives each of ``workers`` processes ``cores // workers`` torch/BLAS threads."""
    n = max(1, (cores or os.cpu_count() or 1) // max(1, workers))
    return {v: str(n) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def quiet_dask_logs(level: int = logging.WARNING) -> None:
    """Raise Dask's loggers to ``level`` (it logs every worker and connection at INFO); for the CLI."""
    try:
        import distributed  # noqa: F401 -- importing it configures its loggers, which are then raised
    except ImportError:
        return
    for name in [n for n in logging.root.manager.loggerDict if n == "distributed" or n.startswith("distributed.")]:
        logging.getLogger(name).setLevel(level)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        raise ImportError("running a zoo on Dask needs dask and distributed: pip install 'brainfit[cluster]' "
                          "(or run it in this process with workers=0 / --workers 0)") from err
    return distributed


@contextlib.contextmanager
def local_cluster(workers: int, *, dashboard_address: str = ":8787",
                  environ: dict[str, str] | None = None) -> Iterator[Any]:
    """A ``LocalCluster`` of ``workers`` processes (a context manager), one task at a time each.

    Each worker gets ``cores // workers`` torch/BLAS threads in its environment before it starts
    (:func:`thread_env`), and none of Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: with it,
    every large tensor is mapped and unmapped afresh, and a ConvRNN extraction took 13.7 s instead
    of 4.1 s here (``benchmarks/bench_zoo.py``). Dask sets these variables in this process's
    environment before it spawns a worker; they are restored when the cluster closes. ``environ``
    adds variables (or overrides these) in the workers' environment.
    """
    distributed = _distributed()
    import dask

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    env = {**thread_env(workers), **(environ or {})}
    keep = {k: os.environ.get(k) for k in (*env, "MALLOC_TRIM_THRESHOLD_", "PYTHONHASHSEED")}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}), distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=dashboard_address,
                silence_logs=logging.ERROR) as cluster:
            yield cluster
    finally:
        for k, v in keep.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _check_threads(client: Any, emit: Event) -> None:
    """Warn when the workers on one host run more torch threads in all than the host has cores."""
    nthreads = client.nthreads()
    by_host: dict[str, list[int]] = {}
    cores: dict[str, int] = {}
    trim = set()
    for addr, facts in client.run(worker_threads).items():
        by_host.setdefault(facts["host"], []).append(facts["torch_threads"] * nthreads.get(addr, 1))
        cores[facts["host"]] = facts["cores"]
        if facts["malloc_trim"] is not None:
            trim.add(facts["malloc_trim"])
    if trim:
        emit({"event": "warning", "message": (
            f"workers run with MALLOC_TRIM_THRESHOLD_={'/'.join(sorted(trim))} (Dask's default "
            "distributed.nanny.pre-spawn-environ), which made model extraction ~3x slower here; leave it out of "
            "the workers' environment")})
    for host, threads in by_host.items():
        if sum(threads) > cores[host]:
            emit({"event": "warning", "message": (
                f"{host}: {len(threads)} worker(s) run {sum(threads)} torch threads on {cores[host]} cores; "
                "set OMP_NUM_THREADS (and MKL_/OPENBLAS_NUM_THREADS) to cores / workers in the workers' "
                "environment (dask-jobqueue: job_script_prologue) -- oversubscribed workers run many times slower")})


def _needed(plan: Plan, pending: list[FitTask]) -> list[str]:
    return list(dict.fromkeys(f.extract_key for f in pending))


def _run_serial(plan: Plan, pending: list[FitTask], emit: Event) -> list[dict[str, str]]:
    failures = []
    for ekey in _needed(plan, pending):
        task = plan.extracts[ekey]
        try:
            extracted = run_extract(task)
        except Exception as err:  # noqa: BLE001 -- one model's failure must not stop the zoo
            failures += [{"task": f.name, "error": f"extraction failed: {err}"} for f in pending
                         if f.extract_key == ekey]
            emit({"event": "failed", "task": f"extract {task.model.id} / {task.dataset.id}", "error": str(err)})
            continue
        emit({"event": "extracted", "task": f"{task.model.id} / {task.dataset.id}", **extracted})
        for fit in (f for f in pending if f.extract_key == ekey):
            try:
                manifest = run_fit(fit, extracted, plan.models[fit.model.id])
            except Exception as err:  # noqa: BLE001
                failures.append({"task": fit.name, "error": str(err)})
                emit({"event": "failed", "task": fit.name, "error": str(err)})
                continue
            emit({"event": "fitted", "task": fit.name, **manifest})
    return failures


def _run_dask(plan: Plan, pending: list[FitTask], client: Any, emit: Event) -> list[dict[str, str]]:
    distributed = _distributed()
    _check_threads(client, emit)
    extract_futures = {ekey: client.submit(run_extract, plan.extracts[ekey], key=f"extract-{ekey}", pure=False)
                       for ekey in _needed(plan, pending)}
    # Dask keys name the task, not only its content: two fits with the same content (one model under
    # two ids) are two tasks writing two folders, where one key would run once
    fit_futures = {client.submit(run_fit, fit, extract_futures[fit.extract_key], plan.models[fit.model.id],
                                 key=f"fit-{fit.key}-{fit.model.id}-{fit.dataset.id}",
                                 pure=False): fit for fit in pending}
    names = {fut: f"{plan.extracts[k].model.id} / {plan.extracts[k].dataset.id}" for k, fut in extract_futures.items()}
    failures = []
    for fut in distributed.as_completed([*extract_futures.values(), *fit_futures]):
        fit = fit_futures.get(fut)
        if fut.status in ("error", "cancelled"):
            err = fut.exception() if fut.status == "error" else "cancelled"
            text = f"{type(err).__name__}: {err}" if fut.status == "error" else "cancelled"
            if fit is not None and extract_futures[fit.extract_key].status in ("error", "cancelled"):
                text = f"extraction failed: {text}"
            task = fit.name if fit is not None else f"extract {names[fut]}"
            emit({"event": "failed", "task": task, "error": text})
            if fit is not None:
                failures.append({"task": fit.name, "error": text})
            continue
        result = fut.result()
        if fit is None:
            emit({"event": "extracted", "task": names[fut], **result})
        else:
            emit({"event": "fitted", "task": fit.name, **result})
    return failures


def run_zoo(config: ZooConfig, *, workers: int | None = None, scheduler: str | None = None, client: Any = None,
            device: str | None = None, dashboard_address: str = ":8787",
            on_event: Event | None = None) -> dict[str, Any]:
    """Run every pending task of a zoo and write ``<out>/results.csv``; returns a summary.

    Parameters
    ----------
    config : ZooConfig
    workers : int, optional
        Worker processes of a new ``LocalCluster`` (default :func:`default_workers`); 0 runs the
        tasks one after the other in this process, without Dask.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``), e.g. one that ``dask-jobqueue``
        or ``dask-kubernetes`` started; its workers need brainfit installed and the output
        folder on a shared file system.
    client : dask.distributed.Client, optional
        Use this client (its cluster stays up afterwards).
    device : str, optional
        Where models run (``cpu``, ``cuda``, ``auto``).
    on_event : callable, optional
        Called with a dict per event: ``plan`` (totals), ``dashboard`` (its link), ``extracted``,
        ``fitted``, ``failed``, ``warning``; the CLI prints them as a live count.

    Returns
    -------
    dict with ``total``, ``skipped`` (already finished), ``computed``, ``seconds``, ``table``
    (:func:`~brainfit.zoo.results.results_table`) and ``plan``.

    Raises
    ------
    ConfigError, ZooPlanError
        Before any work, for a bad config or models/datasets that cannot be built or loaded.
    ZooRunError
        After the run, naming the tasks that failed (the others' results are kept).
    """
    given = sum(x is not None for x in (workers, scheduler, client))
    if given > 1:
        raise ValueError("give at most one of workers, scheduler and client")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers must be an int >= 0, got {workers!r}")
    emit = on_event or (lambda event: None)
    t0 = time.perf_counter()
    plan = plan_zoo(config, device=device)
    pending = plan.pending()
    emit({"event": "plan", "total": len(plan.fits), "skipped": len(plan.fits) - len(pending), "pending": len(pending),
          "extracts": len(_needed(plan, pending)), "models": len(config.models), "datasets": len(config.datasets)})
    failures: list[dict[str, str]] = []
    if pending and workers == 0:
        failures = _run_serial(plan, pending, emit)
    elif pending:
        distributed = _distributed()
        if client is not None:
            failures = _with_client(plan, pending, client, emit)
        elif scheduler is not None:
            with distributed.Client(scheduler) as c:
                failures = _with_client(plan, pending, c, emit)
        else:
            with local_cluster(workers or default_workers(), dashboard_address=dashboard_address) as cluster, \
                    distributed.Client(cluster) as c:
                failures = _with_client(plan, pending, c, emit)
    failed = {f["task"] for f in failures}
    # every fit reported done must have left a complete result (checked on disk, not taken on trust)
    # every result checked once (its manifest and both files' SHA-256)
    results = {r: load_results(plan, readout=r) for r in config.mapping.readouts}
    failures += [{"task": f.name, "error": "no complete result was written"} for f in pending
                 if f.name not in failed and any((f.model.id, f.dataset.id, r) not in results[f.readout]
                                                 for r in f.regions)]
    table = results_table(plan, results)
    atomic_write_text(os.path.join(config.out, "results.csv"), table.to_csv(index=False))
    summary = {"total": len(plan.fits), "skipped": len(plan.fits) - len(pending),
               "computed": len(pending) - len(failures), "seconds": round(time.perf_counter() - t0, 1),
               "table": table, "plan": plan}
    if failures:
        raise ZooRunError(failures)
    return summary


def _with_client(plan: Plan, pending: list[FitTask], client: Any, emit: Event) -> list[dict[str, str]]:
    info = client.scheduler_info()
    link = client.dashboard_link if "dashboard" in info.get("services", {}) else None
    emit({"event": "dashboard", "link": link, "workers": len(info.get("workers", {}))})
    return _run_dask(plan, pending, client, emit)
