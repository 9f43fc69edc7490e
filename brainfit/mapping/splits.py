"""Cross-validation folds over stimuli: explicit, seeded, stratified, saved by ``stimulus_id``.

Every model in a comparison must be scored on the *same* folds, so the folds are an object, not a
side effect of a random state: :class:`Splits` assigns each ``stimulus_id`` to one fold and is
saved to / loaded from JSON keyed by stimulus id (never by position). Applying a :class:`Splits` to
an assembly whose stimuli differ from the splits' stimuli is an error that names the difference.

Assignment (:meth:`Splits.kfold`) is scikit-learn's, applied to the ids *sorted*, so the result
depends only on the set of ids (and labels), the number of folds and the seed -- never on the
order the ids come in:

* with strata (e.g. ``category``): ``StratifiedKFold(n_folds, shuffle=True, random_state=seed)``.
  It deals the stimuli, grouped by stratum, round robin over folds, so fold sizes differ by at
  most one and every stratum's count per fold differs by at most one (``floor`` or ``ceil`` of
  its size / ``n_folds``); which members of a stratum go to which fold is shuffled by the seed.
  A stratum with fewer members than folds is thereby spread one member per fold over as many
  folds as it has members. scikit-learn warns about such a stratum ("The least populated class
  in y has only ..."); that case is handled as just described and intended (small categories,
  inner folds of a small training set), so that one warning is silenced.
* when *no* stratum has ``n_folds`` members, ``StratifiedKFold`` refuses; the assignment then
  falls back to ``KFold`` (logged): no fold can hold the same share of every stratum anyway.
* without strata: ``KFold(n_folds, shuffle=True, random_state=seed)`` (fold sizes differ by at
  most one).

:meth:`Splits.inner` builds nested folds the same way on an outer fold's training stimuli.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from sklearn.model_selection import KFold, StratifiedKFold

from brainfit._io import atomic_write_json, stable_hash
from brainfit.assembly import PRESENTATION, STIMULUS_ID, short_list

__all__ = ["Splits", "make_splits"]

log = logging.getLogger(__name__)

_FORMAT = "brainfit.splits"
_VERSION = 1


def _is_int(v: Any) -> bool:
    """An integer that JSON could have written (not a bool, not a float or string)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _derive_seed(seed: int, *keys: int) -> int:
    """A child seed for nested folds, independent of the parent's stream."""
    return int(np.random.SeedSequence([int(seed), *[int(k) for k in keys]]).generate_state(1)[0])


def _assign_folds(n: int, labels: np.ndarray | None, n_folds: int, seed: int) -> np.ndarray:
    """Fold index (n,) of each of ``n`` sorted ids, from scikit-learn's (stratified) K-fold.

    ``labels`` (n,) of str or None. See the module docstring for the guarantees and the fallback.
    """
    rows = np.zeros((n, 1))  # the splitters only use the number of rows
    if labels is not None:
        counts = np.unique(labels, return_counts=True)[1]
        if counts.max() >= n_folds:
            splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            with warnings.catch_warnings():
                # strata smaller than n_folds are intended: one member per fold (module docstring)
                warnings.filterwarnings("ignore", message="The least populated class in y has only",
                                        category=UserWarning)
                tests = [te for _, te in splitter.split(rows, labels)]
        else:
            log.info("splits: no stratum has %d members (largest: %d), so folds are not stratified",
                     n_folds, counts.max())
            labels = None
    if labels is None:
        tests = [te for _, te in KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows)]
    fold = np.empty(n, dtype=int)
    for k, te in enumerate(tests):
        fold[te] = k
    return fold


class Splits:
    """K folds over stimuli.

    Build with :meth:`kfold` / :func:`make_splits`; reuse with :meth:`save` / :meth:`load`.

    Parameters
    ----------
    fold_of : mapping of stimulus_id -> fold index (0..n_folds-1)
    n_folds : int
    seed : int
        Seed used to build the folds (recorded for provenance).
    stratify : str or None
        Name of the stratifying coord (e.g. ``"category"``), recorded for provenance.
    strata : mapping of stimulus_id -> str, optional
        Stratum of each stimulus (used again by :meth:`inner`).
    """

    def __init__(self, fold_of: dict[str, int], n_folds: int, *, seed: int = 0, stratify: str | None = None,
                 strata: dict[str, str] | None = None):
        ids = np.array(sorted(fold_of), dtype=object)
        folds = np.array([int(fold_of[s]) for s in ids], dtype=int)
        if n_folds < 2:
            raise ValueError(f"n_folds must be >= 2, got {n_folds}")
        if len(ids) and (folds.min() < 0 or folds.max() >= n_folds):
            raise ValueError(f"fold indices must lie in 0..{n_folds - 1}")
        empty = sorted(set(range(n_folds)) - set(folds.tolist()))
        if empty:
            raise ValueError(f"splits have empty fold(s) {empty}: {len(ids)} stimuli for {n_folds} folds")
        if strata is not None and set(strata) != set(fold_of):
            raise ValueError("strata must give one label for every stimulus_id of the splits")
        self._ids = ids.astype(str)
        self._folds = folds
        self.n_folds = int(n_folds)
        self.seed = int(seed)
        self.stratify = stratify
        self._strata = None if strata is None else {str(k): str(v) for k, v in strata.items()}

    # ------------------------------------------------------------------ construction
    @classmethod
    def kfold(cls, stimulus_ids: Sequence[str], *, n_folds: int = 10, seed: int = 0,
              strata: Sequence[Any] | None = None, stratify: str | None = None) -> Splits:
        """Seeded (stratified) K-fold assignment of unique stimulus ids (scikit-learn's, see the
        module docstring): independent of the order of ``stimulus_ids``, fold sizes within one.

        Parameters
        ----------
        stimulus_ids : sequence of str (unique)
        n_folds : int
            Default 10 (docs/design.md).
        seed : int
        strata : sequence, optional
            Label per stimulus (same order as ``stimulus_ids``) to stratify by.
        stratify : str, optional
            Name of the labels (provenance only).

        Raises
        ------
        ValueError
            Duplicate ids, ``n_folds`` outside ``2..n_stimuli``, or one label per id not given.
        """
        ids = np.asarray(stimulus_ids).astype(str)
        if len(set(ids.tolist())) != len(ids):
            dup = [s for s in dict.fromkeys(ids.tolist()) if (ids == s).sum() > 1]
            raise ValueError(f"stimulus ids for splits must be unique; duplicates: {short_list(dup)}")
        if not 2 <= n_folds <= len(ids):
            raise ValueError(f"n_folds must be between 2 and the number of stimuli ({len(ids)}), got {n_folds}")
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        labels = None
        if strata is not None:
            strata = np.asarray(strata, dtype=object).ravel()
            if len(strata) != len(ids):
                raise ValueError(f"strata has {len(strata)} labels for {len(ids)} stimuli")
            labels = strata[order].astype(str)
        fold = _assign_folds(len(ids), labels, n_folds, seed)
        strata_map = None if strata is None else dict(zip(ids.tolist(), labels.tolist()))
        return cls(dict(zip(ids.tolist(), fold.tolist())), n_folds, seed=seed, stratify=stratify, strata=strata_map)

    # ------------------------------------------------------------------ access
    @property
    def stimulus_ids(self) -> np.ndarray:
        """All stimulus ids, sorted."""
        return self._ids.copy()

    @property
    def folds(self) -> np.ndarray:
        """Fold index of each id in :attr:`stimulus_ids` order."""
        return self._folds.copy()

    def __len__(self) -> int:
        return self.n_folds

    def __repr__(self) -> str:
        strat = f", stratify={self.stratify!r}" if self.stratify else ""
        return f"Splits({len(self._ids)} stimuli, n_folds={self.n_folds}, seed={self.seed}{strat})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Splits) and self.n_folds == other.n_folds
                and np.array_equal(self._ids, other._ids) and np.array_equal(self._folds, other._folds))

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @property
    def fingerprint(self) -> str:
        """Short content hash of the assignment (recorded in score attrs)."""
        return stable_hash({"ids": self._ids.tolist(), "folds": self._folds.tolist(), "k": self.n_folds})

    def test_ids(self, fold: int) -> np.ndarray:
        """Stimulus ids in test fold ``fold`` (sorted)."""
        self._check_fold(fold)
        return self._ids[self._folds == fold]

    def train_ids(self, fold: int) -> np.ndarray:
        """Stimulus ids used for training when ``fold`` is the test fold (sorted)."""
        self._check_fold(fold)
        return self._ids[self._folds != fold]

    def _check_fold(self, fold: int) -> None:
        if not 0 <= fold < self.n_folds:
            raise ValueError(f"fold must be in 0..{self.n_folds - 1}, got {fold}")

    def check_stimuli(self, stimulus_ids: Sequence[str], *, name: str = "assembly") -> np.ndarray:
        """Raise unless ``stimulus_ids`` are exactly the splits' stimuli (each once).

        Returns
        -------
        ndarray (n,) fold index of each given id, in the given order.
        """
        ids = np.asarray(stimulus_ids).astype(str)
        if len(set(ids.tolist())) != len(ids):
            dup = [s for s in dict.fromkeys(ids.tolist()) if (ids == s).sum() > 1]
            raise ValueError(f"{name} has duplicate stimulus_id(s) {short_list(dup)}; "
                             "average repetitions before applying splits")
        index = dict(zip(self._ids.tolist(), range(len(self._ids))))
        missing_in_splits = [s for s in ids.tolist() if s not in index]
        given = set(ids.tolist())
        missing_in_data = [s for s in self._ids.tolist() if s not in given]
        if missing_in_splits or missing_in_data:
            raise ValueError(
                f"{name} stimuli do not match the splits' stimuli: {len(missing_in_splits)} not in the splits "
                f"({short_list(missing_in_splits)}), {len(missing_in_data)} of the splits missing from the {name} "
                f"({short_list(missing_in_data)}); every model must be scored on the same stimuli and folds"
            )
        return self._folds[[index[s] for s in ids.tolist()]]

    def indices(self, stimulus_ids: Sequence[str], *, name: str = "assembly") -> list[tuple[np.ndarray, np.ndarray]]:
        """``(train_idx, test_idx)`` positions into ``stimulus_ids`` for each fold.

        Raises
        ------
        ValueError
            When the ids are not exactly the splits' stimuli (names the differences).
        """
        fold = self.check_stimuli(stimulus_ids, name=name)
        return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(self.n_folds)]

    def inner(self, fold: int, n_folds: int | None = None) -> Splits:
        """Splits of the training stimuli of outer fold ``fold`` (for nested selection).

        Seeded from ``(seed, fold)`` and stratified by the same strata (module docstring), so it is
        as reproducible as the outer splits. ``n_folds`` defaults to ``min(self.n_folds - 1, 5)`` (at least 2).
        """
        train = self.train_ids(fold)
        k = n_folds if n_folds is not None else max(2, min(self.n_folds - 1, 5))
        strata = None if self._strata is None else [self._strata[s] for s in train.tolist()]
        return Splits.kfold(train, n_folds=k, seed=_derive_seed(self.seed, fold), strata=strata, stratify=self.stratify)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable content, keyed by stimulus id."""
        d: dict[str, Any] = {
            "format": _FORMAT, "version": _VERSION, "n_folds": self.n_folds, "seed": self.seed,
            "stratify": self.stratify, "folds": dict(zip(self._ids.tolist(), self._folds.tolist())),
        }
        if self._strata is not None:
            d["strata"] = dict(self._strata)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Splits:
        """Splits from :meth:`to_dict`'s content.

        Raises
        ------
        ValueError
            Naming the missing field or the field of the wrong type (and, through the
            constructor, out-of-range or empty folds).
        """
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            got = type(d).__name__ if not isinstance(d, dict) else f"format {d.get('format')!r}"
            raise ValueError(f"not a brainfit splits object (expected format {_FORMAT!r}, got {got})")
        if d.get("version") != _VERSION:
            raise ValueError(f"unsupported splits version {d.get('version')!r} (this brainfit reads {_VERSION})")
        missing = [k for k in ("folds", "n_folds") if k not in d]
        if missing:
            raise ValueError(f"splits lack the field(s) {missing}")
        folds = d["folds"]
        if not isinstance(folds, dict) or not folds:
            raise ValueError(f"splits field 'folds' must be a non-empty mapping of stimulus_id to fold index, "
                             f"got {type(folds).__name__} {short_list(list(folds)) if isinstance(folds, list) else ''}")
        bad = [k for k, v in folds.items() if not _is_int(v)]
        if bad:
            raise ValueError(f"splits field 'folds' must map each stimulus_id to an integer fold index; not an "
                             f"integer for {short_list(bad)} (e.g. {folds[bad[0]]!r})")
        for key in ("n_folds", "seed"):
            if key in d and not _is_int(d[key]):
                raise ValueError(f"splits field {key!r} must be an integer, got {d[key]!r}")
        stratify, strata = d.get("stratify"), d.get("strata")
        if stratify is not None and not isinstance(stratify, str):
            raise ValueError(f"splits field 'stratify' must be a string or null, got {stratify!r}")
        if strata is not None and not isinstance(strata, dict):
            raise ValueError(f"splits field 'strata' must be a mapping of stimulus_id to label, got "
                             f"{type(strata).__name__}")
        return cls({str(k): int(v) for k, v in folds.items()}, int(d["n_folds"]), seed=int(d.get("seed", 0)),
                   stratify=stratify, strata=strata)

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically; returns the path."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Splits:
        """Read splits written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            When ``path`` does not exist.
        ValueError
            Naming the file and the problem: not JSON (e.g. truncated), not a splits object, a
            missing field or one of the wrong type, or inconsistent folds.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"splits file not found: {path}")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"cannot read splits from {path}: not JSON, or truncated ({err})") from err
        try:
            return cls.from_dict(d)
        except ValueError as err:
            raise ValueError(f"cannot read splits from {path}: {err}") from err


def make_splits(
    source: xr.DataArray | Sequence[str],
    *,
    n_folds: int = 10,
    seed: int = 0,
    stratify: str | None = "auto",
) -> Splits:
    """K folds over the unique stimuli of an assembly (or a list of ids).

    Parameters
    ----------
    source : DataArray with a ``stimulus_id`` coord on ``presentation`` (repetitions allowed), or
        a sequence of unique stimulus ids.
    n_folds : int
        Default 10.
    seed : int
    stratify : str, "auto" or None
        Presentation coord to stratify by. ``"auto"``: ``"category"`` when the assembly has it.

    Returns
    -------
    Splits
    """
    if isinstance(source, xr.DataArray):
        if STIMULUS_ID not in source.coords:
            raise ValueError(f"assembly is missing coord {STIMULUS_ID!r} needed to build splits")
        sid = np.asarray(source.coords[STIMULUS_ID].values).astype(str)
        uniq, first = np.unique(sid, return_index=True)
        if stratify == "auto":
            stratify = "category" if "category" in source.coords else None
        strata = None
        if stratify is not None:
            if stratify not in source.coords or source.coords[stratify].dims != (PRESENTATION,):
                raise ValueError(f"cannot stratify by {stratify!r}: no such coord on {PRESENTATION!r}")
            labels = np.asarray(source.coords[stratify].values).astype(str)
            per_stim = dict(zip(uniq.tolist(), labels[first].tolist()))
            bad = [s for s, lab in zip(sid.tolist(), labels.tolist()) if per_stim[s] != lab]
            if bad:
                raise ValueError(f"coord {stratify!r} varies within stimulus_id(s) {short_list(sorted(set(bad)))}")
            strata = [per_stim[s] for s in uniq.tolist()]
        return Splits.kfold(uniq, n_folds=n_folds, seed=seed, strata=strata, stratify=stratify)
    if stratify not in (None, "auto"):
        raise ValueError("stratify by a coord needs an assembly; pass strata to Splits.kfold for plain ids")
    return Splits.kfold(list(source), n_folds=n_folds, seed=seed)
