"""The ``models:`` entries of a zoo config, expanded into one :class:`ModelSpec` per model (the kinds of
entry are described in :mod:`brainfit.zoo.config`)."""

from __future__ import annotations

import dataclasses
import glob
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainfit._config import Invalid, check_mapping, choice, int_field, optional, show, str_field
from brainfit._io import stable_hash
from brainfit.zoo.fields import (
    MAX_ID,
    absolute,
    check_id,
    mapping,
    names,
    safe_name,
    temporal_map,
)

__all__ = ["ModelSpec", "model_entry"]


@dataclass(frozen=True)
class ModelSpec:
    """One model of the zoo, after expansion.

    ``model``: registry name (None for a module factory); ``weights``: ``"pretrained"``,
    ``"random"`` (drawn from ``seed``) or a checkpoint path; ``module``: ``"package.module:factory"``
    called with ``kwargs``; ``layers``: candidate layers (None: the zoo's, else every layer);
    ``temporal_map``: None takes the zoo's default for the model's kind; ``origin``: which
    ``models:`` entry it came from. ``control``: ``"static"`` (the model's own best single step
    copied to every bin, chosen on training folds: its features without its dynamics) or
    ``"time_shuffled"`` (its steps permuted per stimulus before its time-varying map: the same
    values, their order destroyed) -- controls that separate dynamics from features.
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
    control: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"] = list(self.layers) if self.layers else None
        return d


#: Controls a model entry can ask for (:class:`ModelSpec`, ``control``).
CONTROLS = ("static", "time_shuffled")

_COMMON = {"id": check_id, "label": str_field(), "layers": optional(names), "temporal_map": optional(temporal_map),
           "n_steps": optional(int_field(1)), "on_steps": optional(int_field(1)),
           "control": optional(choice(*CONTROLS))}
_KINDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "registry": {"model": str_field(), "weights": str_field(path=True), "seed": int_field(0), "kwargs": mapping},
    "sweep": {"model": str_field(), "grid": mapping, "sample": mapping, "weights": str_field(path=True),
              "seed": int_field(0), "kwargs": mapping},
    "checkpoints": {"checkpoints": str_field(path=True), "model": str_field()},
    "module": {"module": str_field(), "kwargs": mapping},
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
    return safe_name(str(v)) or stable_hash(v, 6)


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
        s, problems = check_mapping(sample, f"{where}.sample", {"n": int_field(1), "seed": int_field(0)})
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
        rel = Path(os.path.relpath(p, absolute(str(fixed))))
        ids.append(safe_name("_".join(rel.with_suffix("").parts)).lstrip("_.-") or "ckpt")
    return ids


def model_entry(d: Any, where: str) -> tuple[list[ModelSpec], list[str]]:
    """One ``models:`` entry (``where`` names it in messages) -> ``(specs, problems)``: the models it
    expands to, or every problem with it (then no model)."""
    if isinstance(d, str):
        d = {"model": d}
    if not isinstance(d, dict):
        return [], [f"{where}={show(d)} (expected a mapping such as {{model: convrnn_small_rgc}})"]
    kind = _kind(d)
    values, problems = check_mapping(d, where, {**_COMMON, **_KINDS[kind]})
    if kind in ("registry", "sweep") and "model" not in d:
        problems.append(f"{where}: 'model' (a registry name; `brainfit models list`) is required")
    if kind == "module":
        if "id" not in d:
            problems.append(f"{where}: a module entry needs an 'id'")
        if isinstance(d.get("module"), str) and not re.fullmatch(r"[\w.]+:[\w.]+", d["module"]):
            problems.append(f"{where}.module={show(d['module'])} (expected 'package.module:factory')")
    if values.get("n_steps") is not None and values.get("on_steps") is not None \
            and values["on_steps"] > values["n_steps"]:
        problems.append(f"{where}: on_steps={values['on_steps']} must be <= n_steps={values['n_steps']}")
    if problems:
        return [], problems
    if values.get("control") == "static" and values.get("temporal_map") is not None:
        problems.append(f"{where}: control 'static' sets the temporal map (a constant map of the best step); "
                        "give no temporal_map")
        return [], problems
    common = {k: values[k] for k in ("layers", "temporal_map", "n_steps", "on_steps", "control")
              if values.get(k) is not None}
    if kind == "module":
        return [ModelSpec(id=values["id"], label=values.get("label", values["id"]), module=values["module"],
                          weights="module", kwargs=values.get("kwargs", {}), origin=where, **common)], []
    if kind == "checkpoints":
        pattern = absolute(values["checkpoints"])
        paths = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not paths:
            return [], [f"{where}.checkpoints={show(values['checkpoints'])} matches no file"]
        prefix = values.get("id")
        out = []
        for path, ident in zip(paths, _checkpoint_ids(paths, values["checkpoints"])):
            ident = f"{prefix}_{ident}" if prefix else ident
            label = f"{values['label']} ({ident})" if "label" in values else ident
            out.append(ModelSpec(id=ident[:MAX_ID], label=label, model=values.get("model"), weights=path,
                                 origin=where, **common))
        return out, []
    weights = values.get("weights", "random" if kind == "sweep" else "pretrained")
    if weights not in ("pretrained", "random"):
        weights = absolute(weights)
    seed = values.get("seed", 0)
    if kind == "registry":
        ident = values.get("id") or (values["model"] if weights == "pretrained" else
                                     f"{values['model']}_random{seed}" if weights == "random" else
                                     f"{values['model']}_{Path(weights).stem}")
        try:
            check_id(ident)
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
        if len(ident) > MAX_ID:
            ident = f"{prefix[:MAX_ID - 17]}_{stable_hash(point, 16)}"
        label = values.get("label", prefix) + " (" + ", ".join(f"{k}={_token(v)}" for k, v in point.items()) + ")"
        out.append(ModelSpec(id=ident, label=label, model=values["model"], weights=weights, seed=seed,
                             kwargs={**fixed, **point}, origin=where, **common))
    return out, []
