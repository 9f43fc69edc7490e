"""Time-resolved activation extraction with bounded memory and a content-addressed cache.

:func:`extract` runs a model over a :class:`~brainfit.stimuli.StimulusSet` batch by batch and
returns ``DataArray(presentation x neuroid x time_step)`` with neuroid coords ``layer``,
``unit``, ``region`` and ``arrival_step`` (first step at which the layer's output exists; the
values before it are zeros).

Memory stays flat in the number of stimuli: forward hooks reduce every layer's output as soon as
it is produced (spatial pooling, then a seeded random projection or PCA to a fixed width), each
batch is written to an HDF5/netCDF file, and the result is opened lazily from that file.

The cache file is named by a key over everything that determines the numbers: a hash of the
model's weights and buffers, its class, the stimulus fingerprint (ids and image bytes), the
preprocessing, the layers, the reduction, the schedule and the brainfit version. A file is
written as ``<key>.partial.nc`` and renamed when complete; an interrupted extraction resumes from
its last completed batch; a damaged file is detected, removed and recomputed with a warning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5netcdf
import h5py
import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from brainfit import __version__
from brainfit._io import stable_hash
from brainfit.assembly import ACTIVATION_DIMS, LAYER, NEUROID, PRESENTATION, REGION, STIMULUS_ID, TIME_STEP, UNIT
from brainfit.device import resolve_device
from brainfit.stimuli import Preprocessing, StimulusSet

__all__ = ["RandomProjection", "PCAProjection", "extract", "weights_hash", "architecture_hash", "open_activations",
           "default_cache_dir", "add_extract_parser", "Reducer"]

log = logging.getLogger(__name__)

_VAR = "activations"


# ----------------------------------------------------------------------------- reductions


@dataclass(frozen=True)
class RandomProjection:
    """Seeded random projection of each layer to ``width`` features (Johnson-Lindenstrauss).

    The same matrix is used at every time step of a layer, so temporal changes are preserved.

    Parameters
    ----------
    width : int
        Output features per layer (layers already at most this wide are kept as they are
        unless ``always`` is True).
    kind : {"sparse", "gaussian"}
        ``"sparse"``: very sparse projection (Li, Hastie & Church 2006) with density
        ``1/sqrt(d)``, entries ``±sqrt(sqrt(d)/width)``; ``"gaussian"``: N(0, 1/width) entries.
        Both preserve inner products in expectation.
    seed : int
    always : bool
        Project even layers narrower than ``width``.
    """

    width: int = 1000
    kind: str = "sparse"
    seed: int = 0
    always: bool = False

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"projection width must be >= 1, got {self.width}")
        if self.kind not in ("sparse", "gaussian"):
            raise ValueError(f"projection kind must be 'sparse' or 'gaussian', got {self.kind!r}")

    def matrix(self, layer: str, d: int, device: torch.device) -> Any:
        """Projection of ``layer``: a dense (d, width) tensor for ``"gaussian"``; for ``"sparse"``
        a (width, d) CSR sparse tensor ``P^T`` (output ``j`` sums ``k ~ sqrt(d)`` signed inputs).
        None when the layer is kept as it is. A pure function of ``(seed, layer, d)``."""
        if d <= self.width and not self.always:
            return None
        seed = int(hashlib.sha256(f"{self.seed}:{layer}:{d}".encode()).hexdigest()[:12], 16)
        g = torch.Generator().manual_seed(seed)
        if self.kind == "gaussian":
            return (torch.randn(d, self.width, generator=g) / np.sqrt(self.width)).to(device)
        s = np.sqrt(d)
        k = max(1, int(round(d / s)))
        # k distinct input features per output, each with a random sign; magnitude sqrt(s/width)
        # makes E[P P^T] = I (each input feature is used ~width/s times).
        rows = torch.topk(torch.rand(self.width, d, generator=g), k, dim=1, sorted=False).indices \
            if d * self.width <= 50_000_000 \
            else torch.stack([torch.randperm(d, generator=g)[:k] for _ in range(self.width)])
        signs = torch.randint(0, 2, (self.width, k), generator=g).float() * 2 - 1
        rows, order = torch.sort(rows, dim=1)  # CSR wants sorted column indices per row
        vals = torch.gather(signs, 1, order) * np.sqrt(s / self.width)
        crow = torch.arange(0, self.width * k + 1, k, dtype=torch.int64)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the product we use is stable
            warnings.simplefilter("ignore", UserWarning)
            pt = torch.sparse_csr_tensor(crow, rows.reshape(-1).to(torch.int64), vals.reshape(-1).float(),
                                         size=(self.width, d))
        return pt.to(device)

    @staticmethod
    def apply(m: Any, x: torch.Tensor) -> torch.Tensor:
        """Project a batch (B, d) with a matrix from :meth:`matrix` -> (B, width)."""
        if m.layout == torch.sparse_csr:  # (width, d) @ (d, B): ~5x faster than gathering the inputs
            return (m @ x.T).T.contiguous()
        return x @ m


@dataclass(frozen=True)
class PCAProjection:
    """PCA to ``n_components`` per layer, fitted on a seeded subset of stimuli.

    The basis is fitted on ``n_fit`` stimuli (drawn with ``seed``) at up to ``max_fit_steps``
    time steps spread over the unroll, then applied to every stimulus and step.
    """

    n_components: int = 500
    n_fit: int = 256
    seed: int = 0
    max_fit_steps: int = 4

    def __post_init__(self) -> None:
        if self.n_components < 1 or self.n_fit < 2:
            raise ValueError("PCAProjection needs n_components >= 1 and n_fit >= 2")


class Reducer:
    """Spatial pooling then projection of one layer's output (B, C, H, W) -> (B, F)."""

    def __init__(self, pooling: str | int | None, projection: RandomProjection | PCAProjection | None, device: torch.device):
        if pooling not in (None, "avg", "max") and not (isinstance(pooling, int) and pooling >= 1):
            raise ValueError(f"pooling must be None, 'avg', 'max' or a positive int (adaptive avg grid), got {pooling!r}")
        self.pooling = pooling
        self.projection = projection
        self.device = device
        self._mats: dict[str, Any] = {}
        self.pca: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return x
        if self.pooling == "avg":
            x = x.mean(dim=tuple(range(2, x.dim())))
        elif self.pooling == "max":
            x = x.amax(dim=tuple(range(2, x.dim())))
        elif isinstance(self.pooling, int) and x.dim() == 4:
            x = nn.functional.adaptive_avg_pool2d(x, self.pooling)
        return x.flatten(1)

    def __call__(self, layer: str, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x.float())
        p = self.projection
        if isinstance(p, RandomProjection):
            if layer not in self._mats:
                self._mats[layer] = p.matrix(layer, x.shape[1], x.device)
            m = self._mats[layer]
            if m is None:
                return x
            return RandomProjection.apply(m, x)
        if isinstance(p, PCAProjection):
            if layer not in self.pca:
                raise RuntimeError(f"PCA basis for layer {layer!r} has not been fitted")
            mean, comps = self.pca[layer]
            return (x - mean) @ comps
        return x

    def key(self) -> dict:
        proj = None if self.projection is None else {"type": type(self.projection).__name__, **asdict(self.projection)}
        return {"pooling": self.pooling, "projection": proj}


# ----------------------------------------------------------------------------- model adapters


def weights_hash(model: nn.Module) -> str:
    """SHA-256 over the model's class name and every parameter and buffer (name, shape, bytes)."""
    h = hashlib.sha256(type(model).__qualname__.encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().cpu().numpy().tobytes())
    return h.hexdigest()


def architecture_hash(model: nn.Module) -> str:
    """SHA-256 over the module tree (``repr``) and the model's ``architecture`` settings, if any.

    Two models with identical weights can compute different things (a ConvRNN and its
    ``unrolled`` control share every weight but not the recurrence), so the activation cache is
    keyed on this as well as on :func:`weights_hash`. brainfit models describe themselves with an
    ``architecture`` dict (:class:`brainfit.models.base.VisionModel`); for any other module the
    printed module tree stands in.
    """
    h = hashlib.sha256(repr(model).encode())
    arch = getattr(model, "architecture", None)
    if arch is not None:
        h.update(json.dumps(arch, sort_keys=True, default=str).encode())
    return h.hexdigest()


class _Adapter:
    """Uniform view of a model for extraction: hook points, recurrence and arrival steps."""

    def __init__(self, model: nn.Module, layers: Sequence[str] | None):
        self.model = model
        own = getattr(model, "layers", None)
        if isinstance(own, dict) and own:
            self.native = True
            available = list(own)
            names = list(layers) if layers is not None else available
            unknown = [n for n in names if n not in own]
            if unknown:
                raise ValueError(f"unknown layer(s) {unknown} for {type(model).__name__}; layers: {available}")
            self.hooks = {n: getattr(own[n], "output", own[n]) for n in names}
            self.is_recurrent = bool(getattr(model, "is_recurrent", False))
            self.time_varying = bool(getattr(model, "time_varying", self.is_recurrent))
            arrival = getattr(model, "arrival_step", None)
            self.arrival = {n: int(arrival(n)) if callable(arrival) else 0 for n in names}
            regions = getattr(model, "regions", None) or {}
            self.regions = {n: str(regions.get(n, "")) for n in names}
        else:
            self.native = False
            if not layers:
                raise ValueError(f"{type(model).__name__} has no `layers` mapping: pass layers= as dotted module names "
                                 f"(e.g. {[n for n, _ in model.named_modules() if n][:5]})")
            modules = dict(model.named_modules())
            unknown = [n for n in layers if n not in modules]
            if unknown:
                raise ValueError(f"unknown module name(s) {unknown} in {type(model).__name__}")
            names = list(layers)
            self.hooks = {n: modules[n] for n in names}
            self.is_recurrent = False
            self.time_varying = False
            self.arrival = {n: 0 for n in names}
            self.regions = {n: "" for n in names}
        self.names = names

    def run(self, x: torch.Tensor, n_steps: int | None, on_steps: int | None) -> None:
        if self.native and self.time_varying:
            self.model(x, n_steps=n_steps, on_steps=on_steps)
        else:
            self.model(x)


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


# ----------------------------------------------------------------------------- cache files


def default_cache_dir() -> Path:
    """``BRAINFIT_CACHE`` or ``~/.cache/brainfit/activations``."""
    env = os.environ.get("BRAINFIT_CACHE")
    return Path(env) / "activations" if env else Path.home() / ".cache" / "brainfit" / "activations"


def _create_file(path: Path, ids: np.ndarray, layer_of: np.ndarray, unit: np.ndarray, region: np.ndarray,
                 arrival: np.ndarray, steps: np.ndarray, meta: dict[str, np.ndarray], attrs: dict,
                 chunk_rows: int = 64) -> None:
    strtype = h5py.string_dtype()
    n, f, t = len(ids), len(layer_of), len(steps)
    with h5netcdf.File(path, "w") as nc:
        nc.dimensions = {PRESENTATION: n, NEUROID: f, TIME_STEP: t}
        # fletcher32: every chunk carries a checksum that HDF5 verifies when it is read.
        # Chunks span exactly one batch of presentations, so each batch write fills whole chunks
        # (no read-modify-write) and one time step of every stimulus reads contiguously.
        v = nc.create_variable(_VAR, ACTIVATION_DIMS, "f4", chunks=(min(n, chunk_rows), min(f, 4096), 1),
                               fletcher32=True)
        coords = [STIMULUS_ID, LAYER, UNIT, REGION, "arrival_step"]
        nc.create_variable(STIMULUS_ID, (PRESENTATION,), strtype)[:] = ids.astype(object)
        nc.create_variable(LAYER, (NEUROID,), strtype)[:] = layer_of.astype(object)
        nc.create_variable(UNIT, (NEUROID,), "i8")[:] = unit
        nc.create_variable(REGION, (NEUROID,), strtype)[:] = region.astype(object)
        nc.create_variable("arrival_step", (NEUROID,), "i8")[:] = arrival
        nc.create_variable(TIME_STEP, (TIME_STEP,), "i8")[:] = steps
        for name, values in meta.items():
            vals = np.asarray(values)
            if vals.dtype.kind in "OUS":
                nc.create_variable(name, (PRESENTATION,), strtype)[:] = vals.astype(str).astype(object)
            elif vals.dtype.kind in "biuf":
                nc.create_variable(name, (PRESENTATION,), vals.dtype)[:] = vals
            else:
                continue
            coords.append(name)
        v.attrs["coordinates"] = " ".join(coords)
        for k, val in attrs.items():
            nc.attrs[k] = val
        nc.attrs["completed"] = 0


def open_activations(path: str | os.PathLike) -> xr.DataArray:
    """Open a complete activation file lazily (values are read on access)."""
    ds = xr.open_dataset(path, engine="h5netcdf")
    da = ds[_VAR]
    da.attrs.update(ds.attrs)
    if int(da.attrs.get("completed", -1)) != da.sizes[PRESENTATION]:
        ds.close()
        raise ValueError(f"{path} is incomplete ({da.attrs.get('completed')} of {da.sizes[PRESENTATION]} presentations)")
    da.encoding["source"] = str(path)
    da.set_close(ds.close)  # closing the DataArray releases the file
    return da


def _check_file(path: Path, key: str, ids: np.ndarray, n_features: int | None, n_steps: int) -> int:
    """Presentations already written in ``path`` (raises ValueError when it is damaged or stale)."""
    try:
        with h5netcdf.File(path, "r") as nc:
            if nc.attrs.get("cache_key") != key:
                raise ValueError("cache key mismatch")
            v = nc.variables[_VAR]
            shape = v.shape
            if shape[0] != len(ids) or shape[2] != n_steps or (n_features is not None and shape[1] != n_features):
                raise ValueError(f"shape {shape} does not match the request")
            stored = np.asarray(nc.variables[STIMULUS_ID][:]).astype(str)
            if not np.array_equal(stored, ids.astype(str)):
                raise ValueError("stimulus ids differ")
            done = int(nc.attrs["completed"])
            if done:  # the last written batch must read back
                v[done - 1, :, :]
            return done
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise ValueError(f"damaged or stale activation file {path}: {err}") from err


# ----------------------------------------------------------------------------- extraction


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
        True: :func:`default_cache_dir`; a folder: that folder. False/None: extraction still
        streams to a temporary file, but the result is then read into memory and the temporary
        folder is removed (also when extraction fails), so nothing is kept on disk; the returned
        array then holds every value in RAM.
    device : str, optional
    model_id : str, optional
        Readable prefix of the cache file name (default: the model's class name).

    Returns
    -------
    DataArray (presentation x neuroid x time_step), opened lazily from the cache file (in memory
    when ``cache`` is False/None), with attrs
    ``is_recurrent``, ``constant_over_time`` (True for models with a single time step), ``weights_hash``,
    ``cache_key`` and the settings.
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
    dev = resolve_device(device)
    adapter = _Adapter(model, layers)
    if preprocessing is None:
        preprocessing = Preprocessing(size=getattr(model, "input_size", None),
                                      mean=getattr(model, "norm_mean", Preprocessing.mean),
                                      std=getattr(model, "norm_std", Preprocessing.std))
    if adapter.time_varying:
        n_steps = int(n_steps if n_steps is not None else getattr(model, "n_steps", 1))
        on_steps = int(on_steps if on_steps is not None else getattr(model, "on_steps", n_steps))
        steps = np.arange(n_steps)
        late = {n: a for n, a in adapter.arrival.items() if a >= n_steps}
        if late:  # the layer would never produce an output (its width is unknown, every value zero)
            raise ValueError(f"layer(s) {list(late)} first produce output at step(s) {list(late.values())}, "
                             f"which n_steps={n_steps} never reaches; use more steps or other layers")
    else:
        n_steps, on_steps, steps = None, None, np.arange(1)
    reducer = Reducer(pooling, projection, dev)
    ids = np.asarray(stimuli.stimulus_ids).astype(str)
    whash = weights_hash(model)
    key_fields = {
        "weights": whash, "architecture": architecture_hash(model), "stimuli": stimuli.fingerprint(), "preprocessing": preprocessing.to_dict(),
        "layers": adapter.names, "reduction": reducer.key(), "n_steps": n_steps, "on_steps": on_steps,
        "batch_size_independent": True, "version": __version__,
    }
    key = stable_hash(key_fields, length=24)
    prefix = (model_id or type(model).__name__).replace("/", "_")
    if cache is True:
        cache_dir = default_cache_dir()
    else:
        cache_dir = Path(cache)
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / f"{prefix}-{key}.nc"
    partial = cache_dir / f"{prefix}-{key}.partial.nc"

    if final.exists():
        try:
            if _check_file(final, key, ids, None, len(steps)) == len(ids):
                log.info("activation cache hit: %s", final)
                return open_activations(final)
            raise ValueError("incomplete")
        except ValueError as err:
            warnings.warn(f"{err}; removing it and extracting again", RuntimeWarning, stacklevel=2)
            final.unlink()

    model = model.to(dev)
    was_training = model.training
    model.eval()
    try:
        if isinstance(projection, PCAProjection):
            _fit_pca(adapter, reducer, stimuli, preprocessing, batch_size, n_steps, on_steps, dev, progress)
        done = 0
        if partial.exists():
            try:
                done = _check_file(partial, key, ids, None, len(steps))
                log.info("resuming extraction at presentation %d of %d", done, len(ids))
            except ValueError as err:
                warnings.warn(f"{err}; starting this extraction again", RuntimeWarning, stacklevel=2)
                partial.unlink()
                done = 0
        _run(adapter, reducer, stimuli, preprocessing, batch_size, n_steps, on_steps, dev, steps, partial, done,
             key, whash, key_fields, progress)
    finally:
        model.train(was_training)
    os.replace(partial, final)
    return open_activations(final)


def _features_of_batch(adapter: _Adapter, reducer: Reducer, x: torch.Tensor, n_steps: int | None,
                       on_steps: int | None, n_t: int) -> dict[str, list[torch.Tensor | None]]:
    """Run one batch; returns layer -> per-step reduced features (None before arrival)."""
    out: dict[str, list[torch.Tensor | None]] = {n: [] for n in adapter.names}
    last: dict[str, tuple] = {}
    handles = []
    for name, module in adapter.hooks.items():
        def hook(_m, _inp, output, name=name):
            if isinstance(output, (tuple, list)):
                output = output[0]
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
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            adapter.run(x, n_steps, on_steps)
    finally:
        for h in handles:
            h.remove()
    result = {}
    for name in adapter.names:
        got = out[name]
        first = adapter.arrival[name]
        if len(got) != n_t - first:
            raise RuntimeError(f"layer {name!r} produced {len(got)} outputs for {n_t} steps with arrival step {first}; "
                               "the model's hook contract is broken")
        result[name] = [None] * first + got
    return result


def _write_block(nc: Any, block: np.ndarray, start: int) -> None:
    nc.variables[_VAR][start:start + len(block)] = block
    nc.attrs["completed"] = start + len(block)
    nc.flush()


def _run(adapter, reducer, stimuli, preprocessing, batch_size, n_steps, on_steps, dev, steps, partial, done,
         key, whash, key_fields, progress) -> None:
    n_t = len(steps)
    nc = None
    widths: dict[str, int] | None = None
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brainfit-write")
    pending = None
    try:
        if done:
            nc = h5netcdf.File(partial, "a")
            layer_of = np.asarray(nc.variables[LAYER][:]).astype(str)
            widths = {n: int((layer_of == n).sum()) for n in adapter.names}
        bar = tqdm(total=len(stimuli), initial=done, desc="extracting", unit="img", disable=not progress, leave=False)
        batches = stimuli.batches(batch_size, preprocessing, start=done)
        # Decoding in a background thread pays off when a core is free for it (a GPU run, or
        # fewer torch threads than cores); on a CPU run that already uses every core it only
        # contends with the model (measured: ~20% slower on 2 cores).
        if dev.type != "cpu" or torch.get_num_threads() < (os.cpu_count() or 1):
            batches = _prefetch(batches)
        for ids, x in batches:
            feats = _features_of_batch(adapter, reducer, x.to(dev), n_steps, on_steps, n_t)
            if widths is None:
                widths = {n: next(f for f in feats[n] if f is not None).shape[1] for n in adapter.names}
                layer_of = np.concatenate([[n] * w for n, w in widths.items()])
                unit = np.concatenate([np.arange(w) for w in widths.values()])
                region = np.concatenate([[adapter.regions[n]] * w for n, w in widths.items()])
                arrival = np.concatenate([[adapter.arrival[n]] * w for n, w in widths.items()])
                attrs = {"cache_key": key, "weights_hash": whash, "is_recurrent": int(adapter.is_recurrent),
                         "constant_over_time": int(not adapter.time_varying), "brainfit_version": __version__,
                         "settings": stable_hash(key_fields, 64), "n_steps": int(n_t),
                         "pooling": str(reducer.pooling), "projection": str(reducer.key()["projection"])}
                _create_file(partial, np.asarray(stimuli.stimulus_ids).astype(str), layer_of, unit, region, arrival,
                             steps, stimuli.presentation_coords(), attrs, chunk_rows=batch_size)
                nc = h5netcdf.File(partial, "a")
            b = len(ids)
            block = np.zeros((b, sum(widths.values()), n_t), dtype=np.float32)
            col = 0
            for name in adapter.names:
                w = widths[name]
                for t, f in enumerate(feats[name]):
                    if f is not None:
                        block[:, col:col + w, t] = f.cpu().numpy()
                col += w
            if not np.all(np.isfinite(block)):
                raise ValueError(f"model produced non-finite activations for stimuli {list(ids[:3])}...")
            # Write in a background thread while the next batch runs; one write in flight at a
            # time, in order, so "completed" always counts rows that are on disk.
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_block, nc, block, done)
            done += b
            bar.update(b)
        if pending is not None:
            pending.result()
        bar.close()
    finally:
        writer.shutdown(wait=True)  # an in-flight write finishes before the file is closed
        if nc is not None:
            nc.close()


def _fit_pca(adapter, reducer, stimuli, preprocessing, batch_size, n_steps, on_steps, dev, progress) -> None:
    p: PCAProjection = reducer.projection
    rng = np.random.default_rng(p.seed)
    n_fit = min(p.n_fit, len(stimuli))
    subset = stimuli.subset(list(np.asarray(stimuli.stimulus_ids)[np.sort(rng.choice(len(stimuli), n_fit, replace=False))]))
    n_t = n_steps or 1
    collected: dict[str, list[torch.Tensor]] = {n: [] for n in adapter.names}
    # Temporarily skip projection while collecting the fit data.
    reducer.projection = None
    try:
        for _, x in subset.batches(batch_size, preprocessing):
            feats = _features_of_batch(adapter, reducer, x.to(dev), n_steps, on_steps, n_t)
            for name in adapter.names:
                valid = [t for t in range(n_t) if feats[name][t] is not None]
                pick = np.unique(np.linspace(0, len(valid) - 1, min(p.max_fit_steps, len(valid))).round().astype(int))
                collected[name].extend(feats[name][valid[i]] for i in pick)
    finally:
        reducer.projection = p
    for name, chunks in collected.items():
        data = torch.cat(chunks).double()
        mean = data.mean(0)
        k = min(p.n_components, data.shape[0] - 1, data.shape[1])
        _, _, v = torch.linalg.svd(data - mean, full_matrices=False)
        reducer.pca[name] = (mean.float(), v[:k].T.float().contiguous())


# ----------------------------------------------------------------------------- CLI


def _cmd_extract(args: argparse.Namespace) -> int:
    from brainfit.cli import parse_overrides
    from brainfit.data import load_dataset
    from brainfit.models import create_model

    if args.weights:
        from brainfit.training.checkpoint import load_model
        model = load_model(args.weights)
        model_id = Path(args.weights).stem
    else:
        model = create_model(args.model, **parse_overrides(args.model_set))
        model_id = args.model
    stimuli, _ = load_dataset(args.dataset, **parse_overrides(args.dataset_set))
    proj = RandomProjection(width=args.projection) if args.projection else None
    pooling = int(args.pooling) if args.pooling and args.pooling.isdigit() else args.pooling
    da = extract(model, stimuli, layers=args.layers, n_steps=args.n_steps, batch_size=args.batch_size,
                 pooling=pooling, projection=proj, cache=args.cache_dir or True, device=args.device,
                 model_id=model_id, progress=not args.quiet)
    if args.out:
        from brainfit.assembly import save_assembly
        save_assembly(da.load(), args.out)
        print(f"wrote {args.out}: {dict(da.sizes)}")
    else:
        print(f"{dict(da.sizes)} cached at {da.encoding.get('source')}")
    return 0


def add_extract_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``extract`` subcommand."""
    p = sub.add_parser("extract", help="time-resolved activations of a model on a dataset's stimuli")
    p.add_argument("--model", help="registry name (or give --weights)")
    p.add_argument("--model-set", nargs="*", metavar="KEY=VALUE", help="create_model keyword arguments")
    p.add_argument("--weights", help="a brainfit checkpoint (rebuilds the model from it)")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--dataset-set", nargs="*", metavar="KEY=VALUE", help="dataset loader options")
    p.add_argument("--layers", nargs="*", help="layer names (default: all)")
    p.add_argument("--n-steps", type=int)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--pooling", help="avg, max, or an int k (adaptive k x k average)")
    p.add_argument("--projection", type=int, help="random projection width per layer")
    p.add_argument("--cache-dir", help="cache folder (default: $BRAINFIT_CACHE or ~/.cache/brainfit)")
    p.add_argument("--device", default=None)
    p.add_argument("--out", help="also write a standalone netCDF assembly here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_extract)
