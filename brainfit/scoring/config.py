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

__all__ = ["DEFAULT_N_BOOTSTRAP", "DEFAULT_N_PERMUTATIONS", "ScoringConfig"]

#: Bootstrap resamples of every CI, and sign-flip patterns of every permutation test, unless a call
#: or a config says otherwise: the one default of brainfit (scoring, comparisons, leaderboards,
#: the zoo and every command).
DEFAULT_N_BOOTSTRAP = 500
DEFAULT_N_PERMUTATIONS = 2000


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


#: Values of ``ScoringConfig.r_over``.
R_OVER = ("folds", "pooled")

#: Fields that score files written before they existed lack, with the value that describes those
#: files: ``r`` within folds, with no minimum fold size (1: every fold passes).
_LEGACY = {"r_over": "folds", "min_fold_stimuli": 1}


@dataclass(frozen=True)
class ScoringConfig:
    """Settings of ceilings, reliability, bootstrap CIs and seeding (package docstring).

    Parameters
    ----------
    n_ceiling_splits : int, default 100
        Random split halves averaged for the ceiling (>= 1).
    reliability_threshold : float, default 0.3
        Neuroid-bins with a ceiling below it are flagged unreliable and summarised separately.
    n_bootstrap : int, default :data:`DEFAULT_N_BOOTSTRAP` (500)
        Bootstrap resamples of stimuli for the CIs (0: no CIs).
    n_bootstrap_splits : int, default 10
        Split halves used to recompute the ceiling in each resample (0: the ceiling is held
        fixed in the resamples).
    ci : float, default 0.95
        Confidence level of the percentile CIs, in (0, 1).
    seed : int, default 0
        Seeds the ceiling splits and the bootstrap (and the default splits of
        :func:`~brainfit.scoring.fit_and_score`); >= 0.
    r_over : {"folds", "pooled"}, default "folds"
        Where the Pearson ``r`` between out-of-fold predictions and responses is computed.
        ``"folds"``: within each test fold (the package docstring, "Raw score": unbiased for a
        null model, needs ``min_fold_stimuli`` per fold). ``"pooled"``: once over all stimuli,
        the out-of-fold predictions of every fold pooled -- for data with too few stimuli for
        folds of ``min_fold_stimuli`` (e.g. 21 stimuli). Pooled ``r`` carries each fold's offset
        and scale, which bias it *down*, the more so the more folds: simulated ridge on pure
        noise gives a mean pooled ``r`` of -0.11, -0.16 and -0.37 with 2, 3 and 10 folds of 21
        stimuli (-0.05, -0.07, -0.16 with 192 stimuli). Use 2 or 3 folds with it, and compare
        models only under the same folds. The bootstrap recomputes the same statistic in every
        resample (pooled ``r`` over the resampled stimuli). The score attr ``r_within_folds``
        records which ``r`` a result holds.
    min_fold_stimuli : int, default 10
        Smallest test fold (in stimuli) for which ``r_over="folds"`` is computed; a smaller
        fold is a ``ValueError`` naming both remedies (fewer folds, or ``r_over="pooled"``).
        Why 10: on ``n`` points Pearson ``r`` is undefined for ``n < 2``, is always +-1 for
        ``n = 2``, and scatters with standard error ``SE ~ (1 - r**2) / sqrt(n - 1)`` (Fisher
        1915): for ``r = 0`` that is 0.71 at ``n = 3``, 0.50 at 5, 0.33 at 10 and 0.23 at 20;
        it is also biased toward 0 (simulated, true ``r = 0.6``: mean 0.50 at ``n = 3``, 0.55
        at 5, 0.58 at 10, 0.59 at 20). From 10 stimuli on, the per-fold bias is under 4% and
        averaging ~10 folds brings the spread to ~0.1; below it the per-fold noise and bias
        dominate (21 stimuli in 10 folds: mean ``r`` 0.33 against 0.60 with 3 folds). Values
        below 3 switch the check off (1 is how files written before this setting read back).

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
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP
    n_bootstrap_splits: int = 10
    ci: float = 0.95
    seed: int = 0
    r_over: str = "folds"
    min_fold_stimuli: int = 10

    def __post_init__(self) -> None:
        checked = {
            "n_ceiling_splits": _as_int("n_ceiling_splits", self.n_ceiling_splits, 1),
            "reliability_threshold": _as_float("reliability_threshold", self.reliability_threshold),
            "n_bootstrap": _as_int("n_bootstrap", self.n_bootstrap, 0),
            "n_bootstrap_splits": _as_int("n_bootstrap_splits", self.n_bootstrap_splits, 0),
            "ci": _as_float("ci", self.ci),
            "seed": _as_int("seed", self.seed, 0),
            "min_fold_stimuli": _as_int("min_fold_stimuli", self.min_fold_stimuli, 1),
        }
        if not isinstance(self.r_over, str) or self.r_over not in R_OVER:
            raise ValueError(f"ScoringConfig.r_over must be one of {list(R_OVER)}, got {self.r_over!r}")
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
        """Config stored in a score Dataset's attrs (other keys are ignored).

        Every field must be there, except those added later (``r_over``, ``min_fold_stimuli``),
        which files written before them lack: they are read as the values those files were made
        with (``r`` within folds, no minimum fold size), see the module docstring.

        Raises
        ------
        ValueError
            Naming the fields missing from ``attrs`` (not scores from brainfit).
        """
        missing = [name for name in cls.field_names() if name not in attrs and name not in _LEGACY]
        if missing:
            raise ValueError(f"attrs lack the scoring setting(s) {missing}: not a brainfit score Dataset")
        return cls(**{name: attrs[name] if name in attrs else _LEGACY[name] for name in cls.field_names()})

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
