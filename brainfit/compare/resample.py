"""Bootstrap confidence intervals of per-bin medians and of their paired differences.

Over stimuli
    Each resample draws stimuli with replacement (integer weights; the generator is seeded by
    ``seed`` and the number of stimuli only, so every model of a comparison or a leaderboard
    sees the SAME resamples and differences are paired) and recomputes ``r`` per neuroid and bin
    from the stored out-of-fold predictions and trial-averaged responses (standardised within
    test folds first when the scores were computed within folds, as
    :mod:`brainfit.scoring` does), then the ceiled score and the median over the bin's
    neuroids. The ceiling is held at its full-data estimate: it is the same for both models of
    a pair, so it rescales both alike; the per-model CIs of :func:`brainfit.scoring.fit_and_score`
    resample it too.
Over neuroids
    Each resample draws neuroids with replacement (the same draw in every bin, each bin keeping
    the drawn neuroids that are in its comparison) and recomputes the medians. It asks how much
    the result depends on which sites were recorded; the stimulus bootstrap asks how much it
    depends on which images were shown.

Computed once per comparison run
    :class:`Resamples` holds, per score Dataset, the ``r`` of every stimulus resample for the
    neuroid-bins it may be asked about, computed once; the medians over any mask are then read
    off those columns. A caller that compares many pairs and ranks the same models
    (:func:`brainfit.report.write_comparison`) creates one and passes it as ``resamples=`` to
    :func:`~brainfit.compare.compare_models`, :func:`~brainfit.compare.compare_pairs` and
    :func:`~brainfit.compare.leaderboard`; without it every call resamples anew, as before.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from brainfit.assembly import TIME_BIN
from brainfit.compare.paired import has_predictions
from brainfit.scoring import ceiled_score, median_over, standardize_within_folds, weighted_pearson

__all__ = ["Resamples", "stimulus_weights", "resampled_medians", "neuroid_resampled_medians", "percentile_ci"]


def stimulus_weights(n_stimuli: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """Bootstrap counts (n_bootstrap, n_stimuli): how often each stimulus is drawn in each resample."""
    rng = np.random.default_rng([seed, n_stimuli])
    return np.stack([np.bincount(rng.integers(0, n_stimuli, n_stimuli), minlength=n_stimuli)
                     for _ in range(n_bootstrap)]).astype(np.float64)


def resampled_medians(ds: xr.Dataset, weights: np.ndarray, mask: np.ndarray | None = None,
                      batch: int = 200) -> dict[str, np.ndarray]:
    """Median ``r`` and ceiled score per bin in each stimulus resample.

    Parameters
    ----------
    ds : Dataset
        Scores with ``prediction`` and ``response`` (``keep_predictions=True``).
    weights : ndarray (B, n_stimuli)
        From :func:`stimulus_weights`, in the order of ``ds``'s presentations.
    mask : ndarray of bool (neuroid, time_bin), optional
        Neuroid-bins entering the medians (default: ``reliable``).

    Returns
    -------
    dict with ``r`` and ``ceiled``, each (B, time_bin).
    """
    pc, yc, ceiling, T = _centred(ds)
    if weights.shape[1] != pc.shape[0]:
        raise ValueError(f"weights cover {weights.shape[1]} stimuli, the scores {pc.shape[0]}")
    mask = _reliable(ds) if mask is None else mask
    cols = np.flatnonzero(mask.ravel())
    bin_of = cols % T
    pc, yc = pc[:, cols], yc[:, cols]
    ceiling = ceiling[cols] if ceiling is not None else None
    B = weights.shape[0]
    out = {"r": np.full((B, T), np.nan), "ceiled": np.full((B, T), np.nan)}
    for b0 in range(0, B, batch):
        w = weights[b0:b0 + batch]
        r = weighted_pearson(w, pc, yc)  # (b, cols)
        c = ceiled_score(r, ceiling) if ceiling is not None else np.full_like(r, np.nan)
        for t in range(T):
            idx = bin_of == t
            if idx.any():
                out["r"][b0:b0 + len(w), t] = median_over(r[:, idx], True, axis=1)
                out["ceiled"][b0:b0 + len(w), t] = median_over(c[:, idx], True, axis=1)
    return out


def _reliable(ds: xr.Dataset) -> np.ndarray:
    return ds["reliable"].transpose("neuroid", TIME_BIN).values.astype(bool)


def _centred(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Predictions and responses as (n_stimuli, neuroid * time_bin) columns, standardised within
    test folds when the scores were (flat column ``i * T + t``), centred; the flat ceiling (None
    without one) and the number of bins."""
    if not has_predictions(ds):
        raise ValueError("resampling stimuli needs the out-of-fold predictions and responses in the scores: "
                         "score with keep_predictions=True (brainfit fit and the demo do)")
    pred = ds["prediction"].transpose("presentation", "neuroid", TIME_BIN).values.astype(np.float64)
    resp = ds["response"].transpose("presentation", "neuroid", TIME_BIN).values.astype(np.float64)
    n, _, T = resp.shape
    fold_of = None
    if ds.attrs.get("r_within_folds"):
        if "test_fold" not in ds.coords:
            raise ValueError("the scores computed r within test folds but carry no 'test_fold' coord: the "
                             "resamples could not do the same; score with splits= and keep_predictions=True")
        fold_of = ds.coords["test_fold"].values
    pred = standardize_within_folds(pred, fold_of, axis=0)
    resp = standardize_within_folds(resp, fold_of, axis=0)
    pc = (pred - pred.mean(axis=0)).reshape(n, -1)
    yc = (resp - resp.mean(axis=0)).reshape(n, -1)
    ceiling = ds["ceiling"].transpose("neuroid", TIME_BIN).values.ravel() if "ceiling" in ds else None
    return pc, yc, ceiling, T


def _mask_key(mask: np.ndarray) -> tuple:
    """An exact, hashable form of a boolean mask."""
    return mask.shape, np.packbits(mask, axis=None).tobytes()


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class _Entry:
    """What :class:`Resamples` holds for one (Dataset, n_bootstrap, seed)."""

    __slots__ = ("ds", "cols", "r", "ceiling", "T", "medians", "last_used")

    def __init__(self, ds: xr.Dataset) -> None:
        self.ds = ds  # held, so its id() is not reused while the cache lives
        self.cols: np.ndarray | None = None  # flat neuroid-bin indices (i * T + t), ascending
        self.r: np.ndarray | None = None  # (B, len(cols)); None once released to stay under max_bytes
        self.ceiling: np.ndarray | None = None  # (len(cols),), None without a ceiling
        self.T = 0
        self.medians: dict[tuple, dict[str, np.ndarray]] = {}
        self.last_used = 0


class Resamples:
    """The stimulus (and neuroid) resamples of score Datasets, computed once per comparison run.

    Create one per run and pass it as ``resamples=`` to :func:`~brainfit.compare.compare_models`,
    :func:`~brainfit.compare.compare_pairs` and :func:`~brainfit.compare.leaderboard` (as
    :func:`brainfit.report.write_comparison` does). There is no hidden module-level memo: what is
    held lives as long as this object.

    Stimulus resamples
        Per key ``(id(ds), n_bootstrap, seed)`` -- the identity of the score Dataset object (an
        equal copy is another key: computed again, to the same numbers) and the resamples'
        count and seed, which with the Dataset's number of stimuli fix the weights
        (:func:`stimulus_weights`) -- it holds the ``r`` of every resample for the Dataset's
        ``reliable`` neuroid-bin columns (every column a comparison or a leaderboard asks about;
        a mask reaching beyond them widens the set, computed again), computed once with
        :func:`resampled_medians`' arithmetic. :meth:`medians` for a mask then takes the masked
        columns' median per bin (the ceiled score is derived elementwise from the held ``r``),
        and keeps it per mask. The results are :func:`resampled_medians`' bit for bit when the
        mask is the ``reliable`` set (the leaderboard's, and a pair's when every reliable score is
        finite in both models) and no wider mask came first; for another mask the ``r`` come from
        a matrix product over other columns than there, so they can differ in the last bits
        (measured: at most 3e-16 in the CIs; BLAS sums in an order that depends on the matrix
        shape).
    Neuroid resamples
        :meth:`neuroid_medians` keeps :func:`neuroid_resampled_medians` per ``(id(ds), metric,
        mask, n_bootstrap, seed)``: bit for bit the same arrays.

    The Datasets are held (so their ids stay theirs) and must not be modified while the cache
    is in use. Memory: ``8 * n_bootstrap * n_reliable_columns`` bytes per Dataset; past
    ``max_bytes`` the least recently used Datasets' ``r`` are released (the medians already
    taken are kept) and computed again if a new mask asks for them. Returned arrays are
    read-only.

    Parameters
    ----------
    max_bytes : int or None
        Bound on the held ``r`` (default 2 GiB; None: no bound).
    batch : int
        Resamples per matrix product (:func:`resampled_medians`' ``batch``: the same value gives
        the same bits).

    Attributes
    ----------
    n_computed : int
        Stimulus-resample passes run (one per Dataset and key, more only after a release or a
        widening mask).
    n_reused : int
        :meth:`medians` calls answered from held columns or kept medians.
    """

    def __init__(self, max_bytes: int | None = 2 * 2**30, batch: int = 200) -> None:
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer))
                                      or max_bytes < 0):
            raise ValueError(f"max_bytes must be an int >= 0 or None, got {max_bytes!r}")
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        self.max_bytes = max_bytes
        self.batch = int(batch)
        self.n_computed = 0
        self.n_reused = 0
        self._entries: dict[tuple[int, int, int], _Entry] = {}
        self._weights: dict[tuple[int, int, int], np.ndarray] = {}
        self._neuroid: dict[tuple, tuple[xr.Dataset, np.ndarray]] = {}
        self._clock = 0

    def __len__(self) -> int:
        """Number of (Dataset, n_bootstrap, seed) entries of stimulus resamples."""
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes of the held per-column ``r``."""
        return sum(e.r.nbytes for e in self._entries.values() if e.r is not None)

    def clear(self) -> None:
        """Forget everything held."""
        self._entries.clear()
        self._weights.clear()
        self._neuroid.clear()

    def weights(self, n_stimuli: int, n_bootstrap: int, seed: int) -> np.ndarray:
        """:func:`stimulus_weights`, drawn once per ``(n_stimuli, n_bootstrap, seed)`` (read-only)."""
        key = (int(n_stimuli), int(n_bootstrap), int(seed))
        if key not in self._weights:
            self._weights[key] = _frozen(stimulus_weights(*key))
        return self._weights[key]

    def medians(self, ds: xr.Dataset, mask: np.ndarray | None = None, *, n_bootstrap: int,
                seed: int) -> dict[str, np.ndarray]:
        """:func:`resampled_medians` of ``ds`` over ``mask`` (default ``reliable``) with
        ``stimulus_weights(n_stimuli, n_bootstrap, seed)``, from the held columns (class docstring).

        Returns
        -------
        dict with ``r`` and ``ceiled``, each (n_bootstrap, time_bin), read-only.
        """
        key = (id(ds), int(n_bootstrap), int(seed))
        entry = self._entries.get(key)
        if entry is None or entry.ds is not ds:
            entry = self._entries[key] = _Entry(ds)
        self._clock += 1
        entry.last_used = self._clock
        if mask is None:
            mask = _reliable(ds)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (ds.sizes["neuroid"], ds.sizes[TIME_BIN]):
            raise ValueError(f"mask has shape {mask.shape}, the scores' (neuroid, time_bin) "
                             f"{(ds.sizes['neuroid'], ds.sizes[TIME_BIN])}")
        mkey = _mask_key(mask)
        if mkey in entry.medians:
            self.n_reused += 1
            return entry.medians[mkey]
        flat = mask.ravel()
        if entry.cols is None or (flat.any() and not np.isin(np.flatnonzero(flat), entry.cols).all()):
            entry.cols = np.flatnonzero(_reliable(ds).ravel() | flat)
            entry.r = None
        if entry.r is None:
            self._compute(entry, key)
        else:
            self.n_reused += 1
        assert entry.r is not None and entry.cols is not None
        B, T = entry.r.shape[0], entry.T
        sel = flat[entry.cols]  # which held columns the mask takes (ascending flat order, as resampled_medians)
        bin_of = entry.cols % T
        out = {"r": np.full((B, T), np.nan), "ceiled": np.full((B, T), np.nan)}
        for t in range(T):
            idx = np.flatnonzero(sel & (bin_of == t))
            if len(idx):
                r = entry.r[:, idx]
                c = ceiled_score(r, entry.ceiling[idx]) if entry.ceiling is not None else np.full_like(r, np.nan)
                out["r"][:, t] = median_over(r, True, axis=1)
                out["ceiled"][:, t] = median_over(c, True, axis=1)
        entry.medians[mkey] = {k: _frozen(v) for k, v in out.items()}
        return entry.medians[mkey]

    def _compute(self, entry: _Entry, key: tuple[int, int, int]) -> None:
        """``r`` of every resample for ``entry.cols``, in :func:`resampled_medians`' batches."""
        pc, yc, ceiling, T = _centred(entry.ds)
        cols = entry.cols
        assert cols is not None
        w = self.weights(pc.shape[0], key[1], key[2])
        pc, yc = pc[:, cols], yc[:, cols]
        r = np.empty((w.shape[0], len(cols)))
        for b0 in range(0, w.shape[0], self.batch):
            r[b0:b0 + self.batch] = weighted_pearson(w[b0:b0 + self.batch], pc, yc)
        entry.r, entry.T = r, T
        entry.ceiling = ceiling[cols] if ceiling is not None else None
        self.n_computed += 1
        if self.max_bytes is not None:  # release the least recently used others' columns
            for other in sorted(self._entries.values(), key=lambda e: e.last_used):
                if self.nbytes <= self.max_bytes:
                    break
                if other is not entry and other.r is not None:
                    other.r = None

    def neuroid_medians(self, ds: xr.Dataset, metric: str, mask: np.ndarray, *, n_bootstrap: int,
                        seed: int) -> np.ndarray:
        """:func:`neuroid_resampled_medians` of ``ds[metric]`` (neuroid, time_bin) over ``mask``,
        once per ``(id(ds), metric, mask, n_bootstrap, seed)`` (read-only)."""
        mask = np.asarray(mask, dtype=bool)
        key = (id(ds), metric, _mask_key(mask), int(n_bootstrap), int(seed))
        held = self._neuroid.get(key)
        if held is None or held[0] is not ds:
            values = ds[metric].transpose("neuroid", TIME_BIN).values.astype(np.float64)
            held = self._neuroid[key] = (ds, _frozen(neuroid_resampled_medians(values, mask, n_bootstrap, seed)))
        return held[1]


def neuroid_resampled_medians(values: np.ndarray, mask: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """Median over resampled neuroids per bin: values/mask (neuroid, time_bin) -> (n_bootstrap, time_bin).

    The same draw of neuroids for every call with the same ``seed`` and neuroid count (paired).
    """
    N = values.shape[0]
    rng = np.random.default_rng([seed, N, 1])
    idx = rng.integers(0, N, size=(n_bootstrap, N))
    out = np.empty((n_bootstrap, values.shape[1]))
    for b0 in range(0, n_bootstrap, 100):
        out[b0:b0 + 100] = median_over(values[idx[b0:b0 + 100]], mask[idx[b0:b0 + 100]], axis=1)
    return out


def percentile_ci(samples: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the first axis (NaN-safe): ``(low, high)``."""
    q = [(1.0 - ci) / 2.0 * 100.0, (1.0 + ci) / 2.0 * 100.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(samples, q, axis=0)
    return lo, hi
