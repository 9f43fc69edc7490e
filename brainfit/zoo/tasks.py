"""What a zoo task does where it runs (a Dask worker, or this process): plain functions of a task.

:func:`run_extract` returns the path of the cache file, never the activations: a fit reads them
from the (shared) output folder, so they are never shipped between processes. :func:`run_fit`
writes its two result files atomically, then a manifest with their SHA-256 (the mark of a
complete result); a fit run twice (a worker lost after writing, before reporting) writes the
same files again, so no result is ever duplicated or half-written.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from typing import Any

from brainfit._io import atomic_write_json, sha256_file
from brainfit.zoo.plan import ExtractTask, FitTask, build_model, data_sha256, load_data

__all__ = ["run_extract", "run_fit", "worker_threads"]


def run_extract(task: ExtractTask) -> dict[str, Any]:
    """Extract (or find in the cache) one model's activations on one dataset: ``{"key", "path", "seconds"}``."""
    from brainfit.activations import RandomProjection, extract

    t0 = time.perf_counter()
    stimuli, _ = load_data(task.dataset)
    model = build_model(task.model)
    projection = RandomProjection(width=task.projection_width, seed=task.projection_seed) \
        if task.projection_width else None
    acts = extract(model, stimuli, layers=list(task.layers) if task.layers else None, n_steps=task.n_steps,
                   on_steps=task.on_steps, projection=projection, cache=task.cache_dir, device=task.device,
                   model_id=task.model.id, progress=False)
    path, weights = acts.encoding["source"], acts.attrs.get("weights_hash")
    acts.close()
    if task.weights_sha256 and weights != task.weights_sha256:
        raise ValueError(f"model {task.model.id!r} has other weights than when the zoo was planned (a checkpoint "
                         "rewritten since, or another file under the same path on this worker); rerun the zoo")
    return {"key": task.key, "path": str(path), "seconds": round(time.perf_counter() - t0, 2),
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


def run_fit(task: FitTask, extracted: dict[str, Any], model_info: dict[str, Any]) -> dict[str, Any]:
    """Fit and score one model on every region of one dataset and write the result files; returns the
    manifest.

    One fit for all the regions' neuroids (one kernel per layer, bin and fold serves every region),
    the layer chosen per region on training folds (:func:`brainfit.scoring.score_by_region`). A
    result already complete (a rerun after a lost worker) is returned as it is. Warnings of the fit
    (e.g. ridge penalties at the edge of the grid) are kept in the manifest's ``warnings``: on a
    cluster they would otherwise end in a worker's log.
    """
    import numpy as np

    from brainfit.activations import open_activations
    from brainfit.assembly import REGION
    from brainfit.mapping import RidgeMapping, Splits
    from brainfit.scoring import save_scores, score_by_region
    from brainfit.temporal import TemporalMap

    done = task.finished()
    if done is not None:
        return done
    t0 = time.perf_counter()
    _, neural = load_data(task.dataset)
    if data_sha256(task.dataset) != task.dataset_info.get("sha256"):
        raise ValueError(f"dataset {task.dataset.id!r} loads other data on this worker than when the zoo was "
                         "planned (files changed, or another copy on this node); rerun the zoo")
    splits = Splits.load(task.splits_path)
    if splits.fingerprint != task.splits_fingerprint:
        raise ValueError(f"{task.splits_path} holds other folds than the zoo planned; rerun the zoo")
    site_region = np.asarray(neural.coords[REGION].values).astype(str)
    if not set(site_region.tolist()) <= set(task.regions):  # only the sites of the regions asked for
        neural = neural.isel(neuroid=np.isin(site_region, list(task.regions)))
    acts = open_activations(extracted["path"])  # checks the cache file's seal
    info = {k: v for k, v in model_info.items() if k != "content"}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # layers the feedforward sweep has not reached yet score ~0 in the earliest bins (expected)
            warnings.filterwarnings("ignore", message=".*feedforward signal has not reached.*")
            fit, by_region = score_by_region(
                acts, neural, TemporalMap.from_dict(task.temporal_map), regions=list(task.regions), splits=splits,
                layers=task.layers, mapping=RidgeMapping(alphas=task.alphas), n_bootstrap=task.n_bootstrap,
                seed=task.seed, readout=task.readout, attrs={"dataset": task.dataset_info})
    finally:
        acts.close()
    seconds = round(time.perf_counter() - t0, 2)
    info["layers_selected"] = {r: sorted(set(ds["selected_layer"].values.astype(str).tolist()))
                               for r, ds in by_region.items()}
    latencies = {r: sorted(set(ds["selected_latency_ms"].values.tolist())) for r, ds in by_region.items()
                 if "selected_latency_ms" in ds}
    for ds in (fit, *by_region.values()):
        ds.attrs["model"] = info
        ds.attrs["zoo_key"] = task.key
    paths = task.paths()
    for region, ds in by_region.items():
        save_scores(ds, paths["scores"][region])
    save_scores(fit, paths["layers"])
    manifest = {"key": task.key, "model": task.model.id, "dataset": task.dataset.id, "readout": task.readout,
                "regions": list(task.regions),
                "files": {w: p.name for w, p in task.files().items()},
                "sha256": {w: sha256_file(p) for w, p in task.files().items()},
                "layers_selected": info["layers_selected"], **({"latencies_selected_ms": latencies} if latencies else {}),
                "fit_seconds": seconds,
                "extract_seconds": extracted.get("seconds"), "worker": f"{socket.gethostname()}:{os.getpid()}",
                "warnings": list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))}
    atomic_write_json(paths["manifest"], manifest)
    return manifest


def worker_threads() -> dict[str, Any]:
    """This process's host, cores and torch/BLAS thread counts (checked on every worker of a cluster)."""
    import torch

    return {"host": socket.gethostname(), "cores": os.cpu_count() or 1, "torch_threads": torch.get_num_threads(),
            "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}
