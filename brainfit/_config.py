"""Typed config fields, shared by every config of brainfit (training, demo, ...).

A config is validated field by field with one converter per field: a converter returns the
normalised value or raises :class:`Invalid` saying what was expected, and :func:`check_fields`
collects one problem per bad field so that a :class:`ConfigError` can name them all at once,
e.g. ``lr='abc' (expected a number > 0); epochs=1.5 (expected an int >= 1)``.

Conversion rules (what a value of each kind may be given as):

* int fields take ints only (numpy integers included). A float is refused, even ``2.0``: a
  fractional-looking value such as ``epochs: 0.5`` usually means a misunderstanding, and the fix
  (writing ``2``) is obvious from the message.
* float fields take ints, floats (numpy scalars included) and number strings such as ``"1e-3"``,
  ``"5e-4"`` or ``"+1E5"``. PyYAML reads YAML 1.1, where ``1e-3`` (no dot) is a *string*, not a
  float; parsing such strings as numbers is the documented fix. NaN and infinity are refused.
* bool fields take real booleans only (``true``/``false`` in YAML, numpy booleans): the string
  ``"false"`` and the ints ``0``/``1`` are refused, as they would silently mean ``True``/``False``.
* str fields take str (path fields also path objects, stored as str).

:func:`read_yaml_mapping` reads a config file: a named error with the line and column of a YAML
syntax error, and a key given twice is refused (PyYAML would keep the last silently).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = [
    "ConfigError",
    "Invalid",
    "bool_field",
    "check_fields",
    "check_mapping",
    "choice",
    "float_field",
    "int_field",
    "optional",
    "read_yaml_mapping",
    "show",
    "str_field",
    "to_float",
    "unknown_keys",
]

# A decimal number as Python and YAML 1.2 write it (YAML 1.1 needs a dot and a signed exponent).
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class ConfigError(ValueError):
    """A config that cannot be used: the message lists every problem, each naming its field.

    ``problems`` keeps one entry per problem for programs, e.g. ``"lr='abc' (expected a number > 0)"``.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class Invalid(Exception):
    """A value does not fit its field; ``args[0]`` says what was expected (raised by converters)."""


def show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_float(value: Any) -> float | None:
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


def int_field(minimum: int, maximum: int | None = None) -> Callable[[Any], int]:
    expected = f"an int >= {minimum}" if maximum is None else f"an int in [{minimum}, {maximum}]"

    def check(value: Any) -> int:
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum
                or (maximum is not None and value > maximum)):
            raise Invalid(expected)
        return int(value)

    return check


def float_field(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False,
           expected: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        x = to_float(value)
        if (x is None or x < low or (low_open and x == low)
                or (high is not None and (x > high or (high_open and x == high)))):
            raise Invalid(expected)
        return x

    return check


def bool_field(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise Invalid("a boolean true/false, not a string or number")
    return bool(value)


def str_field(*, path: bool = False) -> Callable[[Any], str]:
    expected = "a non-empty str" + (" (path or spec)" if path else "")

    def check(value: Any) -> str:
        if path and isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip():
            raise Invalid(expected)
        return value

    return check


def choice(*options: str) -> Callable[[Any], str]:
    expected = "one of " + ", ".join(repr(o) for o in options)

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise Invalid(expected)
        return value

    return check


def optional(check: Callable[[Any], Any], suffix: str = " or null") -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except Invalid as err:
            raise Invalid(err.args[0] + suffix) from None

    return optional


def check_fields(checks: Mapping[str, Callable[[Any], Any]], values: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                                                  list[str]]:
    """Normalised values and one problem string per bad field (only the fields of ``checks`` in ``values``).

    A problem reads ``name=<value> (expected <what the converter said>)``.
    """
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, check in checks.items():
        if name not in values:
            continue
        try:
            out[name] = check(values[name])
        except Invalid as err:
            problems.append(f"{name}={show(values[name])} (expected {err.args[0]})")
    return out, problems


def unknown_keys(d: Mapping[str, Any], known: Sequence[str], what: str = "") -> list[str]:
    """One problem naming the keys of ``d`` that are not in ``known`` (with the closest known name
    for each where there is one), or none: ``"mapping: unknown setting(s) ['n_foldz'] (did you
    mean 'n_folds'?); known: [...]"``. The one wording of an unknown key in every config."""
    import difflib

    unknown = [k for k in d if k not in known]
    if not unknown:
        return []
    names = [str(k) for k in known]
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(str(k), names, n=1)
        if close:
            hints.append(f"{close[0]!r}" + (f" for {k!r}" if len(unknown) > 1 else ""))
    return [(f"{what}: " if what else "") + f"unknown setting(s) {sorted(map(str, unknown))}"
            + (f" (did you mean {', '.join(hints)}?)" if hints else "") + f"; known: {names}"]


def check_mapping(d: Any, what: str, checks: Mapping[str, Callable[[Any], Any]]) -> tuple[dict[str, Any], list[str]]:
    """Check the settings mapping ``d`` (one part of a config, named ``what`` in messages; ``""`` for
    the top level) against ``checks``: ``(values, problems)``, unknown keys refused
    (:func:`unknown_keys`) and every bad field named ``what.field=value (expected ...)``. The one
    validation step of every brainfit config (zoo, training, analyses)."""
    if not isinstance(d, Mapping):
        return {}, [f"{what or 'config'}={show(d)} (expected a mapping of settings)"]
    values, bad = check_fields(checks, d)
    return values, unknown_keys(d, list(checks), what) + [f"{what}.{p}" if what else p for p in bad]


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


def read_yaml_mapping(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """The mapping in a YAML config file, unvalidated (an empty file gives ``{}``).

    ``what`` names the kind of file in messages, e.g. ``"training config"``.

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
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"cannot read {what} {path}: not UTF-8 text (byte {err.start})") from err
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror or err}") from err
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"cannot parse {what} {path}{where}: {problem}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping of field: value, got a "
                          f"{type(data).__name__} ({show(data)})")
    return data
