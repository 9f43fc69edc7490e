"""The scoring settings shared by :func:`~brainfit.scoring.fit_and_score` and
:func:`~brainfit.scoring.score_predictions`, as one frozen, validated dataclass.

The settings are saved with every result: each field is a flat attr of the score Dataset (the
keys score files have always had), so :meth:`ScoringConfig.from_attrs` recovers the config from
a result or a file read back with :func:`~brainfit.scoring.load_scores`. A given ceiling is data,
not a setting, and stays an argument of the scoring functions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ScoringConfig"]


def _as_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"ScoringConfig.{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"ScoringConfig.{name} must be >= {minimum}, got {value}")
    return int(value)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"ScoringConfig.{name} must be a number, got {value!r} ({type(value).__name__})")
    if math.isnan(value):
        raise ValueError(f"ScoringConfig.{name} must not be NaN")
    return float(value)


@dataclass(frozen=True)
class ScoringConfig:
    """Settings of ceilings, reliability, bootstrap CIs and seeding (package docstring).

    Parameters
    ----------
    n_ceiling_splits : int, default 100
        Random split halves averaged for the ceiling (>= 1).
    reliability_threshold : float, default 0.3
        Neuroid-bins with a ceiling below it are flagged unreliable and summarised separately.
    n_bootstrap : int, default 1000
        Bootstrap resamples of stimuli for the CIs (0: no CIs).
    n_bootstrap_splits : int, default 10
        Split halves used to recompute the ceiling in each resample (0: the ceiling is held
        fixed in the resamples).
    ci : float, default 0.95
        Confidence level of the percentile CIs, in (0, 1).
    seed : int, default 0
        Seeds the ceiling splits and the bootstrap (and the default splits of
        :func:`~brainfit.scoring.fit_and_score`); >= 0.

    Raises
    ------
    TypeError, ValueError
        Naming the field, for a value of the wrong type or out of range.

    Examples
    --------
    >>> cfg = ScoringConfig(n_bootstrap=200, seed=3)
    >>> ScoringConfig.from_attrs({**cfg.to_dict(), "mapping": "RidgeMapping"}) == cfg
    True
    """

    n_ceiling_splits: int = 100
    reliability_threshold: float = 0.3
    n_bootstrap: int = 1000
    n_bootstrap_splits: int = 10
    ci: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        checked = {
            "n_ceiling_splits": _as_int("n_ceiling_splits", self.n_ceiling_splits, 1),
            "reliability_threshold": _as_float("reliability_threshold", self.reliability_threshold),
            "n_bootstrap": _as_int("n_bootstrap", self.n_bootstrap, 0),
            "n_bootstrap_splits": _as_int("n_bootstrap_splits", self.n_bootstrap_splits, 0),
            "ci": _as_float("ci", self.ci),
            "seed": _as_int("seed", self.seed, 0),
        }
        if not 0.0 < checked["ci"] < 1.0:
            raise ValueError(f"ScoringConfig.ci must be in (0, 1), got {self.ci}")
        # normalise numpy scalars to Python numbers (they are written to attrs)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the settings, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """``{field: value}`` (JSON-serialisable; the flat attrs of a score Dataset)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoringConfig:
        """Config from ``{field: value}``; missing fields take their defaults.

        Raises
        ------
        TypeError
            Naming keys that are not fields.
        """
        unknown = sorted(set(d) - set(cls.field_names()))
        if unknown:
            raise TypeError(f"unknown scoring setting(s) {unknown}; ScoringConfig fields: {list(cls.field_names())}")
        return cls(**dict(d))

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> ScoringConfig:
        """Config stored in a score Dataset's attrs (every field must be there; other keys are ignored).

        Raises
        ------
        ValueError
            Naming the fields missing from ``attrs`` (not scores from brainfit).
        """
        missing = [name for name in cls.field_names() if name not in attrs]
        if missing:
            raise ValueError(f"attrs lack the scoring setting(s) {missing}: not a brainfit score Dataset")
        return cls(**{name: attrs[name] for name in cls.field_names()})

    @classmethod
    def resolve(cls, config: ScoringConfig | None = None, **settings: Any) -> ScoringConfig:
        """``config`` (default: the defaults) with the given fields replaced.

        Raises
        ------
        TypeError
            When ``config`` is not a ScoringConfig, or naming settings that are not fields.
        """
        if config is None:
            config = cls()
        elif not isinstance(config, ScoringConfig):
            raise TypeError(f"config must be a ScoringConfig, got {type(config).__name__}")
        unknown = sorted(set(settings) - set(cls.field_names()))
        if unknown:
            raise TypeError(f"unknown scoring setting(s) {unknown}; ScoringConfig fields: {list(cls.field_names())}")
        return dataclasses.replace(config, **settings) if settings else config
