"""Time-resolved extraction: run a model over a stimulus set batch by batch and stream the reduced
layer outputs into the activation cache.

Layer outputs are read through :mod:`brainfit.models.capture` (the project's one capture
mechanism) and reduced as soon as they are produced (an output that a step hands over unchanged
is reduced once), so memory stays flat in the number of stimuli. Images of the next batch are
decoded in a background thread while the model runs (when a core is free for it); each finished
batch is assembled into a time-major block, checked and written to disk in another thread while
the next one runs. ``benchmarks/bench_pipeline.py`` times every stage against a bare forward loop.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from brainfit.activations.cache import (_cached, _create_file, _file_attrs, _open_for_writing, _resume_point,
                                        _seal, _write_block, architecture_hash, cache_key, cache_key_fields,
                                        cache_paths, open_activations, weights_hash)
from brainfit.activations.reduce import (LayerFeatures, PCAProjection, RandomProjection, Reducer, _fit_pca,
                                         _pca_fit_subset)
from brainfit.assembly import LAYER
from brainfit.device import resolve_device
from brainfit.models.capture import ModelView
from brainfit.models.schedule import check_schedule
from brainfit.paths import activation_cache_dir
from brainfit.stimuli import Preprocessing, StimulusSet

__all__ = ["extract"]


@dataclass(frozen=True, eq=False)
class _Job:
    """One extraction, settled once in :func:`extract` and read by the batch loop, the PCA fit and
    the writer.

    Attributes
    ----------
    view : ModelView
        The model's hook points, recurrence and arrival steps.
    reducer : Reducer
        Pooling and projection (its PCA basis, if any, is filled in by the fit).
    stimuli : StimulusSet
    preprocessing : Preprocessing
    batch_size : int
    n_steps, on_steps : int or None
        Schedule of a time-varying model (None: a single forward pass).
    device : torch.device
    steps : (T,) int array
        The ``time_step`` coord (``arange(n_steps)``, or ``[0]``).
    key_fields : dict
        :func:`~brainfit.activations.cache.cache_key_fields` of this extraction.
    key : str
        Its cache key.
    final, partial : Path
        The complete and the in-progress cache file.
    progress : bool
        Show a progress bar.
    """

    view: ModelView
    reducer: Reducer
    stimuli: StimulusSet
    preprocessing: Preprocessing
    batch_size: int
    n_steps: int | None
    on_steps: int | None
    device: torch.device
    steps: np.ndarray
    key_fields: dict[str, Any]
    key: str
    final: Path
    partial: Path
    progress: bool

    @property
    def n_t(self) -> int:
        """Number of time steps stored."""
        return len(self.steps)

    @property
    def ids(self) -> np.ndarray:
        """(N,) stimulus ids as str."""
        return np.asarray(self.stimuli.stimulus_ids).astype(str)


def extract(model: nn.Module, stimuli: StimulusSet, layers: Sequence[str] | None = None, *,
            n_steps: int | None = None, on_steps: int | None = None, batch_size: int = 64,
            preprocessing: Preprocessing | None = None, pooling: str | int | None = None,
            projection: RandomProjection | PCAProjection | int | None = None,
            cache: str | os.PathLike | bool | None = True, device: str | torch.device | None = None,
            model_id: str | None = None, progress: bool = True) -> xr.DataArray:
    """Extract time-resolved activations of ``layers`` for every stimulus.

    Parameters
    ----------
    model : nn.Module
        A registry model (``layers`` mapping with ``output`` hook points, ``is_recurrent``,
        ``arrival_step``) or any module, with ``layers`` given as dotted submodule names
        (treated as feedforward: one time step).
    stimuli : StimulusSet
    layers : sequence of str, optional
        Default: every layer of a registry model.
    n_steps, on_steps : int, optional
        Unroll length and image duration for recurrent models (defaults: the model's own).
    batch_size : int
    preprocessing : Preprocessing, optional
        Default: the model's ``input_size``, ``norm_mean`` and ``norm_std``.
    pooling : None, "avg", "max" or int
        Spatial reduction before projection (int k: adaptive average pool to k x k).
    projection : RandomProjection, PCAProjection, int or None
        Fixed width per layer (an int means ``RandomProjection(width=int)``).
    cache : True, False/None, or a folder
        True: :func:`brainfit.paths.activation_cache_dir`; a folder: that folder. False/None:
        extraction still streams to a temporary file, but the result is then read into memory and
        the temporary folder is removed (also when extraction fails), so nothing is kept on disk;
        the returned array then holds every value in RAM.
    device : str, optional
    model_id : str, optional
        Readable prefix of the cache file name (default: the model's class name).
    progress : bool
        Show a progress bar.

    Returns
    -------
    DataArray (presentation x neuroid x time_step)
        Opened lazily from the cache file (in memory when ``cache`` is False/None), with neuroid
        coords ``layer``, ``unit``, ``region`` and ``arrival_step`` (first step at which the
        layer's output exists; the values before it are zeros), the stimulus metadata as
        presentation coords, and attrs ``is_recurrent``, ``constant_over_time`` (True for models
        with a single time step), ``weights_hash``, ``cache_key`` and the settings.
    """
    if not isinstance(stimuli, StimulusSet):
        raise ValueError(f"stimuli must be a StimulusSet, got {type(stimuli).__name__}")
    if isinstance(projection, int):
        projection = RandomProjection(width=projection)
    if not cache:  # False, None (or an empty path)
        # Stream into a private temporary folder, then load the result and delete the folder:
        # "not kept" must hold even when the extraction raises half-way.
        tmp = Path(tempfile.mkdtemp(prefix="brainfit-act-"))
        try:
            da = extract(model, stimuli, layers, n_steps=n_steps, on_steps=on_steps, batch_size=batch_size,
                         preprocessing=preprocessing, pooling=pooling, projection=projection, cache=tmp,
                         device=device, model_id=model_id, progress=progress)
            try:
                da.load()
            finally:
                da.close()
            da.encoding.pop("source", None)
            return da
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    job = _plan(model, stimuli, layers, n_steps=n_steps, on_steps=on_steps, batch_size=batch_size,
                preprocessing=preprocessing, pooling=pooling, projection=projection,
                cache_dir=activation_cache_dir() if cache is True else Path(cache), device=device,
                model_id=model_id, progress=progress)
    hit = _cached(job.final, job.key, job.ids, job.n_t)
    if hit is not None:
        return hit
    model = model.to(job.device)
    was_training = model.training
    model.eval()
    try:
        if isinstance(projection, PCAProjection):
            _fit_pca_basis(job)
        done = _resume_point(job.partial, job.key, job.ids, job.n_t)
        _run(job, done)
        _seal(job.partial)
    except Exception:
        # A failed extraction (bad activations, a model error, out of memory) leaves nothing
        # behind. An interrupted one (KeyboardInterrupt, or a kill that runs no Python at all)
        # keeps its partial file, and the same call resumes it.
        job.partial.unlink(missing_ok=True)
        raise
    finally:
        model.train(was_training)
    os.replace(job.partial, job.final)
    return open_activations(job.final, verify=False)


def _plan(model: nn.Module, stimuli: StimulusSet, layers: Sequence[str] | None, *, n_steps: int | None,
          on_steps: int | None, batch_size: int, preprocessing: Preprocessing | None, pooling: str | int | None,
          projection: RandomProjection | PCAProjection | None, cache_dir: Path, device: str | torch.device | None,
          model_id: str | None, progress: bool) -> _Job:
    """Validate the request, settle the defaults and the schedule, and key the cache (creates ``cache_dir``)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    dev = resolve_device(device)
    view = ModelView(model, layers)
    if preprocessing is None:
        preprocessing = _model_preprocessing(model)
    n_steps, on_steps, steps = _schedule(model, view, n_steps, on_steps, what="extracting", stacklevel=5)
    reducer = Reducer(pooling, projection, dev)
    fields = cache_key_fields(weights=weights_hash(model), architecture=architecture_hash(model),
                              stimuli=stimuli.fingerprint(), preprocessing=preprocessing.to_dict(), layers=view.names,
                              reduction=reducer.key(), n_steps=n_steps, on_steps=on_steps, batch_size=batch_size)
    key = cache_key(fields)
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ValueError(f"cache folder {cache_dir} is an existing file, not a folder")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the cache folder {cache_dir}: {err.strerror or err}") from err
    final, partial = cache_paths(cache_dir, model_id or type(model).__name__, key)
    return _Job(view=view, reducer=reducer, stimuli=stimuli, preprocessing=preprocessing, batch_size=batch_size,
                n_steps=n_steps, on_steps=on_steps, device=dev, steps=steps, key_fields=fields, key=key, final=final,
                partial=partial, progress=progress)


def _model_preprocessing(model: nn.Module) -> Preprocessing:
    """The preprocessing a model expects: its ``input_size``, ``norm_mean`` and ``norm_std``."""
    return Preprocessing(size=getattr(model, "input_size", None),
                         mean=getattr(model, "norm_mean", Preprocessing.mean),
                         std=getattr(model, "norm_std", Preprocessing.std))


def _schedule(model: nn.Module, view: ModelView, n_steps: int | None, on_steps: int | None, *, what: str,
              stacklevel: int) -> tuple[int | None, int | None, np.ndarray]:
    """Settle the unroll of ``model``: ``(n_steps, on_steps, steps)``.

    A time-varying model defaults to its own ``n_steps``/``on_steps`` (the image duration capped
    at a shorter unroll; an explicit one must fit), is checked against its trained schedule
    (:func:`~brainfit.models.schedule.check_schedule`; ``stacklevel`` counts from the warning
    inside it), and every layer of ``view`` must produce an output within ``n_steps``. Any other
    model runs once: ``(None, None, [0])``.
    """
    if not view.time_varying:
        return None, None, np.arange(1)
    n_steps = int(n_steps if n_steps is not None else getattr(model, "n_steps", 1))
    on_steps = int(on_steps if on_steps is not None else min(getattr(model, "on_steps", n_steps), n_steps))
    if n_steps < 1 or not 1 <= on_steps <= n_steps:
        raise ValueError(f"schedule needs n_steps >= 1 and 1 <= on_steps <= n_steps, got n_steps={n_steps}, "
                         f"on_steps={on_steps}")
    check_schedule(model, n_steps, on_steps, what=what, stacklevel=stacklevel)
    late = {n: a for n, a in view.arrival.items() if a >= n_steps}
    if late:  # the layer would never produce an output (its width is unknown, every value zero)
        raise ValueError(f"layer(s) {list(late)} first produce output at step(s) {list(late.values())}, "
                         f"which n_steps={n_steps} never reaches; use more steps or other layers")
    return n_steps, on_steps, np.arange(n_steps)


def _features_of_batch(job: _Job, x: torch.Tensor, reducer: Reducer | None = None) -> LayerFeatures:
    """Run one batch x (B, 3, H, W) and reduce every captured layer output.

    Returns
    -------
    dict layer -> list of T tensors (B, F) or None
        None at the steps before the layer's arrival.
    """
    reducer = reducer or job.reducer
    view = job.view
    out: LayerFeatures = {n: [] for n in view.names}
    last: dict[str, tuple] = {}

    def on_output(name: str, output: torch.Tensor) -> None:
        # A block whose input did not change hands its hook the very same tensor again (the
        # ConvRNN reuses outputs while the image is on, and after offset once the gray has
        # propagated): reducing it again would give the same features, so reuse them.
        prev = last.get(name)
        if prev is not None and prev[0] is output and prev[1] == output._version:
            out[name].append(prev[2])
            return
        feats = reducer(name, output.detach())
        last[name] = (output, output._version, feats)
        out[name].append(feats)

    with view.capture(on_output), torch.no_grad():
        view.run(x, job.n_steps, job.on_steps)
    result = {}
    for name in view.names:
        got = out[name]
        first = view.arrival[name]
        if len(got) != job.n_t - first:
            raise RuntimeError(f"layer {name!r} produced {len(got)} outputs for {job.n_t} steps with arrival step "
                               f"{first}; the model's hook contract is broken")
        result[name] = [None] * first + got
    return result


def _fit_pca_basis(job: _Job) -> None:
    """Fit the PCA basis of ``job.reducer`` on pooled, unprojected features of the fit subset."""
    pooled = Reducer(job.reducer.pooling, None, job.device)  # pooling only: PCA is fitted on what it will project
    subset = _pca_fit_subset(job.reducer.projection, job.stimuli)
    batches = (_features_of_batch(job, x.to(job.device), pooled)
               for _, x in subset.batches(job.batch_size, job.preprocessing))
    _fit_pca(job.reducer, job.view.names, batches)


def _prefetch(it: Iterator, depth: int = 2) -> Iterator:
    """Decode the next batches in a background thread while the model runs."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    sentinel = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in it:
                if not put(item):
                    return
        except BaseException as err:  # hand the error to the consumer
            put(err)
        put(sentinel)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is sentinel:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the consumer stopped (done or failed): let the producer exit
        t.join(timeout=5)


def _create_partial(job: _Job, widths: dict[str, int]) -> None:
    """Create the empty partial file for layers of ``widths`` (layer -> features) with its neuroid coords."""
    view = job.view
    layer_of = np.concatenate([[n] * w for n, w in widths.items()])
    unit = np.concatenate([np.arange(w) for w in widths.values()])
    region = np.concatenate([[view.regions[n]] * w for n, w in widths.items()])
    arrival = np.concatenate([[view.arrival[n]] * w for n, w in widths.items()])
    attrs = _file_attrs(job.key_fields, is_recurrent=view.is_recurrent, time_varying=view.time_varying,
                        n_steps=job.n_t)
    _create_file(job.partial, job.ids, layer_of, unit, region, arrival, job.steps, job.stimuli.presentation_coords(),
                 attrs, chunk_rows=job.batch_size)


def _run(job: _Job, done: int) -> None:
    """Extract the presentations from ``done`` on into ``job.partial`` (created on the first batch)."""
    view, dev = job.view, job.device
    h5 = None
    widths: dict[str, int] | None = None
    blocks: _Blocks | None = None
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brainfit-write")
    pending: Future | None = None
    try:
        if done:
            h5 = _open_for_writing(job.partial)
            layer_of = h5[LAYER].asstr()[:]
            widths = {n: int((layer_of == n).sum()) for n in view.names}
        bar = tqdm(total=len(job.stimuli), initial=done, desc="extracting", unit="img", disable=not job.progress,
                   leave=False)
        batches = job.stimuli.batches(job.batch_size, job.preprocessing, start=done)
        # Decoding in a background thread pays off when a core is free for it (a GPU run, or
        # fewer torch threads than cores); on a CPU run that already uses every core it only
        # contends with the model (measured: ~20% slower on 2 cores).
        if dev.type != "cpu" or torch.get_num_threads() < (os.cpu_count() or 1):
            batches = _prefetch(batches)
        for ids, x in batches:
            feats = _features_of_batch(job, x.to(dev))
            if widths is None:
                widths = {n: next(f for f in feats[n] if f is not None).shape[1] for n in view.names}
                _create_partial(job, widths)
                h5 = _open_for_writing(job.partial)
            if blocks is None:
                blocks = _Blocks(job, widths)
            # The block is assembled, checked and written in a background thread while the next
            # batch runs (the forward pass leaves part of the cores idle: measured 1.6x faster on
            # 2 threads than on 1); on an accelerator it is assembled there and copied to the host
            # here, on this thread's stream. One batch in flight at a time, in order, so
            # "completed" always counts rows that are on disk; memory holds at most two batches
            # of features and two host blocks.
            ready = blocks.assemble(feats, ids) if blocks.device is not None else None
            if pending is not None:
                pending.result()
            pending = writer.submit(blocks.write, h5, feats, ids, done, ready)
            done += len(ids)
            bar.update(len(ids))
        if pending is not None:
            pending.result()
        bar.close()
    finally:
        writer.shutdown(wait=True)  # an in-flight write finishes before the file is closed
        if h5 is not None:
            h5.close()


class _Blocks:
    """Assembly of one batch's features into a time-major block (T, B, F) and its write.

    On CPU the block is filled in the writer thread with numpy copies (which release the GIL and
    use one core: torch copies from a second thread would start a second team of torch threads
    and oversubscribe the cores). On an accelerator it is assembled there and copied to the host
    in the extraction thread (:func:`_run`), and only the write happens in the writer thread.
    Two host buffers take turns, so a block can be filled while the previous one is written.
    """

    def __init__(self, job: _Job, widths: dict[str, int]):
        self.job = job
        self.cols: dict[str, slice] = {}
        col = 0
        for name in job.view.names:
            self.cols[name] = slice(col, col + widths[name])
            col += widths[name]
        shape = (job.n_t, job.batch_size, col)
        self.host = [np.empty(shape, dtype=np.float32) for _ in range(2)]
        self.turn = 0
        self.device = None if job.device.type == "cpu" else torch.empty(shape, dtype=torch.float32, device=job.device)

    def assemble(self, feats: LayerFeatures, ids: np.ndarray) -> np.ndarray:
        """``feats`` (layer -> T features (B, F) or None) as a host block (T, B, F), zeros before
        arrival; ValueError naming the stimuli when a value is not finite."""
        b = len(ids)
        host = self.host[self.turn][:, :b]
        self.turn = 1 - self.turn
        on_device = self.device is not None
        buf = self.device[:, :b] if on_device else host
        for name in self.job.view.names:
            cols = self.cols[name]
            for t, f in enumerate(feats[name]):
                if f is None:
                    buf[t, :, cols] = 0
                else:
                    buf[t, :, cols] = f if on_device else f.numpy()
        if on_device:
            torch.from_numpy(host).copy_(buf)
        if not np.isfinite(host).all():
            raise ValueError(f"model produced non-finite activations for stimuli {list(ids[:3])}...")
        return host

    def write(self, h5: Any, feats: LayerFeatures, ids: np.ndarray, start: int, block: np.ndarray | None) -> None:
        """Write the batch of presentations ``start:start + len(ids)`` to ``h5`` (``block``: already
        assembled, else assembled here)."""
        _write_block(h5, self.assemble(feats, ids) if block is None else block, start)
