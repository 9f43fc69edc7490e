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

``datasets:`` entries name a registered dataset (``brainfit datasets list``) with ``kwargs`` and
``regions``; a dataset recorded in sessions may give ``sessions: all`` (every session present
under the data root) or a list of sessions: one dataset per session, with id ``<id>-<session>``.

``quick:`` (optional) holds overrides of the other settings for a fast check of the same run
(``brainfit demo --quick``, ``ZooConfig.from_dict(d, quick=True)``): mappings (``mapping``,
``splits``, ``compare``) are merged key by key, every other setting is replaced. The quick
version is checked with the config, so a bad overlay fails before any work either way.

This is the one run config of brainfit: ``brainfit demo``, ``brainfit fit``, ``brainfit zoo`` and
the analyses' configs all become a :class:`ZooConfig` and run through :func:`brainfit.zoo.run_zoo`
and :func:`brainfit.zoo.report.write_zoo_report`; every default is defined here once.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from brainfit._config import (
    check_mapping,
    unknown_keys,
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
from brainfit.scoring.config import DEFAULT_N_BOOTSTRAP, DEFAULT_N_PERMUTATIONS
from brainfit.temporal import TemporalMap
from brainfit.zoo.entries import ModelSpec, model_entry
from brainfit.zoo.fields import (
    absolute,
    check_id,
    decades,
    mapping,
    names,
    temporal_map,
)

__all__ = [
    "DEFAULT_TEMPORAL_MAPS",
    "CompareSettings",
    "DatasetSpec",
    "MappingSettings",
    "ModelSpec",
    "READOUTS",
    "SplitSettings",
    "ZooConfig",
]

#: Temporal maps of models whose entry gives none: by whether the model's output varies over time.
#: (Stored complete, as every map in a config is: the fit keys hash them.)
DEFAULT_TEMPORAL_MAPS: dict[str, dict] = {
    "time_varying": TemporalMap.from_dict({"kind": "one_to_one", "latency_ms": 0.0}).to_dict(),
    "constant": TemporalMap.from_dict({"kind": "constant"}).to_dict()}


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class MappingSettings:
    """Ridge mapping and scoring, the same for every model: penalties ``10**lo .. 10**hi`` (one per
    decade), random features per layer (``projection_width``; 0 reads every feature), stimulus
    bootstrap resamples of the per-region CIs, and the scoring seed.

    ``readout``: ``"per_bin"`` (one ridge map per time bin), ``"shared"`` (one map for every bin:
    the features of each bin stacked, the penalty chosen on training folds, scored per bin against
    the per-bin ceilings -- Brain-Score's temporal benchmarks) or ``"both"`` (each model fitted
    both ways, reported side by side). Under the per-bin readout a static model's features are
    re-weighted bin by bin, so any time course such re-weighting can make is credited to it; the
    shared readout credits only a time course the features carry themselves (docs/design.md).
    """

    ridge_log10_alphas: tuple[int, int] = (-2, 10)
    projection_width: int = 512
    projection_seed: int = 0
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP
    seed: int = 0
    readout: str = "per_bin"

    @property
    def alphas(self) -> tuple[float, ...]:
        lo, hi = self.ridge_log10_alphas
        return tuple(float(10.0**k) for k in range(lo, hi + 1))

    @property
    def readouts(self) -> tuple[str, ...]:
        """The readouts fitted, in report order."""
        return READOUTS if self.readout == "both" else (self.readout,)


#: Every readout, in report order.
READOUTS = ("per_bin", "shared")

_MAPPING_CHECKS = {"ridge_log10_alphas": decades, "projection_width": int_field(0), "projection_seed": int_field(0),
                   "n_bootstrap": int_field(0), "seed": int_field(0), "readout": choice(*READOUTS, "both")}


@dataclass(frozen=True)
class SplitSettings:
    """Cross-validation folds over stimuli, drawn once per dataset and shared by every model.

    ``file``: a splits file (:meth:`brainfit.mapping.Splits.save`) to use instead of drawing folds
    (every dataset of the run must hold exactly its stimuli); ``n_folds``/``seed`` then do not apply.
    """

    n_folds: int = 10
    seed: int = 0
    file: str | None = None


_SPLIT_CHECKS = {"n_folds": int_field(2), "seed": int_field(0), "file": optional(str_field(path=True))}


@dataclass(frozen=True)
class CompareSettings:
    """The report's contrasts ``(model, control)`` (model ids) and their statistics.

    ``metric``: ``"auto"`` (ceiled scores when every dataset has single trials, else raw r),
    ``"ceiled"`` or ``"r"``. ``heatmaps``: a layer x bin figure per model (default: when the zoo
    has at most 12 models).
    """

    contrasts: tuple[tuple[str, str], ...] = ()
    n_permutations: int = DEFAULT_N_PERMUTATIONS
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP
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


def _sessions(value: Any) -> str | tuple[str, ...]:
    if value == "all":
        return "all"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                          for v in value) and len(set(map(str, value))) == len(value):
        return tuple(str(v) for v in value)
    raise Invalid("'all' or a non-empty list of distinct session names")


def _dataset(d: Any, where: str) -> tuple[list[DatasetSpec], list[str]]:
    if isinstance(d, str):
        d = {"name": d}
    checks = {"name": str_field(), "id": check_id, "kwargs": mapping, "regions": optional(names),
              "sessions": _sessions}
    values, problems = check_mapping(d, where, checks)
    if isinstance(d, dict) and "name" not in d:
        problems.append(f"{where}: 'name' (a registered dataset) is required")
    if "sessions" in values and "session" in values.get("kwargs", {}):
        problems.append(f"{where}: give 'sessions' or kwargs.session, not both")
    if problems:
        return [], problems
    ident = values.get("id", values["name"])
    if "id" not in values:
        try:
            check_id(ident)
        except Invalid as err:
            return [], [f"{where}: give an 'id' ({err.args[0]})"]
    kwargs, regions = values.get("kwargs", {}), values.get("regions")
    if "sessions" not in values:
        return [DatasetSpec(id=ident, name=values["name"], kwargs=kwargs, regions=regions)], []
    sessions = values["sessions"]
    if sessions == "all":
        from brainfit.data import dataset_sessions

        try:
            sessions = tuple(dataset_sessions(values["name"]))
        except (KeyError, ValueError, FileNotFoundError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            return [], [f"{where}.sessions='all': {msg}"]
        if not sessions:
            return [], [f"{where}.sessions='all': no session of {values['name']!r} is present"]
    out = []
    for session in sessions:
        try:
            sid = check_id(f"{ident}-{session}")
        except Invalid as err:
            return [], [f"{where}.sessions: session {session!r} cannot name a dataset ({err.args[0]})"]
        out.append(DatasetSpec(id=sid, name=values["name"], kwargs={**kwargs, "session": session}, regions=regions))
    return out, []


def _entries(d: Mapping[str, Any], key: str, parse: Callable[[Any, str], tuple[list, list[str]]],
             expected: str) -> tuple[list, list[str]]:
    """The entries of the list ``d[key]``, each parsed by ``parse(entry, "key[i]")``, and every problem."""
    if key not in d:
        return [], []
    items = d[key]
    if not isinstance(items, (list, tuple)) or not items:
        return [], [f"{key}={show(items)} (expected {expected})"]
    out: list = []
    problems: list[str] = []
    for i, entry in enumerate(items):
        parsed, bad = parse(entry, f"{key}[{i}]")
        out += parsed
        problems += bad
    return out, problems


# ----------------------------------------------------------------------------- the config

_TOP_CHECKS: dict[str, Callable[[Any], Any]] = {"name": check_id, "out": str_field(path=True),
                                                "layers": optional(names), "cache": optional(str_field(path=True))}
_KNOWN = ("name", "out", "models", "datasets", "layers", "cache", "temporal_maps", "mapping", "splits", "compare",
          "quick")
#: Settings whose ``quick`` overrides are merged key by key (the others are replaced).
_MERGED = ("mapping", "splits", "compare", "temporal_maps")


def with_overlay(d: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``d`` with the settings of ``overlay`` (a ``quick:`` block): :data:`_MERGED` mappings merged key
    by key, every other setting replaced."""
    out = dict(d)
    for key, value in overlay.items():
        if key in _MERGED and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class ZooConfig:
    """A zoo: models x datasets, scored with the same mapping and folds, compared in one report.

    ``layers``: candidate layers of every model whose entry names none (None: all its layers).
    ``temporal_maps``: ``{"time_varying": map, "constant": map}``, the map of a model whose
    entry gives none, by whether its output varies over time steps (:data:`DEFAULT_TEMPORAL_MAPS`).
    ``out``: the output folder (absolute). ``cache``: the activation cache folder (absolute;
    default ``<out>/activations``).
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
    cache: str | None = None

    @property
    def cache_dir(self) -> str:
        return self.cache or os.path.join(self.out, "activations")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, out: str | os.PathLike | None = None,
                  quick: bool = False) -> ZooConfig:
        """Check every field of ``d`` (a parsed YAML mapping) and expand the model entries.

        ``out`` overrides the config's output folder; ``quick`` applies the config's ``quick:``
        overrides (module docstring). Raises ``ConfigError`` naming every problem (of the config
        and of its quick version).
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"a zoo config is a mapping of settings, got {show(d)}")
        d = dict(d)
        overlay = d.pop("quick", None)
        if overlay is not None:
            if not isinstance(overlay, Mapping) or not overlay:
                raise ConfigError(f"invalid zoo config: quick={show(overlay)} (expected a mapping of settings to "
                                  "override)", [f"quick={show(overlay)}"])
            bad = unknown_keys(overlay, _KNOWN[:-1], "quick")
            if bad:
                raise ConfigError(f"invalid zoo config: {bad[0]}", bad)
            base = cls.from_dict(d, out=out)  # the config's own problems first, named as they are
            try:  # the quick version must be valid too, whichever is run
                fast = cls.from_dict(with_overlay(d, overlay), out=out)
            except ConfigError as err:
                problems = [f"quick: {p}" for p in err.problems]
                raise ConfigError("invalid zoo config: " + "; ".join(problems), problems) from None
            return fast if quick else base
        if quick:
            raise ConfigError("invalid zoo config: quick: this config has no 'quick' overrides", ["quick: none"])
        if out is not None:
            d["out"] = os.fspath(out)
        problems = unknown_keys(d, _KNOWN)
        top, bad = check_fields(_TOP_CHECKS, d)
        problems += bad
        for required in ("name", "out", "models", "datasets"):
            if required not in d:
                problems.append(f"{required}: required")
        models, bad = _entries(d, "models", model_entry, "a non-empty list of model entries")
        problems += bad
        datasets, bad = _entries(d, "datasets", _dataset, "a non-empty list of datasets")
        problems += bad
        for what, items in (("model", models), ("dataset", datasets)):
            ids = [x.id for x in items]
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                problems.append(f"{what} ids {dup} are given more than once (give each entry its own 'id')")
        labels = [m.label for m in models]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:  # figures and tables name models by label
            problems.append(f"model labels {dup} are given more than once (give each model its own 'label')")
        tmaps, bad = check_mapping(d.get("temporal_maps", {}), "temporal_maps",
                             {"time_varying": temporal_map, "constant": temporal_map})
        problems += bad
        mapping, bad = check_mapping(d.get("mapping", {}), "mapping", _MAPPING_CHECKS)
        problems += bad
        splits, bad = check_mapping(d.get("splits", {}), "splits", _SPLIT_CHECKS)
        problems += bad
        if splits.get("file") is not None:
            splits["file"] = absolute(splits["file"])
        compare, bad = check_mapping(d.get("compare", {}), "compare", _COMPARE_CHECKS)
        problems += bad
        ids = {m.id for m in models}
        pairs = list(compare.get("contrasts", ()))
        if len(set(pairs)) != len(pairs):
            problems.append("compare.contrasts: a pair is given more than once")
        for a, b in pairs:
            unknown = [x for x in (a, b) if x not in ids]
            if unknown:
                problems.append(f"compare.contrasts: [{a}, {b}] names unknown model id(s) {unknown}; ids: "
                                f"{sorted(ids)[:20]}")
            elif a == b:
                problems.append(f"compare.contrasts: [{a}, {b}] compares a model with itself")
        if problems:
            raise ConfigError("invalid zoo config: " + "; ".join(problems), problems)
        return cls(name=top["name"], models=tuple(models), datasets=tuple(datasets), out=absolute(top["out"]),
                   layers=top.get("layers"), temporal_maps={**DEFAULT_TEMPORAL_MAPS, **tmaps},
                   mapping=MappingSettings(**mapping), splits=SplitSettings(**splits),
                   compare=CompareSettings(**compare), cache=absolute(top["cache"]) if top.get("cache") else None)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, *, out: str | os.PathLike | None = None,
                  quick: bool = False) -> ZooConfig:
        """Read and check a zoo config file (:func:`brainfit._config.read_yaml_mapping`, then :meth:`from_dict`)."""
        return cls.from_dict(read_yaml_mapping(path, "zoo config"), out=out, quick=quick)

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
