"""The training configuration: :class:`TrainConfig`, a frozen dataclass validated field by field.

Every field is checked at construction (so also by :meth:`TrainConfig.from_dict`,
:meth:`TrainConfig.from_yaml` and :func:`dataclasses.replace`), and every problem is reported at
once in one :class:`ConfigError` (a ``ValueError``) that names each bad field, its value and what
was expected, e.g. ``invalid training config: lr='abc' (expected a number > 0); epochs=1.5
(expected an int >= 1)``. A config that constructs is one :func:`~brainfit.training.train` can run:
it is checked before anything is written.

Conversion rules (what a value of each kind may be given as):

* int fields take ints only (numpy integers included). A float is refused, even ``2.0``: a
  fractional-looking value such as ``epochs: 0.5`` usually means a misunderstanding, and the fix
  (writing ``2``) is obvious from the message.
* float fields take ints, floats (numpy scalars included) and number strings such as ``"1e-3"``,
  ``"5e-4"`` or ``"+1E5"``. PyYAML reads YAML 1.1, where ``1e-3`` (no dot) is a *string*, not a
  float; parsing such strings as numbers is the documented fix. NaN and infinity are refused.
* bool fields take real booleans only (``true``/``false`` in YAML, numpy booleans): the string
  ``"false"`` and the ints ``0``/``1`` are refused, as they would silently mean ``True``/``False``.
* str fields take str (``data``/``test_data`` also path objects, stored as str).
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["ConfigError", "TrainConfig", "read_config_file"]

#: The largest seed: ``seed * 100003 + epoch`` seeds a torch generator, and a seed in the familiar
#: 32-bit range (numpy's legacy limit) keeps that far inside torch's 64-bit range.
MAX_SEED = 2**32 - 1

# A decimal number as Python and YAML 1.2 write it (YAML 1.1 needs a dot and a signed exponent).
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class ConfigError(ValueError):
    """A training config that cannot be used: the message lists every problem, each naming its field.

    ``problems`` keeps one entry per problem for programs, e.g. ``"lr='abc' (expected a number > 0)"``.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class _Invalid(Exception):
    """Internal: a value does not fit its field; ``args[0]`` says what was expected."""


# ----------------------------------------------------------------------------- conversions


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_float(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not one (see the module docstring)."""
    if isinstance(value, str):
        text = value.strip()
        value = float(text) if _NUMBER.fullmatch(text) else None
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        value = None
    try:
        value = float(value) if value is not None else None
    except OverflowError:  # an int too large for a float
        return None
    return value if value is not None and math.isfinite(value) else None


def _int(minimum: int, maximum: int | None = None) -> Callable[[Any], int]:
    expected = f"an int >= {minimum}" if maximum is None else f"an int in [{minimum}, {maximum}]"

    def check(value: Any) -> int:
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum
                or (maximum is not None and value > maximum)):
            raise _Invalid(expected)
        return int(value)

    return check


def _float(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False,
           expected: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        x = _to_float(value)
        if (x is None or x < low or (low_open and x == low)
                or (high is not None and (x > high or (high_open and x == high)))):
            raise _Invalid(expected)
        return x

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _Invalid("a boolean true/false, not a string or number")
    return bool(value)


def _str(*, path: bool = False) -> Callable[[Any], str]:
    expected = "a non-empty str" + (" (path or spec)" if path else "")

    def check(value: Any) -> str:
        if path and isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip():
            raise _Invalid(expected)
        return value

    return check


def _choice(*options: str) -> Callable[[Any], str]:
    expected = "one of " + ", ".join(repr(o) for o in options)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Invalid(expected)
        return value

    return check


def _optional(check: Callable[[Any], Any], suffix: str = " or null") -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except _Invalid as err:
            raise _Invalid(err.args[0] + suffix) from None

    return optional


def _model_kwargs(value: Any) -> dict[str, Any]:
    expected = "a mapping of str keys to plain YAML values: numbers, str, bool, null, lists, mappings"
    if value is None:  # an empty ``model_kwargs:`` in YAML
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _Invalid(expected)
    value = dict(value)
    try:  # saved with the config (config.yaml, checkpoints): refuse what cannot be written
        yaml.safe_dump(value)
    except yaml.YAMLError:
        raise _Invalid(expected) from None
    return value


def _device(value: Any) -> str:
    import torch

    expected = "'cpu', 'cuda', 'cuda:N' or 'auto'"
    if not isinstance(value, str):
        raise _Invalid(expected)
    requested = value.strip().lower()
    if requested != "auto":
        try:  # the spelling only: whether CUDA is there is checked when training starts
            torch.device(requested)
        except (RuntimeError, ValueError):
            raise _Invalid(expected) from None
    return value


def _rgb(*, positive: bool) -> Callable[[Any], tuple[float, float, float] | None]:
    expected = f"3 finite numbers{' > 0' if positive else ''} (R, G, B) or null"

    def check(value: Any) -> tuple[float, float, float] | None:
        if value is None:
            return None
        if isinstance(value, np.ndarray):
            value = value.tolist() if value.ndim == 1 else None
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
            raise _Invalid(expected)
        numbers = [_to_float(v) for v in value]
        if any(x is None or (positive and x <= 0) for x in numbers):
            raise _Invalid(expected)
        return tuple(numbers)  # type: ignore[return-value]

    return check


#: One converter per field: returns the normalised value or raises ``_Invalid(expected)``.
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "model": _str(),
    "data": _str(path=True),
    "model_kwargs": _model_kwargs,
    "test_data": _optional(_str(path=True)),
    "image_size": _optional(_int(1)),
    "epochs": _int(1),
    "batch_size": _int(1),
    "optimizer": _choice("adamw", "sgd"),
    "lr": _float(0.0, low_open=True, expected="a number > 0"),
    "weight_decay": _float(0.0, expected="a number >= 0"),
    "momentum": _float(0.0, 1.0, high_open=True, expected="a number in [0, 1)"),
    "warmup_epochs": _float(0.0, expected="a number >= 0"),
    "min_lr_fraction": _float(0.0, 1.0, expected="a number in [0, 1]"),
    "grad_clip": _optional(_float(0.0, expected="a number > 0, or 0/null for no clipping"), suffix=""),
    "n_steps": _optional(_int(1)),
    "on_steps": _optional(_int(1)),
    "loss_steps": _choice("last", "all"),
    "step_weighting": _choice("uniform", "linear"),
    "augment": _bool,
    "val_fraction": _float(0.0, 1.0, high_open=True, expected="a number in [0, 1)"),
    "max_train_images": _optional(_int(1)),
    "early_stop_patience": _optional(_int(1)),
    "checkpoint_every": _int(0),
    "amp": _bool,
    "compile": _bool,
    "device": _device,
    "mean": _rgb(positive=False),
    "std": _rgb(positive=True),
    "seed": _int(0, MAX_SEED),
}


def _check(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Normalised values and one problem string per bad field (only the fields in ``values``)."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, check in _CHECKS.items():
        if name not in values:
            continue
        try:
            out[name] = check(values[name])
        except _Invalid as err:
            problems.append(f"{name}={_show(values[name])} (expected {err.args[0]})")
    # settings that are valid alone but not together
    if out.get("n_steps") is not None and out.get("on_steps") is not None and out["on_steps"] > out["n_steps"]:
        problems.append(f"on_steps={out['on_steps']} (expected <= n_steps={out['n_steps']})")
    if out.get("optimizer") == "sgd" and out.get("momentum") == 0.0:
        problems.append("momentum=0.0 (expected > 0 with optimizer='sgd', which uses Nesterov momentum)")
    return out, problems


def _message(problems: Sequence[str], source: str | None) -> str:
    where = f" ({source})" if source else ""
    return f"invalid training config{where}: " + "; ".join(problems)


# ----------------------------------------------------------------------------- YAML files


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # unhashable key: the base class reports it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found the key {key!r} twice (first on line {first + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a YAML config file, unvalidated (an empty file gives ``{}``).

    Raises
    ------
    FileNotFoundError
        Naming ``path`` when there is no such file.
    ConfigError
        When the file cannot be read or parsed (naming the file, and the line and column of a
        YAML syntax error), holds a key twice, or does not hold a mapping.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"training config not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"cannot read training config {path}: not UTF-8 text (byte {err.start})") from err
    except OSError as err:
        raise ConfigError(f"cannot read training config {path}: {err.strerror or err}") from err
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"cannot parse training config {path}{where}: {problem}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"training config {path} must be a mapping of field: value, got a "
                          f"{type(data).__name__} ({_show(data)})")
    return data


# ----------------------------------------------------------------------------- the config


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved next to every output and in checkpoints).

    Validated at construction (module docstring: ints from ints only, floats also from number
    strings such as ``"1e-3"``, booleans from booleans only, NaN/inf refused).

    Parameters
    ----------
    model : str
        Registry name (``brainfit models list``), non-empty.
    data : str
        A folder of class subfolders, a zip of class folders (e.g. the CIFAR-10 JPEG zip, read
        with ``split="train"``), or ``synthetic[:category|:object_name]``. Path objects are
        stored as str.
    model_kwargs : dict
        Keyword arguments for ``create_model`` (str keys, plain YAML values; null means ``{}``).
    test_data : str, optional
        Evaluated once at the end (``split="test"`` of the same spec when ``"same"``).
    image_size : int >= 1, optional
        Resize images on load (antialiased).
    epochs, batch_size : int >= 1
    optimizer : {"adamw", "sgd"}
    lr : float > 0
    weight_decay : float >= 0
    momentum : float in [0, 1)
        SGD only (Nesterov, so > 0 with ``optimizer="sgd"``).
    warmup_epochs : float >= 0
        Linear warm-up, then cosine decay to ``min_lr_fraction * lr`` (per iteration).
    min_lr_fraction : float in [0, 1]
    grad_clip : float >= 0 or None
        Clip the global gradient norm to this value (0 or None: no clipping).
    n_steps, on_steps : int >= 1, optional
        Unroll length and stimulus duration in training (default: the model's own ``n_steps``;
        image shown on every step); ``on_steps <= n_steps`` when both are given. Fewer steps in
        training than at evaluation is fine.
    loss_steps : {"last", "all"}
        Loss on the last step, or on every step at which the readout exists.
    step_weighting : {"uniform", "linear"}
        With ``loss_steps="all"``: equal weights, or weights growing linearly with the step.
    augment : bool
        Random crop (padding 4) and horizontal flip.
    val_fraction : float in [0, 1)
        Held-out stratified fraction of the training data for validation.
    max_train_images : int >= 1, optional
        Use a deterministic subset (quick runs, tests).
    early_stop_patience : int >= 1, optional
        Stop when validation accuracy has not improved for this many epochs.
    checkpoint_every : int >= 0
        Also write ``last.pt`` every this many iterations (0: only at epoch ends).
    amp : bool
        Mixed precision (CUDA only; ignored with a warning on CPU).
    compile : bool
        ``torch.compile`` the model for training.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (:func:`brainfit.device.resolve_device`;
        whether CUDA is there is checked when training starts).
    mean, std : 3 finite floats, optional
        Input normalisation per RGB channel, ``std > 0`` (default: the model's
        ``norm_mean``/``norm_std``).
    seed : int in [0, 2**32 - 1]

    Raises
    ------
    ConfigError
        A ``ValueError`` listing every bad field with its value and the expected type/range.
    """

    model: str
    data: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    test_data: str | None = None
    image_size: int | None = None
    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup_epochs: float = 1.0
    min_lr_fraction: float = 0.01
    grad_clip: float | None = 1.0
    n_steps: int | None = None
    on_steps: int | None = None
    loss_steps: str = "last"
    step_weighting: str = "uniform"
    augment: bool = True
    val_fraction: float = 0.1
    max_train_images: int | None = None
    early_stop_patience: int | None = None
    checkpoint_every: int = 0
    amp: bool = False
    compile: bool = False
    device: str = "cpu"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        values, problems = _check({f.name: getattr(self, f.name) for f in fields(self)})
        if problems:
            raise ConfigError(_message(problems, None), problems)
        for name, value in values.items():  # numpy scalars -> Python numbers, lists -> tuples
            object.__setattr__(self, name, value)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the fields, in order."""
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """``{field: value}`` with plain YAML/JSON values (``mean``/``std`` as lists)."""
        d = asdict(self)
        d["mean"] = list(self.mean) if self.mean is not None else None
        d["std"] = list(self.std) if self.std is not None else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str | None = None) -> TrainConfig:
        """Config from ``{field: value}``; absent fields take their defaults.

        Parameters
        ----------
        d : mapping
            Must hold ``model`` and ``data``.
        source : str, optional
            Where ``d`` came from (a file name), quoted in the error message.

        Raises
        ------
        ConfigError
            Listing at once the unknown keys (with the known field names), the missing required
            fields and every invalid value.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"{_message([], source)}expected a mapping of field: value, got {type(d).__name__}")
        names = cls.field_names()
        problems, values = [], {}
        for f in fields(cls):
            if f.name in d:
                values[f.name] = d[f.name]
            elif f.default is not MISSING:
                values[f.name] = f.default
            elif f.default_factory is not MISSING:
                values[f.name] = f.default_factory()
            else:
                problems.append(f"{f.name} is missing (required)")
        problems += _check(values)[1]
        unknown = [k for k in d if k not in names]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(str(k), names, n=1)
                hints.append(_show(k) + (f" (did you mean {close[0]!r}?)" if close else ""))
            problems.append(f"unknown field(s) {', '.join(hints)}; known fields: {', '.join(names)}")
        if problems:
            raise ConfigError(_message(problems, source), problems)
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> TrainConfig:
        """Config from a YAML file of ``field: value`` lines (see :meth:`from_dict`).

        Raises
        ------
        FileNotFoundError
            Naming ``path``.
        ConfigError
            For a file that cannot be parsed (with the line and column), that is not a mapping,
            or whose values are invalid (see :func:`read_config_file` and :meth:`from_dict`).
        """
        return cls.from_dict(read_config_file(path), source=str(path))
