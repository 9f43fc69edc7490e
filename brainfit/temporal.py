"""Temporal maps: which model ``time_step`` feeds which neural ``time_bin``.

A :class:`TemporalMap` turns an activation assembly ``(presentation x neuroid x time_step)`` into
one indexed by the neural time bins ``(presentation x neuroid x time_bin)``, carrying the neural
assembly's ``time_bin_start``/``time_bin_end`` coords. Three kinds (docs/design.md):

``one_to_one(latency_ms, step_ms)``
    For ConvRNNs. Model step ``t`` covers ``[latency + t*step, latency + (t+1)*step)`` ms after
    onset; a bin receives the average of the steps overlapping it, weighted by overlap (a 10 ms
    bin aligned with 10 ms steps receives exactly one step). A bin that no step overlaps is an
    error, never a silent zero.
``constant(step=-1)``
    For feedforward models: one response (by default the last step) copied to every bin. All bins
    share the same features, so mappings can fit every bin as one multi-target problem
    (``shared_features`` is True).
``graded(layers=None)``
    Feedforward layers spread over bins (Nayebi et al. 2022): early bins are read from lower
    layers, later bins from higher ones, in equal shares. Features of layers not assigned to a bin
    are zero in that bin (zero columns leave a ridge fit unchanged).

A ``one_to_one`` map may give a grid of latencies instead of one (``latency_grid(...)``, or
``latency_ms: [0, 10, ...]`` in a config): :func:`brainfit.scoring.fit_and_score` then chooses the
latency per region and layer on the training folds of each outer fold, with the same nested
criterion as the layer, and records the choice (docs/design.md, "Timing"). The model's timing is
thus never chosen on the stimuli it is scored on. At a latency where some bins precede the first
model step (or follow the last), those bins get the model's blank state -- zero features, which
predict nothing -- instead of an error (``outside="blank"``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import warnings

import numpy as np
import xarray as xr

from brainfit.assembly import (
    LAYER, NEURAL_DIMS, TIME_BIN, TIME_BIN_END, TIME_BIN_START, TIME_STEP,
    validate_activations, validate_neural,
)

__all__ = ["TemporalMap", "one_to_one", "constant", "graded", "latency_grid", "bins_of"]


def bins_of(neural: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """``(time_bin_start, time_bin_end)`` of a neural assembly, in ms."""
    return (np.asarray(neural.coords[TIME_BIN_START].values, dtype=float),
            np.asarray(neural.coords[TIME_BIN_END].values, dtype=float))


@dataclass(frozen=True)
class TemporalMap:
    """Map model time steps onto neural time bins.

    Use the constructors :func:`one_to_one`, :func:`constant` and :func:`graded`.

    Parameters
    ----------
    kind : {"one_to_one", "constant", "graded"}
    latency_ms : float
        ``one_to_one`` only: neural time (ms after onset) at which model step 0 begins.
    step_ms : float
        ``one_to_one`` only: duration of one model step (docs/design.md: ~10 ms).
    step : int
        ``constant``/``graded``: which model time step (python index into the ``time_step`` dim)
        holds the feedforward response.
    layers : tuple of str, optional
        ``graded`` only: layer order, low to high (default: order of first appearance).
    latencies_ms : tuple of float, optional
        ``one_to_one`` only: candidate latencies, chosen on training folds by
        :func:`~brainfit.scoring.fit_and_score` (module docstring); ``latency_ms`` is then unused.
        A map with a grid cannot be applied by itself: :meth:`at_latency` gives each candidate.
    outside : {"error", "blank"}
        ``one_to_one`` only: a bin that no model step overlaps is an error, or gets zero features
        (the blank state before the model responds; what each candidate of a grid uses).
    steps : tuple of int, optional
        ``constant`` only: candidate steps, the one copied to every bin chosen on training folds
        like a latency -- a time-varying model's own best single step, the "static" control that
        keeps its features and drops its dynamics.
    shuffle_seed : int, optional
        ``one_to_one`` only: each stimulus's time steps are permuted (its own permutation, drawn
        from this seed) before mapping -- the "time-shuffled" control: the same features and the
        same values per stimulus, their order over time destroyed.
    """

    kind: str
    latency_ms: float = 0.0
    step_ms: float = 10.0
    step: int = -1
    layers: tuple[str, ...] | None = field(default=None)
    latencies_ms: tuple[float, ...] | None = None
    outside: str = "error"
    steps: tuple[int, ...] | None = None
    shuffle_seed: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("one_to_one", "constant", "graded"):
            raise ValueError(f"unknown temporal map kind {self.kind!r}; use 'one_to_one', 'constant' or 'graded'")
        if self.step_ms <= 0:
            raise ValueError(f"step_ms must be > 0, got {self.step_ms}")
        if self.outside not in ("error", "blank"):
            raise ValueError(f"outside must be 'error' or 'blank', got {self.outside!r}")
        if self.steps is not None:
            if self.kind != "constant":
                raise ValueError(f"a grid of steps applies to constant maps only, not {self.kind!r}")
            if (not isinstance(self.steps, tuple) or not self.steps or len(set(self.steps)) != len(self.steps)
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in self.steps)):
                raise ValueError(f"steps must be a non-empty tuple of distinct ints, got {self.steps!r}")
        if self.shuffle_seed is not None and (self.kind != "one_to_one" or isinstance(self.shuffle_seed, bool)
                                              or not isinstance(self.shuffle_seed, int) or self.shuffle_seed < 0):
            raise ValueError("shuffle_seed (an int >= 0) applies to one_to_one maps only, got "
                             f"{self.shuffle_seed!r} for a {self.kind!r} map")
        if self.latencies_ms is not None:
            grid = self.latencies_ms
            if self.kind != "one_to_one":
                raise ValueError(f"a latency grid applies to one_to_one maps only, not {self.kind!r}")
            if (not isinstance(grid, tuple) or not grid or len(set(grid)) != len(grid)
                    or not all(isinstance(x, float) and np.isfinite(x) for x in grid)):
                raise ValueError(f"latencies_ms must be a non-empty tuple of distinct finite floats, got {grid!r}")

    @property
    def shared_features(self) -> bool:
        """True when every bin receives the same features (fit all bins as one problem)."""
        return self.kind == "constant"

    @property
    def choice(self) -> str | None:
        """What :func:`~brainfit.scoring.fit_and_score` chooses on training folds for this map:
        ``"latency_ms"`` (a latency grid), ``"step"`` (a grid of steps) or None."""
        return "latency_ms" if self.latencies_ms is not None else "step" if self.steps is not None else None

    def candidates(self) -> list[tuple[float, TemporalMap]]:
        """``(value, plain map)`` of every candidate of this map's grid (one: itself, value NaN)."""
        if self.latencies_ms is not None:
            return [(x, self.at_latency(x)) for x in self.latencies_ms]
        if self.steps is not None:
            return [(float(x), TemporalMap("constant", step=x)) for x in self.steps]
        return [(float("nan"), self)]

    def at_latency(self, latency_ms: float) -> TemporalMap:
        """The plain ``one_to_one`` map of one latency of this grid (bins outside the steps blank)."""
        return TemporalMap("one_to_one", latency_ms=float(latency_ms), step_ms=self.step_ms, outside="blank",
                           shuffle_seed=self.shuffle_seed)

    def to_dict(self) -> dict:
        """Settings as a plain dict (stored in score attrs and configs; settings at their defaults
        that older versions lacked are left out, so the dict -- and every key made from it -- is
        what it was for the maps those versions had)."""
        d = {"kind": self.kind, "latency_ms": self.latency_ms, "step_ms": self.step_ms,
             "step": self.step, "layers": list(self.layers) if self.layers else None}
        if self.latencies_ms is not None:
            d["latency_ms"] = list(self.latencies_ms)
        if self.outside != "error":
            d["outside"] = self.outside
        if self.steps is not None:
            d["step"] = list(self.steps)
        if self.shuffle_seed is not None:
            d["shuffle_seed"] = self.shuffle_seed
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TemporalMap:
        """Inverse of :meth:`to_dict`; unspecified settings take their defaults (configs give e.g.
        ``{"kind": "one_to_one", "latency_ms": 0}``, or a list of latencies to choose from on
        training folds: ``{"kind": "one_to_one", "latency_ms": [0, 10, 20]}``)."""
        if not isinstance(d, dict) or "kind" not in d:
            raise ValueError(f"a temporal map is a mapping with a 'kind' ('one_to_one', 'constant', 'graded'), got {d!r}")
        known = {"kind", "latency_ms", "step_ms", "step", "layers", "outside", "shuffle_seed"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown temporal map setting(s) {unknown}; known: {sorted(known)}")
        d = dict(d)
        if d.get("layers") is not None:
            d["layers"] = tuple(d["layers"])
        if isinstance(d.get("latency_ms"), (list, tuple)):
            grid = d.pop("latency_ms")
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in grid):
                raise ValueError(f"latency_ms must be a number or a list of numbers (ms), got {grid!r}")
            d["latencies_ms"] = tuple(float(x) for x in grid)
        if isinstance(d.get("step"), (list, tuple)):
            steps = d.pop("step")
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in steps):
                raise ValueError(f"step must be an int or a list of ints (time-step indices), got {steps!r}")
            d["steps"] = tuple(int(x) for x in steps)
        return cls(**d)

    # ------------------------------------------------------------------ weights
    def step_weights(self, time_steps: Sequence[int], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Weight of each model step for each bin (``one_to_one``), shape (n_bins, n_steps).

        Raises
        ------
        ValueError
            When a bin overlaps no model step; names the bin and the steps' time span.
        """
        steps = np.asarray(time_steps, dtype=float)
        s0 = self.latency_ms + steps * self.step_ms
        s1 = s0 + self.step_ms
        overlap = np.clip(np.minimum(ends[:, None], s1[None, :]) - np.maximum(starts[:, None], s0[None, :]), 0, None)
        total = overlap.sum(axis=1)
        empty = np.flatnonzero(total <= 0)
        if len(empty) and self.outside == "blank":  # no step: a row of zeros (the blank state)
            return np.divide(overlap, total[:, None], out=np.zeros_like(overlap), where=total[:, None] > 0)
        if len(empty):
            b = int(empty[0])
            raise ValueError(
                f"time bin [{starts[b]:g}, {ends[b]:g}) ms has no model time step: steps "
                f"{int(steps[0])}..{int(steps[-1])} cover {s0[0]:g}..{s1[-1]:g} ms with latency "
                f"{self.latency_ms:g} ms and {self.step_ms:g} ms per step; unroll more steps or change the latency"
            )
        return overlap / total[:, None]

    # ------------------------------------------------------------------ apply
    def __call__(self, activations: xr.DataArray, neural: xr.DataArray) -> xr.DataArray:
        """Re-index activations from model time steps to the neural assembly's time bins.

        Parameters
        ----------
        activations : DataArray (presentation x neuroid x time_step)
        neural : DataArray (presentation x neuroid x time_bin)
            Only its time bins are used.

        Returns
        -------
        DataArray (presentation x neuroid x time_bin) with the activations' presentation and
        neuroid coords and the neural ``time_bin_start``/``time_bin_end``.
        """
        if self.choice is not None:
            grid = list(self.latencies_ms or self.steps)
            raise ValueError(f"this {self.kind} map has a grid of {self.choice} {grid}: the value is chosen on "
                             "training folds by brainfit.scoring.fit_and_score; apply one of .candidates()")
        act = validate_activations(activations)
        neural = validate_neural(neural)
        starts, ends = bins_of(neural)
        values = act.values
        if self.shuffle_seed is not None:  # each stimulus's own permutation of its steps (by its id)
            order = _step_permutations(act.coords["stimulus_id"].values, values.shape[2], self.shuffle_seed)
            values = np.take_along_axis(values, order[:, None, :], axis=2)
        n_bins = len(starts)
        if self.kind == "one_to_one":
            w = self.step_weights(act.coords[TIME_STEP].values, starts, ends)
            covered = w.sum(axis=1) > 0
            if np.all((w == 0) | (w == 1)):  # pure selection: no arithmetic, exact values
                out = values[:, :, w.argmax(axis=1)]
                out[:, :, ~covered] = 0
            else:
                out = np.einsum("pnt,bt->pnb", values, w.astype(values.dtype))
            if covered.all():  # blank bins are constant on purpose
                self._check_not_constant(act, out, w.argmax(axis=1))
        elif self.kind == "constant":
            idx = self._step_index(act)
            out = np.repeat(values[:, :, idx:idx + 1], n_bins, axis=2)
        else:
            idx = self._step_index(act)
            layer_of = np.asarray(act.coords[LAYER].values).astype(str)
            order = list(self.layers) if self.layers else list(dict.fromkeys(layer_of.tolist()))
            unknown = [name for name in order if name not in set(layer_of)]
            if unknown:
                raise ValueError(f"graded map names layer(s) {unknown} not in activations; layers present: {sorted(set(layer_of))}")
            share = np.minimum((np.arange(n_bins) * len(order)) // n_bins, len(order) - 1)
            out = np.zeros(values.shape[:2] + (n_bins,), dtype=values.dtype)
            for b in range(n_bins):
                mask = layer_of == order[share[b]]
                out[:, mask, b] = values[:, mask, idx]
        coords = {k: c for k, c in act.coords.items() if TIME_STEP not in c.dims}
        coords[TIME_BIN_START] = (TIME_BIN, starts)
        coords[TIME_BIN_END] = (TIME_BIN, ends)
        attrs = dict(act.attrs)
        attrs["temporal_map"] = self.to_dict()
        return xr.DataArray(out, dims=NEURAL_DIMS, coords=coords, attrs=attrs)

    def _step_index(self, act: xr.DataArray) -> int:
        n = act.sizes[TIME_STEP]
        if not -n <= self.step < n:
            raise ValueError(f"{self.kind} map uses step index {self.step} but activations have {n} time step(s)")
        return self.step % n

    @staticmethod
    def _check_not_constant(act: xr.DataArray, out: np.ndarray, step_of_bin: np.ndarray) -> None:
        # A layer read before the feedforward signal reaches it is constant over stimuli: it can
        # predict nothing in that bin (its fit scores ~0, as it should). Say so, once per layer.
        layer_of = np.asarray(act.coords[LAYER].values).astype(str)
        for name in dict.fromkeys(layer_of.tolist()):
            cols = out[:, layer_of == name, :]
            spread = np.ptp(cols, axis=0).max(axis=0) if cols.shape[0] > 1 else np.ones(cols.shape[2])
            dead = np.flatnonzero(spread == 0)
            if len(dead):
                step = int(np.asarray(act.coords[TIME_STEP].values)[step_of_bin[dead[-1]]])
                warnings.warn(
                    f"layer {name!r} is constant over stimuli in {len(dead)} time bin(s) (up to model step {step}): "
                    "the feedforward signal has not reached it yet, so it cannot predict those bins",
                    RuntimeWarning, stacklevel=3)


def _step_permutations(stimulus_ids: np.ndarray, n_steps: int, seed: int) -> np.ndarray:
    """(n_stimuli, n_steps) permutations, each drawn from ``seed`` and the stimulus's id (so a
    stimulus gets the same one in any presentation order)."""
    out = np.empty((len(stimulus_ids), n_steps), dtype=np.int64)
    for i, sid in enumerate(np.asarray(stimulus_ids).astype(str)):
        key = int.from_bytes(hashlib.blake2b(sid.encode(), digest_size=8).digest(), "little")
        out[i] = np.random.default_rng([seed, key]).permutation(n_steps)
    return out


def one_to_one(latency_ms: float = 0.0, step_ms: float = 10.0) -> TemporalMap:
    """Model step ``t`` <-> neural time ``[latency + t*step, latency + (t+1)*step)`` ms (ConvRNNs)."""
    return TemporalMap("one_to_one", latency_ms=float(latency_ms), step_ms=float(step_ms))


def latency_grid(latencies_ms: Sequence[float], step_ms: float = 10.0) -> TemporalMap:
    """A ``one_to_one`` map whose latency :func:`~brainfit.scoring.fit_and_score` chooses from
    ``latencies_ms`` on training folds (per region and layer, nested like the layer choice)."""
    return TemporalMap("one_to_one", step_ms=float(step_ms), latencies_ms=tuple(float(x) for x in latencies_ms))


def constant(step: int = -1) -> TemporalMap:
    """One model response (default: the last step) copied to every bin (feedforward models)."""
    return TemporalMap("constant", step=int(step))


def graded(layers: Sequence[str] | None = None, step: int = -1) -> TemporalMap:
    """Feedforward layers spread over bins, low layers early, high layers late (Nayebi et al. 2022)."""
    return TemporalMap("graded", step=int(step), layers=tuple(layers) if layers else None)

