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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import warnings

import numpy as np
import xarray as xr

from brainfit.assembly import (
    LAYER, NEURAL_DIMS, TIME_BIN, TIME_BIN_END, TIME_BIN_START, TIME_STEP,
    validate_activations, validate_neural,
)

__all__ = ["TemporalMap", "one_to_one", "constant", "graded", "bins_of"]


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
    """

    kind: str
    latency_ms: float = 0.0
    step_ms: float = 10.0
    step: int = -1
    layers: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.kind not in ("one_to_one", "constant", "graded"):
            raise ValueError(f"unknown temporal map kind {self.kind!r}; use 'one_to_one', 'constant' or 'graded'")
        if self.step_ms <= 0:
            raise ValueError(f"step_ms must be > 0, got {self.step_ms}")

    @property
    def shared_features(self) -> bool:
        """True when every bin receives the same features (fit all bins as one problem)."""
        return self.kind == "constant"

    def to_dict(self) -> dict:
        """Settings as a plain dict (stored in score attrs and configs)."""
        return {"kind": self.kind, "latency_ms": self.latency_ms, "step_ms": self.step_ms,
                "step": self.step, "layers": list(self.layers) if self.layers else None}

    @classmethod
    def from_dict(cls, d: dict) -> TemporalMap:
        """Inverse of :meth:`to_dict`; unspecified settings take their defaults (configs give e.g.
        ``{"kind": "one_to_one", "latency_ms": 0}``)."""
        if not isinstance(d, dict) or "kind" not in d:
            raise ValueError(f"a temporal map is a mapping with a 'kind' ('one_to_one', 'constant', 'graded'), got {d!r}")
        known = {"kind", "latency_ms", "step_ms", "step", "layers"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown temporal map setting(s) {unknown}; known: {sorted(known)}")
        d = dict(d)
        if d.get("layers") is not None:
            d["layers"] = tuple(d["layers"])
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
        act = validate_activations(activations)
        neural = validate_neural(neural)
        starts, ends = bins_of(neural)
        values = act.values
        n_bins = len(starts)
        if self.kind == "one_to_one":
            w = self.step_weights(act.coords[TIME_STEP].values, starts, ends)
            if np.all((w == 0) | (w == 1)):  # pure selection: no arithmetic, exact values
                out = values[:, :, w.argmax(axis=1)]
            else:
                out = np.einsum("pnt,bt->pnb", values, w.astype(values.dtype))
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


def one_to_one(latency_ms: float = 0.0, step_ms: float = 10.0) -> TemporalMap:
    """Model step ``t`` <-> neural time ``[latency + t*step, latency + (t+1)*step)`` ms (ConvRNNs)."""
    return TemporalMap("one_to_one", latency_ms=float(latency_ms), step_ms=float(step_ms))


def constant(step: int = -1) -> TemporalMap:
    """One model response (default: the last step) copied to every bin (feedforward models)."""
    return TemporalMap("constant", step=int(step))


def graded(layers: Sequence[str] | None = None, step: int = -1) -> TemporalMap:
    """Feedforward layers spread over bins, low layers early, high layers late (Nayebi et al. 2022)."""
    return TemporalMap("graded", step=int(step), layers=tuple(layers) if layers else None)

