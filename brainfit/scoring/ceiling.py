"""Noise ceilings: split-half reliability with Spearman-Brown correction, and ceiled scores.

See the package docstring ("Ceiling", "Ceiled score") for the conventions and why the ceiling is
never squared. :func:`split_half_masks` defines the random halves on ``(stimulus_id, repetition)``
so that every result is independent of the order of presentations.
"""

from __future__ import annotations

from dataclasses import dataclass

import hashlib
import logging
import math
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import scipy.sparse
import xarray as xr

from brainfit.assembly import (
    NEUROID,
    NEUROID_ID,
    PRESENTATION,
    REPETITION,
    TIME_BIN,
    TIME_BIN_END,
    TIME_BIN_START,
    has_repetitions,
    short_list,
    stimulus_ids,
    validate_neural,
)
from brainfit.scoring.correlation import _coords_without, _neuroid_order, pearson_r

__all__ = ["CEILING_CONVENTION", "NO_CEILING_NOTE", "CeilingEstimate", "ceiled_score", "estimate_ceiling",
           "has_ceiling", "split_half_ceiling", "split_half_masks"]

log = logging.getLogger(__name__)

#: Fewer stimuli with repetitions than this in a split-half ceiling warn (3 is the hard minimum).
#: Why 10: the split-half ``r`` over ``n`` stimuli has a standard error of about
#: ``(1 - r**2) / sqrt(n - 1)`` -- 0.71 at n = 3, 0.50 at 5, 0.33 at 10 (r = 0) -- and the ceiling
#: divides every ceiled score, so below ~10 stimuli its noise swamps the scores it normalises.
#: The same figure as ``ScoringConfig.min_fold_stimuli``, for the same reason.
MIN_CEILING_STIMULI = 10

#: The attr ``ceiling_note`` of scores of data without single trials (and no given ceiling).
NO_CEILING_NOTE = (
    "no single trials and no ceiling given: raw r only; ceiling and ceiled scores are NaN, and every neuroid "
    "counts in the medians of r (reliability not assessed)"
)

CEILING_CONVENTION = (
    "ceiled = sign(r) * r**2 / ceiling; ceiling = Spearman-Brown-corrected split-half reliability of the "
    "trial-averaged responses (fraction of explainable variance), never squared"
)


def _trial_groups(trials: xr.DataArray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``ids`` of every trial's stimulus (-1 when not in ``ids``), and its repetition."""
    index = {s: i for i, s in enumerate(ids.tolist())}
    group = np.array([index.get(s, -1) for s in stimulus_ids(trials).tolist()], dtype=int)
    rep = np.asarray(trials.coords[REPETITION].values).astype(int)
    return group, rep


def split_half_masks(group: np.ndarray, repetition: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Random split-half assignment of trials, seeded and independent of trial order.

    Parameters
    ----------
    group : ndarray (n_trials,) of int
        Stimulus index of each trial (-1: ignore the trial).
    repetition : ndarray (n_trials,) of int
        Repetition label (unique within a stimulus); fixes the canonical trial order.
    n_splits : int
    seed : int

    Returns
    -------
    ndarray (n_splits, n_trials) of int8
        0 = first half, 1 = second half, -1 = unused (odd trial out, ignored trial, or a stimulus
        with fewer than 2 trials). Each stimulus puts ``floor(n/2)`` trials in each half.
    """
    group = np.asarray(group, dtype=int)
    repetition = np.asarray(repetition)
    n_trials = len(group)
    canon = np.lexsort((repetition, group))  # canonical order: by stimulus, then repetition
    g_sorted = group[canon]
    valid = g_sorted >= 0
    counts = np.bincount(g_sorted[valid], minlength=int(g_sorted.max()) + 1 if valid.any() else 0)
    half = counts // 2
    rng = np.random.default_rng(seed)
    out = np.full((n_splits, n_trials), -1, dtype=np.int8)
    start = np.zeros(len(counts) + 1, dtype=int)
    start[1:] = np.cumsum(counts)
    offset = int((~valid).sum())  # invalid trials (group -1) sort first
    for s in range(n_splits):
        u = rng.random(n_trials)
        # within each stimulus, order its trials by the random draw
        order = np.lexsort((u[valid], g_sorted[valid]))
        gs = g_sorted[valid][order]
        pos = np.arange(len(gs)) - start[gs]
        h = half[gs]
        label = np.where(pos < h, 0, np.where(pos < 2 * h, 1, -1)).astype(np.int8)
        out[s, canon[offset:][order]] = label
    return out


def _half_means(values: np.ndarray, group: np.ndarray, labels: np.ndarray, n_groups: int,
                half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-averages (n_groups, F) for one split's labels, via a sparse averaging matrix."""
    out = []
    for lab in (0, 1):
        sel = np.flatnonzero(labels == lab)
        w = 1.0 / half[group[sel]]
        m = scipy.sparse.csr_matrix((w, (group[sel], sel)), shape=(n_groups, values.shape[0]))
        out.append(np.asarray(m @ values))
    return out[0], out[1]


def _split_half_core(values: np.ndarray, group: np.ndarray, rep: np.ndarray, n_groups: int, n_splits: int, seed: int,
                     keep_halves: int = 0, stacklevel: int = 3) -> dict[str, Any]:
    """Split-half reliability per column of ``values`` (n_trials, F); ``stacklevel`` of the few-stimuli
    warning points at the public caller."""
    counts = np.bincount(group[group >= 0], minlength=n_groups)
    usable = np.flatnonzero(counts >= 2)
    if len(usable) < 3:
        raise ValueError(f"split-half ceilings need at least 3 stimuli with >= 2 repetitions, found {len(usable)} "
                         f"(of {n_groups} stimuli): a correlation over 2 stimuli is always +-1")
    if len(usable) < n_groups:
        log.info("ceiling: %d of %d stimuli have >= 2 repetitions and enter the ceiling", len(usable), n_groups)
    if len(usable) < MIN_CEILING_STIMULI:
        warnings.warn(
            f"only {len(usable)} stimuli (of {n_groups}) have >= 2 repetitions and enter the split-half ceiling, "
            f"fewer than {MIN_CEILING_STIMULI}: the ceiling (and every ceiled score, divided by it) is very noisy "
            f"(SE of a split-half r over {len(usable)} stimuli ~ {1 / math.sqrt(len(usable) - 1):.2f} at r = 0); "
            "report raw r, or pass a ceiling estimated on more stimuli",
            RuntimeWarning, stacklevel=stacklevel)
    # compact group index over usable stimuli
    remap = np.full(n_groups, -1, dtype=int)
    remap[usable] = np.arange(len(usable))
    g = np.where(group >= 0, remap[np.maximum(group, 0)], -1)
    half = counts[usable] // 2
    k = float(np.mean(1.0 / half) / np.mean(1.0 / counts[usable]))
    # canonical trial order (stimulus, repetition): identical arithmetic whatever the input order
    canon = np.lexsort((rep, g))
    values, g, rep = values[canon], g[canon], rep[canon]
    masks = split_half_masks(g, rep, n_splits, seed)
    rs = np.empty((n_splits, values.shape[1]))
    halves = []
    for s in range(n_splits):
        a, b = _half_means(values, g, masks[s], len(usable), half)
        rs[s] = pearson_r(a, b, axis=0)
        if s < keep_halves:
            halves.append((a, b))
    r_half, ceiling = _combine_splits(rs, k)
    return {"r_half": r_half, "ceiling": ceiling, "k": k, "usable": usable, "halves": halves}


def _combine_splits(rs: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """The mean split-half r over splits ``rs`` (n_splits, F) -- NaN where every split is NaN -- and
    its Spearman-Brown ceiling with factor ``k`` (the trials of the average over those of a half)."""
    all_nan = np.isnan(rs).all(axis=0)
    with np.errstate(invalid="ignore"):
        r_half = np.nanmean(np.where(all_nan, 0.0, rs), axis=0)
    r_half = np.where(all_nan, np.nan, r_half)
    return r_half, k * r_half / (1.0 + (k - 1.0) * r_half)


def split_half_ceiling(neural: xr.DataArray, *, n_splits: int = 100, seed: int = 0) -> xr.DataArray:
    """Spearman-Brown-corrected split-half reliability per neuroid and time bin.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin) with a ``repetition`` coord
        Single trials; repetition counts may differ between stimuli.
    n_splits : int
        Random splits averaged (default 100).
    seed : int

    Returns
    -------
    DataArray (neuroid x time_bin) named ``"ceiling"`` with coord ``split_half_r`` (the mean
    uncorrected split-half r) and attrs ``n_splits``, ``seed``, ``spearman_brown_k``,
    ``n_stimuli``, ``convention``.

    Raises
    ------
    ValueError
        For data without repetitions, or fewer than 3 stimuli with >= 2 repetitions.

    Warns
    -----
    RuntimeWarning
        When fewer than :data:`MIN_CEILING_STIMULI` (10) stimuli have >= 2 repetitions.
    """
    neural = validate_neural(neural, require_repetitions=True)
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    ids = np.unique(stimulus_ids(neural))
    group, rep = _trial_groups(neural, ids)
    n_pres, n_neur, n_bins = neural.shape
    res = _split_half_core(neural.values.reshape(n_pres, -1).astype(np.float64), group, rep, len(ids), n_splits, seed)
    coords = _coords_without(neural, PRESENTATION)
    out = xr.DataArray(res["ceiling"].reshape(n_neur, n_bins), dims=(NEUROID, TIME_BIN), coords=coords, name="ceiling")
    out = out.assign_coords(split_half_r=((NEUROID, TIME_BIN), res["r_half"].reshape(n_neur, n_bins)))
    out.attrs.update(n_splits=int(n_splits), seed=int(seed), spearman_brown_k=res["k"],
                     n_stimuli=len(res["usable"]), convention=CEILING_CONVENTION)
    return out


def has_ceiling(scores: xr.Dataset) -> bool:
    """Whether a score Dataset was divided by a ceiling: False for data without single trials and
    no given ceiling (attr ``ceiling_source="none"``; ceiled fields NaN, raw ``r`` only)."""
    return scores.attrs.get("ceiling_source") != "none"


def ceiled_score(r: Any, ceiling: Any) -> Any:
    """``sign(r) * r**2 / ceiling``; NaN where ``ceiling <= 0`` or either is NaN (package docstring)."""
    if isinstance(r, xr.DataArray) or isinstance(ceiling, xr.DataArray):
        return xr.apply_ufunc(ceiled_score, r, ceiling)
    r_arr = np.asarray(r, dtype=np.float64)
    c_arr = np.asarray(ceiling, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c_arr > 0, np.sign(r_arr) * r_arr**2 / np.where(c_arr > 0, c_arr, 1.0), np.nan)


def _align_given_ceiling(ceiling: Any, avg: xr.DataArray) -> xr.DataArray:
    """A precomputed ceiling (neuroid x time_bin) matched to ``avg`` by ``neuroid_id`` and time bins.

    Like every assembly it is matched by coordinate, never by position (docs/design.md), so it needs
    the ``neuroid_id`` and ``time_bin_start``/``time_bin_end`` coords that
    :func:`split_half_ceiling` gives it, and exactly the neural data's neuroids and bins.

    Raises
    ------
    ValueError
        Naming the wrong type or dims, the missing coord, duplicate ids, the missing and extra
        neuroid ids, the differing bins, or infinite values.
    """
    if not isinstance(ceiling, xr.DataArray):
        # bad assembly input is a ValueError throughout brainfit (docs/design.md), wrong type included
        raise ValueError(  # noqa: TRY004
            f"ceiling must be an xarray.DataArray (neuroid x time_bin), got {type(ceiling).__name__}")
    if tuple(ceiling.dims) == (NEUROID,):
        # one reliability per neuroid (e.g. published with repeat-averaged data of one response
        # window): only for data with one time bin, since a window's reliability is not that of
        # its 10 ms parts
        if avg.sizes[TIME_BIN] != 1:
            raise ValueError(f"a ceiling with dims ({NEUROID!r},) applies only to data with one time bin; these data "
                             f"have {avg.sizes[TIME_BIN]}: give one per neuroid and bin ({NEUROID!r}, {TIME_BIN!r})")
        ceiling = ceiling.expand_dims({TIME_BIN: avg.sizes[TIME_BIN]}, axis=1).assign_coords(
            {TIME_BIN_START: (TIME_BIN, np.asarray(avg.coords[TIME_BIN_START].values)),
             TIME_BIN_END: (TIME_BIN, np.asarray(avg.coords[TIME_BIN_END].values))})
    if set(ceiling.dims) != {NEUROID, TIME_BIN} or ceiling.ndim != 2:
        raise ValueError(f"ceiling must have dims ({NEUROID!r}, {TIME_BIN!r}) or ({NEUROID!r},), "
                         f"got {tuple(ceiling.dims)}")
    for coord, dim in ((NEUROID_ID, NEUROID), (TIME_BIN_START, TIME_BIN), (TIME_BIN_END, TIME_BIN)):
        if coord not in ceiling.coords or ceiling.coords[coord].dims != (dim,):
            raise ValueError(f"ceiling has no {coord!r} coord on {dim!r}: a given ceiling is matched to the neural "
                             "data by neuroid_id and time bins, never by position (split_half_ceiling's output "
                             "carries them)")
    neuroid_order = _neuroid_order(ceiling, avg, "ceiling")
    cbins = list(zip(np.asarray(ceiling.coords[TIME_BIN_START].values, float).tolist(),
                     np.asarray(ceiling.coords[TIME_BIN_END].values, float).tolist()))
    nbins = list(zip(np.asarray(avg.coords[TIME_BIN_START].values, float).tolist(),
                     np.asarray(avg.coords[TIME_BIN_END].values, float).tolist()))
    if len(set(cbins)) != len(cbins) or set(cbins) != set(nbins):
        raise ValueError(
            "ceiling time bins differ from the neural assembly's: "
            f"{len(set(nbins) - set(cbins))} missing from the ceiling {short_list(sorted(set(nbins) - set(cbins)))}, "
            f"{len(set(cbins) - set(nbins))} extra in the ceiling {short_list(sorted(set(cbins) - set(nbins)))} "
            f"([start, end) ms; ceiling bins {short_list(cbins)}, neural bins {short_list(nbins)})")
    bindex = {b: i for i, b in enumerate(cbins)}
    c = ceiling.transpose(NEUROID, TIME_BIN).isel({NEUROID: neuroid_order, TIME_BIN: [bindex[b] for b in nbins]})
    vals = np.asarray(c.values, dtype=np.float64)
    if np.isinf(vals).any():
        raise ValueError(f"ceiling contains {int(np.isinf(vals).sum())} infinite value(s)")
    return c


def _ceiling_for(neural: xr.DataArray, avg: xr.DataArray, ceiling: xr.DataArray | None, n_ceiling_splits: int,
                 seed: int, n_bootstrap: int, n_bootstrap_splits: int,
                 estimate: CeilingEstimate | None = None) -> tuple[np.ndarray, dict[str, Any] | None, dict[str, Any]]:
    """The ceiling used for scoring: given, from ``estimate``, or split-half from the trials.

    Returns the ceiling (N, T) aligned with ``avg`` (its neuroid order), the split-half result
    (with the first ``min(n_bootstrap_splits, n_ceiling_splits)`` split halves kept for the
    bootstrap, and ``split_half_r`` (N, T)) or None for a given ceiling, and the ``ceiling_*`` attrs.
    ``estimate`` (:func:`estimate_ceiling`) must cover these trials, neuroids and settings.
    """
    N, T = avg.sizes[NEUROID], avg.sizes[TIME_BIN]
    if ceiling is not None:
        c = _align_given_ceiling(ceiling, avg)
        vals = np.asarray(c.values, dtype=np.float64)
        given = {f"ceiling_{k}": v for k, v in c.attrs.items() if isinstance(v, (int, float, str))}
        return vals, None, {"ceiling_source": "given", **given}
    if not has_repetitions(neural):
        # no single trials and no given ceiling: raw r only, never a made-up ceiling (docs/design.md)
        return np.full((N, T), np.nan), None, {"ceiling_source": "none", "ceiling_note": NO_CEILING_NOTE}
    ids = stimulus_ids(avg)
    keep = min(n_bootstrap_splits, n_ceiling_splits) if n_bootstrap else 0
    trials_key = _trials_key(neural, ids, n_ceiling_splits, seed)
    nids = np.asarray(avg.coords[NEUROID_ID].values).astype(str) if NEUROID_ID in avg.coords else None
    hashes = _neuroid_hashes(neural) if nids is not None else None
    if estimate is not None:
        found = _cut(estimate.trials_key, estimate.keep, estimate.neuroid_ids, estimate.hashes, estimate.result,
                     trials_key, nids, hashes, keep)
        if found is None:
            raise ValueError("the ceiling estimate was computed on other trials, neuroids or settings than these "
                             "data (estimate_ceiling on the same single trials, in the same stimulus order, with "
                             "the same ScoringConfig)")
        return found
    return _split_half_for(neural, avg, n_ceiling_splits, seed, keep, trials_key, nids, hashes)


def _split_half_for(neural: xr.DataArray, avg: xr.DataArray, n_ceiling_splits: int, seed: int, keep: int,
                    trials_key: str, nids: np.ndarray | None, hashes: np.ndarray | None) -> tuple:
    """The split-half part of :func:`_ceiling_for` (memo, else computed), its keys already made."""
    N, T = avg.sizes[NEUROID], avg.sizes[TIME_BIN]
    ids = stimulus_ids(avg)
    found = _from_memo(trials_key, nids, hashes, keep)
    if found is not None:
        return found
    group, rep = _trial_groups(neural, ids)
    n_trials = neural.sizes[PRESENTATION]
    res = _split_half_core(neural.values.reshape(n_trials, -1).astype(np.float64), group, rep, len(ids),
                           n_ceiling_splits, seed, keep_halves=keep, stacklevel=5)
    attrs = {"ceiling_source": "split_half", "ceiling_n_splits": int(n_ceiling_splits),
             "ceiling_spearman_brown_k": res["k"], "ceiling_n_stimuli": len(res["usable"])}
    res["split_half_r"] = res["r_half"].reshape(N, T)
    out = (res["ceiling"].reshape(N, T), res, attrs)
    if nids is not None and len(res["usable"]) >= MIN_CEILING_STIMULI:  # (the few-stimuli warning must repeat)
        _remember(trials_key, keep, nids, hashes, out)
        return _copied(out)
    return out


#: Split-half results of the last few (trials, settings): every model compared on one dataset gets
#: the same ceiling, and a region's ceiling is its neuroids' part of the all-region one (the splits
#: are drawn per (stimulus, repetition), the same for every neuroid), so each is computed once
#: (seconds per call on the demo data). Entries are matched by content -- the trial structure and
#: a hash of every neuroid's trial values -- never by object identity, so data changed in place
#: are recomputed; hits are copies (the kept split halves are shared read-only). Bounded by
#: :data:`_MEMO_BYTES`.
_SPLIT_HALF_MEMO: OrderedDict[tuple, tuple] = OrderedDict()
_MEMO_BYTES = 1 << 30


def _neuroid_hashes(neural: xr.DataArray) -> np.ndarray:
    """One digest per neuroid of its (presentation x time_bin) trial values, in neuroid order."""
    values = np.asarray(neural.transpose(PRESENTATION, NEUROID, TIME_BIN).values, dtype=np.float64)
    return np.array([hashlib.blake2b(np.ascontiguousarray(values[:, i, :]).tobytes(), digest_size=16).hexdigest()
                     for i in range(values.shape[1])])


def _entry_bytes(out: tuple) -> int:
    ceil, res, _ = out
    return ceil.nbytes + sum(a.nbytes + b.nbytes for a, b in res["halves"]) + res["r_half"].nbytes * 3


def _remember(trials_key: str, keep: int, nids: np.ndarray, hashes: np.ndarray, out: tuple) -> None:
    size = _entry_bytes(out)
    if size > _MEMO_BYTES:
        return
    for a, b in out[1]["halves"]:
        a.flags.writeable = False
        b.flags.writeable = False
    _SPLIT_HALF_MEMO[(trials_key, keep, tuple(nids.tolist()))] = (trials_key, keep, nids, hashes, out, size)
    while sum(e[-1] for e in _SPLIT_HALF_MEMO.values()) > _MEMO_BYTES:
        _SPLIT_HALF_MEMO.popitem(last=False)


def _copied(out: tuple) -> tuple:
    """A result whose arrays callers may change without touching the memo (halves stay shared, read-only)."""
    ceil, res, attrs = out
    return ceil.copy(), {**res, **{k: res[k].copy() for k in ("r_half", "ceiling", "split_half_r")},
                         "halves": list(res["halves"])}, dict(attrs)


def _trials_key(neural: xr.DataArray, ids: np.ndarray, n_splits: int, seed: int) -> str:
    """Hash of the trial structure a split-half ceiling depends on (besides the values): stimulus and
    repetition labels in trial order, the stimulus order of the result, the bins and the settings."""
    h = hashlib.sha256()
    for part in (stimulus_ids(neural).astype(str), np.asarray(neural.coords[REPETITION].values),
                 np.asarray(ids).astype(str), np.asarray(neural.coords[TIME_BIN_START].values, float),
                 np.array([n_splits, seed, neural.sizes[PRESENTATION], neural.sizes[TIME_BIN]])):
        h.update(str(part.dtype).encode() + str(part.shape).encode())
        h.update(part.tobytes() if part.dtype.kind != "U" else "\x1f".join(part.tolist()).encode())
    return h.hexdigest()


def _cut(stored_key: str, stored_keep: int, stored_ids: np.ndarray, stored_hashes: np.ndarray, out: tuple,
         trials_key: str, nids: np.ndarray | None, hashes: np.ndarray | None, keep: int) -> tuple | None:
    """A stored split-half result cut to the neuroids ``nids`` (a copy), when it was computed on the
    same trials with at least ``keep`` kept split halves and holds them with equal values; else None."""
    if nids is None or stored_key != trials_key or stored_keep < keep:
        return None
    pos = {n: i for i, n in enumerate(stored_ids.tolist())}
    if not all(n in pos for n in nids.tolist()):
        return None
    sel = np.array([pos[n] for n in nids.tolist()], dtype=int)
    if not np.array_equal(stored_hashes[sel], hashes):
        return None
    ceil, res, attrs = out
    T = ceil.shape[1]
    cols = (sel[:, None] * T + np.arange(T)[None, :]).ravel()
    sub = {**res, "r_half": res["r_half"][cols], "ceiling": res["ceiling"][cols],
           "halves": [(a[:, cols], b[:, cols]) for a, b in res["halves"][:keep]],
           "split_half_r": res["split_half_r"][sel]}
    return ceil[sel], sub, dict(attrs)


def _from_memo(trials_key: str, nids: np.ndarray | None, hashes: np.ndarray | None, keep: int) -> tuple | None:
    """A stored result for the same trials (and at least ``keep`` kept split halves) whose neuroids
    include ``nids`` with equal values (their digests ``hashes``), cut to them; a copy."""
    if nids is None:
        return None
    candidates = [(k, e) for k, e in reversed(_SPLIT_HALF_MEMO.items()) if e[0] == trials_key and e[1] >= keep]
    for key, (tkey, kept, stored_ids, stored_hashes, out, _size) in candidates:
        found = _cut(tkey, kept, stored_ids, stored_hashes, out, trials_key, nids, hashes, keep)
        if found is not None:
            _SPLIT_HALF_MEMO.move_to_end(key)
            return found
    return None


@dataclass(frozen=True)
class CeilingEstimate:
    """A split-half ceiling computed once for a set of neuroids (:func:`estimate_ceiling`), to be
    passed explicitly to :func:`~brainfit.scoring.fit_and_score` and
    :func:`~brainfit.scoring.score_predictions` (``ceiling_estimate=``) for these neuroids or any
    subset of them (a region): the split halves are drawn per (stimulus, repetition), the same for
    every neuroid, so a region's ceiling is its neuroids' part of the all-region one. It records the
    trial structure, settings and a digest of every neuroid's values it was computed from; a call on
    other data refuses it."""

    trials_key: str
    keep: int
    neuroid_ids: np.ndarray
    hashes: np.ndarray
    result: tuple


def estimate_ceiling(neural: xr.DataArray, config: Any = None, **settings: Any) -> CeilingEstimate:
    """The split-half ceiling of ``neural``'s single trials, in its stimulus order, once.

    Parameters
    ----------
    neural : DataArray (presentation x neuroid x time_bin)
        Single trials (``repetition`` coord) with ``neuroid_id``, in the stimulus order the scoring
        calls will use (e.g. their splits' order).
    config : ScoringConfig, optional
    **settings
        :class:`~brainfit.scoring.ScoringConfig` fields (``n_ceiling_splits``, ``seed``,
        ``n_bootstrap``, ``n_bootstrap_splits``) -- the same as the scoring calls', which refuse an
        estimate made with others.

    Raises
    ------
    ValueError
        For data without single trials or without ``neuroid_id`` (there is nothing to share).
    """
    from brainfit.assembly import average_repetitions
    from brainfit.scoring.config import ScoringConfig

    cfg = ScoringConfig.resolve(config, **settings)
    neural = validate_neural(neural)
    if not has_repetitions(neural) or NEUROID_ID not in neural.coords:
        raise ValueError("a ceiling estimate needs single trials (a 'repetition' coord) and 'neuroid_id' coords")
    avg = average_repetitions(neural)
    keep = min(cfg.n_bootstrap_splits, cfg.n_ceiling_splits) if cfg.n_bootstrap else 0
    trials_key = _trials_key(neural, stimulus_ids(avg), cfg.n_ceiling_splits, cfg.seed)
    nids = np.asarray(avg.coords[NEUROID_ID].values).astype(str)
    hashes = _neuroid_hashes(neural)  # once: the key, the memo and every later check use it
    out = _split_half_for(neural, avg, cfg.n_ceiling_splits, cfg.seed, keep, trials_key, nids, hashes)
    return CeilingEstimate(trials_key=trials_key, keep=keep, neuroid_ids=nids, hashes=hashes, result=out)
