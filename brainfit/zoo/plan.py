"""Planning a zoo: every model built and every dataset loaded once (so a bad config fails before any
work), the shared folds written, and the tasks keyed by content.

Tasks:

* :class:`ExtractTask`, one per distinct (model, dataset, extraction settings): activations into the
  content-addressed cache (:func:`brainfit.activations.extract`), whose key, atomic completion and
  damage checks make a rerun resume or skip it;
* :class:`FitTask`, one per (model, dataset, readout): ridge per bin (or one map shared by every bin,
  ``readout: shared``) on the dataset's folds for every region at once (one kernel per layer, bin
  and fold, shared by the regions), the layer chosen per region on
  training folds, each region scored against its ceiling. Its result files (one score file per
  region, one per-layer file, a manifest) carry a key over everything that determines the numbers
  (the model's weights and architecture, the dataset's values, the regions, the folds, the temporal
  map, the layers, the mapping settings), so a rerun skips a finished fit, recomputes a damaged
  one, and a changed setting gets new files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainfit._io import atomic_write_json, sha256_file, stable_hash
from brainfit.zoo.config import DatasetSpec, ModelSpec, ZooConfig
from brainfit.zoo.fields import safe_name

__all__ = ["ExtractTask", "FitTask", "Plan", "ZooPlanError", "build_model", "load_data", "plan_zoo", "read_manifest"]

#: Changes when the result files' layout or meaning changes (part of every fit key).
RESULT_FORMAT = 3  # 3: reliability-aware layer choice, readouts, latency grids
_DATA_MEMO: dict[str, tuple[Any, Any]] = {}
_SHA_MEMO: dict[str, str] = {}


def content_key(parts: list) -> str:
    """24 hex digits of SHA-256 over ``parts`` as strict JSON: an object JSON cannot hold is an error,
    never its ``str`` (a bound method or an object's address would make a key that changes every run)."""
    payload = json.dumps(parts, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class ZooPlanError(ValueError):
    """Models or datasets of a zoo config that cannot be built or loaded (every problem named)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("zoo config cannot run: " + "; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class ExtractTask:
    """Activations of one model on one dataset's stimuli, into ``cache_dir``."""

    key: str
    model: ModelSpec
    dataset: DatasetSpec
    layers: tuple[str, ...] | None
    n_steps: int | None
    on_steps: int | None
    projection_width: int
    projection_seed: int
    cache_dir: str
    weights_sha256: str = ""
    device: str | None = None


@dataclass(frozen=True)
class FitTask:
    """Scores of one model on every region of one dataset under one readout (``"per_bin"`` or
    ``"shared"``); result files under ``folder``."""

    key: str
    extract_key: str
    model: ModelSpec
    dataset: DatasetSpec
    regions: tuple[str, ...]
    temporal_map: dict
    layers: tuple[str, ...] | None
    splits_path: str
    splits_fingerprint: str
    alphas: tuple[float, ...]
    n_bootstrap: int
    seed: int
    folder: str
    dataset_info: dict = field(default_factory=dict)
    readout: str = "per_bin"

    @property
    def name(self) -> str:
        return f"{self.model.id} / {self.dataset.id}" + ("" if self.readout == "per_bin" else f" ({self.readout} readout)")

    def paths(self) -> dict[str, Any]:
        """``scores`` (region -> its score file), ``layers`` (per layer and bin, every region) and
        ``manifest`` (written last: the mark of a complete result)."""
        folder = Path(self.folder)
        return {"scores": {r: folder / f"{safe_name(r)}-{self.key}.scores.nc" for r in self.regions},
                "layers": folder / f"layers-{self.key}.nc", "manifest": folder / f"{self.key}.json"}

    def files(self) -> dict[str, Path]:
        """Every result file but the manifest, by the name the manifest's ``sha256`` gives it."""
        paths = self.paths()
        return {**{f"scores/{r}": p for r, p in paths["scores"].items()}, "layers": paths["layers"]}

    def finished(self) -> dict | None:
        """The manifest of a complete, undamaged result (its key and every file's SHA-256 match), else None."""
        found = read_manifest(self.paths()["manifest"])
        if found is None or found[0].get("key") != self.key or found[1] != self.files():
            return None
        return found[0]


def read_manifest(path: str | Path) -> tuple[dict, dict[str, Path]] | None:
    """``(manifest, files)`` of a fit's manifest whose files (named in it, beside it) all match their
    SHA-256; None for a missing, unreadable or damaged result. The one check of a complete result."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
        files = {what: path.parent / name for what, name in manifest["files"].items()}
        if any(sha256_file(p) != manifest["sha256"][what] for what, p in files.items()):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifest, files


@dataclass
class Plan:
    """A zoo's tasks: ``extracts`` by key, ``fits`` in config order, ``models`` (id -> facts found when
    building it: params, recurrence, layers, temporal map), ``datasets`` (id -> provenance)."""

    config: ZooConfig
    extracts: dict[str, ExtractTask]
    fits: list[FitTask]
    models: dict[str, dict]
    datasets: dict[str, dict]

    def pending(self) -> list[FitTask]:
        """Fits without a complete, undamaged result."""
        return [f for f in self.fits if f.finished() is None]


def load_data(spec: DatasetSpec) -> tuple[Any, Any]:
    """``(stimuli, neural)`` of a dataset spec, loaded once per process (the last two kept)."""
    from brainfit.data import load_dataset

    key = stable_hash([spec.name, spec.kwargs])
    if key not in _DATA_MEMO:
        while len(_DATA_MEMO) >= 2:
            oldest = next(iter(_DATA_MEMO))
            del _DATA_MEMO[oldest]
            _SHA_MEMO.pop(oldest, None)
        _DATA_MEMO[key] = load_dataset(spec.name, **spec.kwargs)
    return _DATA_MEMO[key]


def data_sha256(spec: DatasetSpec) -> str:
    """:func:`brainfit.report.dataset_sha256` of the spec's neural data, computed once per process
    (every fit on a worker checks it)."""
    from brainfit.report import dataset_sha256

    neural = load_data(spec)[1]
    key = stable_hash([spec.name, spec.kwargs])
    if key not in _SHA_MEMO:
        _SHA_MEMO[key] = dataset_sha256(neural)
    return _SHA_MEMO[key]


def build_model(spec: ModelSpec) -> Any:
    """The model of a spec: registry (:func:`brainfit.models.model_from_spec`) or module factory."""
    from torch import nn

    from brainfit.models import ExternalModel, model_from_spec

    if spec.module is None:
        return model_from_spec(spec.model, weights=spec.weights, seed=spec.seed, **spec.kwargs)
    path, _, attr = spec.module.partition(":")
    try:
        obj: Any = importlib.import_module(path)
    except ImportError as err:
        raise ValueError(f"cannot import module {path!r}: {err}") from err
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {path!r} has no {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec.module} is not callable")
    model = obj(**spec.kwargs)
    if not isinstance(model, nn.Module):
        raise TypeError(f"{spec.module} returned a {type(model).__name__}, not a torch.nn.Module")
    if not hasattr(model, "layers"):
        if not spec.layers:
            raise ValueError(f"{spec.module} returned a plain nn.Module: name the submodules to read in 'layers'")
        model = ExternalModel(model, spec.layers)
    model.eval()
    model.weights_source = f"module {spec.module}"
    return model


def _control_map(control: str, tmap: dict, time_varying: bool, n_steps: int | None) -> dict:
    """The temporal map of a ``control`` entry (:class:`~brainfit.zoo.entries.ModelSpec`)."""
    from brainfit.temporal import TemporalMap

    if not time_varying or not n_steps:
        raise ValueError(f"control {control!r} needs a model whose output varies over time steps; this one has one")
    if control == "static":  # its own best single step, chosen on training folds
        return TemporalMap.from_dict({"kind": "constant", "step": list(range(int(n_steps)))}).to_dict()
    if tmap.get("kind") != "one_to_one":
        raise ValueError(f"control 'time_shuffled' shuffles the steps of a one_to_one map, not of {tmap.get('kind')!r}")
    return TemporalMap.from_dict({**tmap, "shuffle_seed": 0}).to_dict()


def _model_facts(config: ZooConfig, spec: ModelSpec) -> dict:
    """Build the model once: its content key and the settings the tasks need (raises ValueError/KeyError)."""
    from brainfit.activations import architecture_hash, weights_hash
    from brainfit.models import count_params

    model = build_model(spec)
    layers_all = list(model.layers)
    layers = spec.layers or config.layers
    if layers is not None:
        absent = [name for name in layers if name not in layers_all]
        if absent:
            raise ValueError(f"layer(s) {absent} not in the model; its layers: {layers_all}")
    time_varying = bool(getattr(model, "time_varying", getattr(model, "is_recurrent", False)))
    tmap = spec.temporal_map or config.temporal_maps["time_varying" if time_varying else "constant"]
    n_steps = spec.n_steps if spec.n_steps is not None else getattr(model, "n_steps", None)
    on_steps = spec.on_steps if spec.on_steps is not None else getattr(model, "on_steps", None)
    if spec.control is not None:
        tmap = _control_map(spec.control, tmap, time_varying, n_steps)
    weights = weights_hash(model)
    if not time_varying:  # one response: the unroll does not change the numbers
        n_steps = on_steps = None
    preprocessing = [getattr(model, k, None) for k in ("input_size", "norm_mean", "norm_std")]
    return {
        "id": spec.id, "name": spec.id, "label": spec.label, "model": spec.model or spec.module, "weights": spec.weights,
        "weights_sha256": weights, "params": int(count_params(model)),
        "is_recurrent": bool(getattr(model, "is_recurrent", False)), "time_varying": time_varying,
        "layers": list(layers) if layers is not None else None, "temporal_map": tmap,
        "n_steps": n_steps if time_varying else None, "on_steps": on_steps if time_varying else None,
        "trained_schedule": getattr(model, "trained_schedule", None),
        "content": content_key([weights, architecture_hash(model), n_steps, on_steps, preprocessing]),
    }


def _dataset_facts(spec: DatasetSpec) -> tuple[dict, Any]:
    from brainfit.assembly import (
        REGION,
        average_repetitions,
        has_repetitions,
        validate_neural,
    )
    stimuli, neural = load_data(spec)
    if stimuli is None:
        raise ValueError("the dataset has no stimulus images, so models cannot be run on it")
    neural = validate_neural(neural)
    present = sorted(set(np.asarray(neural.coords[REGION].values).astype(str).tolist())) \
        if REGION in neural.coords else []
    regions = list(spec.regions or present)
    missing = [r for r in regions if r not in present]
    if missing:
        raise ValueError(f"region(s) {missing} not in the data; regions present: {present}")
    avg = average_repetitions(neural) if has_repetitions(neural) else neural
    sha = data_sha256(spec)
    # what the fits' numbers depend on beyond the values and ids dataset_sha256 covers: the bins,
    # the sites and their regions, and the images
    content = content_key([sha, neural.coords["time_bin_start"].values.tolist(),
                           neural.coords["time_bin_end"].values.tolist(),
                           np.asarray(neural.coords["neuroid_id"].values).astype(str).tolist(),
                           np.asarray(neural.coords[REGION].values).astype(str).tolist(), stimuli.fingerprint()])
    info = {"id": spec.id, "name": spec.name, "kwargs": dict(spec.kwargs), "sha256": sha,
            "n_stimuli": len(stimuli), "n_neuroids": int(neural.sizes["neuroid"]), "regions": regions,
            "single_trials": has_repetitions(neural), "stimuli": stimuli.fingerprint(), "content": content}
    return info, avg


def plan_zoo(config: ZooConfig, *, device: str | None = None, write: bool = True) -> Plan:
    """Build every model and load every dataset once, then lay out the tasks (see the module docstring).

    Nothing is written until every model and dataset checked out; then (``write``) the folds of
    each dataset go to ``<out>/splits/<dataset>-<fingerprint>.json`` and the expanded config to
    ``<out>/zoo.json``.

    Raises
    ------
    ZooPlanError
        Naming every model that cannot be built (unknown name, bad arguments, missing checkpoint,
        unknown layers), every dataset that cannot be loaded and every one whose folds cannot be drawn.
    """
    from brainfit.mapping import Splits, make_splits

    problems: list[str] = []
    models: dict[str, dict] = {}
    for spec in config.models:
        try:
            models[spec.id] = _model_facts(config, spec)
        except Exception as err:  # noqa: BLE001 -- a user's factory may raise anything; every model is named
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            kind = "" if isinstance(err, (KeyError, ValueError, TypeError, FileNotFoundError)) \
                else f"{type(err).__name__}: "
            problems.append(f"model {spec.id!r} ({spec.origin}): {kind}{msg}")
    datasets: dict[str, dict] = {}
    averaged: dict[str, Any] = {}
    for spec in config.datasets:
        try:
            datasets[spec.id], averaged[spec.id] = _dataset_facts(spec)
        except Exception as err:  # noqa: BLE001 -- every dataset that cannot be loaded is named
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            problems.append(f"dataset {spec.id!r} ({spec.name}): {msg}")
    splits_of = {}
    for spec in config.datasets:
        if spec.id in averaged:
            try:
                if config.splits.file is not None:
                    splits_of[spec.id] = Splits.load(config.splits.file)
                    splits_of[spec.id].check_stimuli(averaged[spec.id].coords["stimulus_id"].values,
                                                     name=f"dataset {spec.id!r} (splits {config.splits.file})")
                else:
                    splits_of[spec.id] = make_splits(averaged[spec.id], n_folds=config.splits.n_folds,
                                                     seed=config.splits.seed)
            except (ValueError, OSError) as err:
                problems.append(f"dataset {spec.id!r} ({spec.name}): splits: {err}")
    if problems:
        raise ZooPlanError(problems)
    out = Path(config.out)
    extracts: dict[str, ExtractTask] = {}
    fits: list[FitTask] = []
    m = config.mapping
    for dspec in config.datasets:
        dinfo = datasets[dspec.id]
        splits = splits_of[dspec.id]
        # named by content: a fit never reads folds another run or config wrote under its dataset's name
        splits_path = out / "splits" / f"{dspec.id}-{splits.fingerprint[:16]}.json"
        if write and not splits_path.is_file():
            splits.save(splits_path)
        for spec in config.models:
            facts = models[spec.id]
            layers = tuple(facts["layers"]) if facts["layers"] is not None else None
            # one extraction per model content and stimulus set (two datasets on the same images share
            # it): two tasks never write the same cache file
            ekey = content_key([facts["content"], dinfo["stimuli"], layers, m.projection_width, m.projection_seed])
            extracts.setdefault(ekey, ExtractTask(
                key=ekey, model=spec, dataset=dspec, layers=layers, n_steps=facts["n_steps"],
                on_steps=facts["on_steps"], projection_width=m.projection_width, projection_seed=m.projection_seed,
                cache_dir=config.cache_dir, weights_sha256=facts["weights_sha256"], device=device))
            regions = tuple(dinfo["regions"])
            settings = {k: v for k, v in dataclasses.asdict(m).items() if k != "readout"}
            for readout in m.readouts:
                key = content_key([RESULT_FORMAT, ekey, dinfo["content"], list(regions), splits.fingerprint,
                                   facts["temporal_map"], settings, readout])
                fits.append(FitTask(
                    key=key, extract_key=ekey, model=spec, dataset=dspec, regions=regions,
                    temporal_map=facts["temporal_map"], layers=layers, splits_path=str(splits_path),
                    splits_fingerprint=splits.fingerprint, alphas=m.alphas, n_bootstrap=m.n_bootstrap, seed=m.seed,
                    folder=str(out / "results" / dspec.id / spec.id),
                    dataset_info={k: v for k, v in dinfo.items() if k != "regions"}, readout=readout))
    if write:
        atomic_write_json(out / "zoo.json", {"config": config.to_dict(), "models": models, "datasets": datasets})
    return Plan(config=config, extracts=extracts, fits=fits, models=models, datasets=datasets)
