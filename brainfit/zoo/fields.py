"""Field converters shared by the zoo config's parts (:mod:`brainfit._config` conventions: a converter
returns the normalised value or raises :class:`~brainfit._config.Invalid` saying what was expected)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from brainfit._config import Invalid
from brainfit.temporal import TemporalMap

__all__ = ["MAX_ID", "absolute", "check_id", "decades", "mapping", "names", "safe_name", "temporal_map"]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]*")
MAX_ID = 100


def check_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value) or len(value) > MAX_ID:
        raise Invalid(f"a name of letters, digits and _.+=- (at most {MAX_ID} characters; it names files)")
    return value


def safe_name(text: str) -> str:
    """``text`` with every character a file name should not hold replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", text)


def names(value: Any) -> tuple[str, ...]:
    if (isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value)
            and len(set(value)) == len(value)):
        return tuple(value)
    raise Invalid("a non-empty list of distinct names")


def mapping(value: Any) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise Invalid("a mapping of settings")
    return dict(value)


def temporal_map(value: Any) -> dict:
    try:
        return TemporalMap.from_dict(dict(value) if isinstance(value, dict) else value).to_dict()
    except (TypeError, ValueError) as err:
        raise Invalid(f"a temporal map such as {{kind: one_to_one, latency_ms: 0}} ({err})") from None


def decades(value: Any) -> tuple[int, int]:
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in value) and value[0] < value[1]):
        return (int(value[0]), int(value[1]))
    raise Invalid("two integers [lo, hi] with lo < hi, e.g. [-2, 10]")


def absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))
