"""Helpers shared by the command modules: ``KEY=VALUE`` overrides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["parse_overrides"]


def parse_overrides(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"error: expected KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out
