"""The zoo config: which models and datasets to run, and how to map, score and compare them.

A YAML file becomes a :class:`ZooConfig` of frozen dataclasses, every field checked before any
work starts; a bad config raises one :class:`~brainfit._config.ConfigError` naming every bad field.
``models:`` entries are expanded here into concrete :class:`ModelSpec` (one per model):

* a registry model: ``{model: NAME, weights: pretrained|random|CHECKPOINT, seed, kwargs}``;
* checkpoints by glob: ``{checkpoints: "runs/*/best.pt"}``, one model per matching file
  (``model:`` optional, for a control that reuses another model's weights);
* an external module by import path: ``{module: "package.module:factory", id: NAME, kwargs}``,
  the factory returning a brainfit model, or any ``nn.Module`` when ``layers:`` names its
  submodules (wrapped as :class:`~brainfit.models.ExternalModel`);
* a sweep over a registry model's arguments: ``{model: NAME, grid: {arg: [values]}}`` (every
  combination) with optional ``sample: {n: N, seed: S}`` (N distinct combinations drawn with seed
  S), the way architecture searches generate families of ConvRNNs.

Every entry may also give ``id``, ``label``, ``layers`` (candidate layers), ``temporal_map``,
``n_steps``/``on_steps``. Relative paths are taken from the current folder and stored absolute
(cluster workers may start elsewhere).
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainfit._config import (
    ConfigError,
    Invalid,
    bool_field,
    check_fields,
    choice,
    int_field,
    optional,
    read_yaml_mapping,
    show,
    str_field,
)
from brainfit._io import stable_hash
from brainfit.temporal import TemporalMap

__all__ = [
    "DEFAULT_TEMPORAL_MAPS",
    "CompareSettings",
    "DatasetSpec",
    "MappingSettings",
    "ModelSpec",
    "SplitSettings",
    "ZooConfig",
]

#: Temporal maps of models whose entry gives none: by whether the model's output varies over time.
#: (Stored complete, as every map in a config is: the fit keys hash them.)
DEFAULT_TEMPORAL_MAPS: dict[str, dict] = {
    "time_varying": TemporalMap.from_dict({"kind": "one_to_one", "latency_ms": 0.0}).to_dict(),
    "constant": TemporalMap.from_dict({"kind": "constant"}).to_dict()}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]*")
_MAX_ID = 100


def _check_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value) or len(value) > _MAX_ID:
        raise Invalid(f"a name of letters, digits and _.+=- (at most {_MAX_ID} characters; it names files)")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise Invalid("a non-empty list of names")


def _mapping(value: Any) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise Invalid("a mapping of settings")
    return dict(value)


def _temporal_map(value: Any) -> dict:
    try:
        return TemporalMap.from_dict(dict(value) if isinstance(value, dict) else value).to_dict()
    except (TypeError, ValueError) as err:
        raise Invalid(f"a temporal map such as {{kind: one_to_one, latency_ms: 0}} ({err})") from None


def _decades(value: Any) -> tuple[int, int]:
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in value) and value[0] < value[1]):
        return (int(value[0]), int(value[1]))
    raise Invalid("two integers [lo, hi] with lo < hi, e.g. [-2, 10]")


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def _fields(d: Any, what: str, checks: Mapping[str, Callable[[Any], Any]]) -> tuple[dict, list[str]]:
    """Check the mapping ``d`` against ``checks`` (unknown keys refused): ``(values, problems)``."""
    if not isinstance(d, dict):
        return {}, [f"{what}={show(d)} (expected a mapping of settings)"]
    unknown = sorted(set(d) - set(checks))
    problems = [f"{what}: unknown setting(s) {unknown}; known: {sorted(checks)}"] if unknown else []
    values, bad = check_fields(checks, d)
    return values, problems + [f"{what}.{p}" for p in bad]


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class MappingSettings:
    """Ridge mapping and scoring, the same for every model: penalties ``10**lo .. 10**hi`` (one per
    decade), random features per layer (``projection_width``; 0 reads every feature), stimulus
    bootstrap resamples of the per-region CIs, and the scoring seed."""

    ridge_log10_alphas: tuple[int, int] = (-2, 10)
    projection_width: int = 512
    projection_seed: int = 0
    n_bootstrap: int = 500
    seed: int = 0

    @property
    def alphas(self) -> tuple[float, ...]:
        lo, hi = self.ridge_log10_alphas
        return tuple(float(10.0**k) for k in range(lo, hi + 1))


_MAPPING_CHECKS = {"ridge_log10_alphas": _decades, "projection_width": int_field(0), "projection_seed": int_field(0),
                   "n_bootstrap": int_field(0), "seed": int_field(0)}


@dataclass(frozen=True)
class SplitSettings:
    """Cross-validation folds over stimuli, drawn once per dataset and shared by every model."""

    n_folds: int = 10
    seed: int = 0


_SPLIT_CHECKS = {"n_folds": int_field(2), "seed": int_field(0)}


@dataclass(frozen=True)
class CompareSettings:
    """The report's contrasts ``(model, control)`` (model ids) and their statistics.

    ``metric``: ``"auto"`` (ceiled scores when every dataset has single trials, else raw r),
    ``"ceiled"`` or ``"r"``. ``heatmaps``: a layer x bin figure per model (default: when the zoo
    has at most 12 models).
    """

    contrasts: tuple[tuple[str, str], ...] = ()
    n_permutations: int = 2000
    n_bootstrap: int = 500
    metric: str = "auto"
    seed: int = 0
    heatmaps: bool | None = None


def _contrasts(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, (list, tuple)) and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) and x for x in p) for p in value):
        return tuple((str(a), str(b)) for a, b in value)
    raise Invalid("a list of [model, control] pairs of model ids")


_COMPARE_CHECKS = {"contrasts": _contrasts, "n_permutations": int_field(1), "n_bootstrap": int_field(0),
                   "metric": choice("auto", "ceiled", "r"), "seed": int_field(0), "heatmaps": optional(bool_field)}


# ----------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset (``brainfit datasets list``), its loader options and the regions to score
    (default: every region it has)."""

    id: str
    name: str
    kwargs: dict = field(default_factory=dict)
    regions: tuple[str, ...] | None = None


def _dataset(d: Any, where: str) -> tuple[DatasetSpec | None, list[str]]:
    if isinstance(d, str):
        d = {"name": d}
    checks = {"name": str_field(), "id": _check_id, "kwargs": _mapping, "regions": optional(_names)}
    values, problems = _fields(d, where, checks)
    if isinstance(d, dict) and "name" not in d:
        problems.append(f"{where}: 'name' (a registered dataset) is required")
    if problems:
        return None, problems
    ident = values.get("id", values["name"])
    if "id" not in values:
        try:
            _check_id(ident)
        except Invalid as err:
            return None, [f"{where}: give an 'id' ({err.args[0]})"]
    return DatasetSpec(id=ident, name=values["name"], kwargs=values.get("kwargs", {}),
                       regions=values.get("regions")), []


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelSpec:
    """One model of the zoo, after expansion.

    ``model``: registry name (None for a module factory); ``weights``: ``"pretrained"``,
    ``"random"`` (drawn from ``seed``) or a checkpoint path; ``module``: ``"package.module:factory"``
    called with ``kwargs``; ``layers``: candidate layers (None: the zoo's, else every layer);
    ``temporal_map``: None takes the zoo's default for the model's kind; ``origin``: which
    ``models:`` entry it came from.
    """

    id: str
    label: str
    model: str | None = None
    weights: str = "pretrained"
    seed: int = 0
    kwargs: dict = field(default_factory=dict)
    module: str | None = None
    layers: tuple[str, ...] | None = None
    temporal_map: dict | None = None
    n_steps: int | None = None
    on_steps: int | None = None
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"] = list(self.layers) if self.layers else None
        return d


_COMMON = {"id": _check_id, "label": str_field(), "layers": optional(_names), "temporal_map": optional(_temporal_map),
           "n_steps": optional(int_field(1)), "on_steps": optional(int_field(1))}
_KINDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "registry": {"model": str_field(), "weights": str_field(path=True), "seed": int_field(0), "kwargs": _mapping},
    "sweep": {"model": str_field(), "grid": _mapping, "sample": _mapping, "weights": str_field(path=True),
              "seed": int_field(0), "kwargs": _mapping},
    "checkpoints": {"checkpoints": str_field(path=True), "model": str_field()},
    "module": {"module": str_field(), "kwargs": _mapping},
}


def _kind(d: dict) -> str:
    if "module" in d:
        return "module"
    if "checkpoints" in d:
        return "checkpoints"
    if "grid" in d or "sample" in d:
        return "sweep"
    return "registry"


def _token(v: Any) -> str:
    """A value as a piece of a model id: ``[["conv5", "conv3"]]`` -> ``conv5_to_conv3``, ``[]`` -> ``none``."""
    if v is None or (isinstance(v, (list, tuple)) and not v):
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (list, tuple)):
        if all(isinstance(x, (list, tuple)) and len(x) == 2 for x in v):
            return "+".join(f"{_token(a)}_to_{_token(b)}" for a, b in v)
        return "+".join(_token(x) for x in v)
    return re.sub(r"[^A-Za-z0-9_.=+-]", "", str(v)) or stable_hash(v, 6)


def _sweep_points(values: dict, where: str) -> tuple[list[dict], list[str]]:
    grid = values.get("grid")
    if grid is None or not grid:
        return [], [f"{where}.grid: a sweep needs a non-empty grid {{argument: [values]}}"]
    bad = [k for k, v in grid.items() if not isinstance(v, list) or not v]
    if bad:
        return [], [f"{where}.grid: {bad} must each be a non-empty list of values"]
    points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    sample = values.get("sample")
    if sample is not None:
        s, problems = _fields(sample, f"{where}.sample", {"n": int_field(1), "seed": int_field(0)})
        if not problems and "n" not in s:
            problems.append(f"{where}.sample: 'n' (how many combinations to draw) is required")
        if problems:
            return [], problems
        if s["n"] > len(points):
            return [], [f"{where}.sample.n={s['n']} (the grid has only {len(points)} combinations)"]
        chosen = np.random.default_rng(s.get("seed", 0)).choice(len(points), size=s["n"], replace=False)
        points = [points[i] for i in sorted(chosen.tolist())]
    return points, []


def _checkpoint_ids(paths: list[str], pattern: str) -> list[str]:
    """Ids of checkpoint files: their path below the pattern's fixed folder, without suffix."""
    parts = Path(pattern).parts
    fixed = Path(*[p for p in itertools.takewhile(lambda p: not glob.has_magic(p), parts[:-1])] or ["."])
    ids = []
    for p in paths:
        rel = Path(os.path.relpath(p, _absolute(str(fixed))))
        ids.append(re.sub(r"[^A-Za-z0-9_.=+-]", "_", "_".join(rel.with_suffix("").parts)).lstrip("_.-") or "ckpt")
    return ids


def _model_entry(d: Any, where: str) -> tuple[list[ModelSpec], list[str]]:
    if isinstance(d, str):
        d = {"model": d}
    if not isinstance(d, dict):
        return [], [f"{where}={show(d)} (expected a mapping such as {{model: convrnn_small_rgc}})"]
    kind = _kind(d)
    values, problems = _fields(d, where, {**_COMMON, **_KINDS[kind]})
    if kind in ("registry", "sweep") and "model" not in d:
        problems.append(f"{where}: 'model' (a registry name; `brainfit models list`) is required")
    if kind == "module":
        if "id" not in d:
            problems.append(f"{where}: a module entry needs an 'id'")
        if isinstance(d.get("module"), str) and not re.fullmatch(r"[\w.]+:[\w.]+", d["module"]):
            problems.append(f"{where}.module={show(d['module'])} (expected 'package.module:factory')")
    if problems:
        return [], problems
    common = {k: values[k] for k in ("layers", "temporal_map", "n_steps", "on_steps") if values.get(k) is not None}
    if kind == "module":
        return [ModelSpec(id=values["id"], label=values.get("label", values["id"]), module=values["module"],
                          weights="module", kwargs=values.get("kwargs", {}), origin=where, **common)], []
    if kind == "checkpoints":
        pattern = _absolute(values["checkpoints"])
        paths = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not paths:
            return [], [f"{where}.checkpoints={show(values['checkpoints'])} matches no file"]
        prefix = values.get("id")
        out = []
        for path, ident in zip(paths, _checkpoint_ids(paths, values["checkpoints"])):
            ident = f"{prefix}_{ident}" if prefix else ident
            label = f"{values['label']} ({ident})" if "label" in values else ident
            out.append(ModelSpec(id=ident[:_MAX_ID], label=label, model=values.get("model"), weights=path,
                                 origin=where, **common))
        return out, []
    weights = values.get("weights", "random" if kind == "sweep" else "pretrained")
    if weights not in ("pretrained", "random"):
        weights = _absolute(weights)
    seed = values.get("seed", 0)
    if kind == "registry":
        ident = values.get("id") or (values["model"] if weights == "pretrained" else
                                     f"{values['model']}_random{seed}" if weights == "random" else
                                     f"{values['model']}_{Path(weights).stem}")
        try:
            _check_id(ident)
        except Invalid as err:
            return [], [f"{where}: give an 'id' ({err.args[0]})"]
        return [ModelSpec(id=ident, label=values.get("label", ident), model=values["model"], weights=weights,
                          seed=seed, kwargs=values.get("kwargs", {}), origin=where, **common)], []
    points, problems = _sweep_points(values, where)
    fixed = values.get("kwargs", {})
    clash = sorted(set(fixed) & set(values.get("grid") or {}))
    if clash:
        problems.append(f"{where}: {clash} given both in kwargs and in the grid")
    if problems:
        return [], problems
    prefix = values.get("id", values["model"])
    out = []
    for point in points:
        ident = prefix + "".join(f"_{k}-{_token(v)}" for k, v in point.items())
        if len(ident) > _MAX_ID:
            ident = f"{prefix[:_MAX_ID - 17]}_{stable_hash(point, 16)}"
        label = values.get("label", prefix) + " (" + ", ".join(f"{k}={_token(v)}" for k, v in point.items()) + ")"
        out.append(ModelSpec(id=ident, label=label, model=values["model"], weights=weights, seed=seed,
                             kwargs={**fixed, **point}, origin=where, **common))
    return out, []


# ----------------------------------------------------------------------------- the config

_TOP_CHECKS: dict[str, Callable[[Any], Any]] = {"name": _check_id, "out": str_field(path=True),
                                                "layers": optional(_names)}
_KNOWN = ("name", "out", "models", "datasets", "layers", "temporal_maps", "mapping", "splits", "compare")


@dataclass(frozen=True)
class ZooConfig:
    """A zoo: models x datasets, scored with the same mapping and folds, compared in one report.

    ``layers``: candidate layers of every model whose entry names none (None: all its layers).
    ``temporal_maps``: ``{"time_varying": map, "constant": map}``, the map of a model whose
    entry gives none, by whether its output varies over time steps (:data:`DEFAULT_TEMPORAL_MAPS`).
    ``out``: the output folder (absolute).
    """

    name: str
    models: tuple[ModelSpec, ...]
    datasets: tuple[DatasetSpec, ...]
    out: str
    layers: tuple[str, ...] | None = None
    temporal_maps: dict = field(default_factory=lambda: dict(DEFAULT_TEMPORAL_MAPS))
    mapping: MappingSettings = field(default_factory=MappingSettings)
    splits: SplitSettings = field(default_factory=SplitSettings)
    compare: CompareSettings = field(default_factory=CompareSettings)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, out: str | os.PathLike | None = None) -> ZooConfig:
        """Check every field of ``d`` (a parsed YAML mapping) and expand the model entries.

        ``out`` overrides the config's output folder. Raises ``ConfigError`` naming every problem.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"a zoo config is a mapping of settings, got {show(d)}")
        d = dict(d)
        if out is not None:
            d["out"] = os.fspath(out)
        problems = [f"unknown setting(s) {sorted(set(d) - set(_KNOWN))}; known: {list(_KNOWN)}"] \
            if set(d) - set(_KNOWN) else []
        top, bad = check_fields(_TOP_CHECKS, d)
        problems += bad
        for required in ("name", "out", "models", "datasets"):
            if required not in d:
                problems.append(f"{required}: required")
        models: list[ModelSpec] = []
        if "models" in d:
            if isinstance(d["models"], (list, tuple)) and d["models"]:
                for i, entry in enumerate(d["models"]):
                    specs, bad = _model_entry(entry, f"models[{i}]")
                    models += specs
                    problems += bad
            else:
                problems.append(f"models={show(d['models'])} (expected a non-empty list of model entries)")
        datasets: list[DatasetSpec] = []
        if "datasets" in d:
            if isinstance(d["datasets"], (list, tuple)) and d["datasets"]:
                for i, entry in enumerate(d["datasets"]):
                    spec, bad = _dataset(entry, f"datasets[{i}]")
                    datasets += [spec] if spec else []
                    problems += bad
            else:
                problems.append(f"datasets={show(d['datasets'])} (expected a non-empty list of datasets)")
        for what, items in (("model", models), ("dataset", datasets)):
            ids = [x.id for x in items]
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                problems.append(f"{what} ids {dup} are given more than once (give each entry its own 'id')")
        tmaps, bad = _fields(d.get("temporal_maps", {}), "temporal_maps",
                             {"time_varying": _temporal_map, "constant": _temporal_map})
        problems += bad
        mapping, bad = _fields(d.get("mapping", {}), "mapping", _MAPPING_CHECKS)
        problems += bad
        splits, bad = _fields(d.get("splits", {}), "splits", _SPLIT_CHECKS)
        problems += bad
        compare, bad = _fields(d.get("compare", {}), "compare", _COMPARE_CHECKS)
        problems += bad
        ids = {m.id for m in models}
        for a, b in compare.get("contrasts", ()):
            unknown = [x for x in (a, b) if x not in ids]
            if unknown:
                problems.append(f"compare.contrasts: [{a}, {b}] names unknown model id(s) {unknown}; ids: "
                                f"{sorted(ids)[:20]}")
            elif a == b:
                problems.append(f"compare.contrasts: [{a}, {b}] compares a model with itself")
        if problems:
            raise ConfigError("invalid zoo config: " + "; ".join(problems), problems)
        return cls(name=top["name"], models=tuple(models), datasets=tuple(datasets), out=_absolute(top["out"]),
                   layers=top.get("layers"), temporal_maps={**DEFAULT_TEMPORAL_MAPS, **tmaps},
                   mapping=MappingSettings(**mapping), splits=SplitSettings(**splits),
                   compare=CompareSettings(**compare))

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, *, out: str | os.PathLike | None = None) -> ZooConfig:
        """Read and check a zoo config file (:func:`brainfit._config.read_yaml_mapping`, then :meth:`from_dict`)."""
        return cls.from_dict(read_yaml_mapping(path, "zoo config"), out=out)

    def to_dict(self) -> dict[str, Any]:
        """The checked config with every model expanded (written with the results)."""
        d = dataclasses.asdict(self)
        d["models"] = [m.to_dict() for m in self.models]
        d["datasets"] = [{**dataclasses.asdict(x), "regions": list(x.regions) if x.regions else None}
                         for x in self.datasets]
        d["layers"] = list(self.layers) if self.layers else None
        d["mapping"]["ridge_log10_alphas"] = list(self.mapping.ridge_log10_alphas)
        d["compare"]["contrasts"] = [list(p) for p in self.compare.contrasts]
        return d

    def model(self, ident: str) -> ModelSpec:
        for m in self.models:
            if m.id == ident:
                return m
        raise KeyError(f"no model {ident!r} in zoo {self.name!r}")
