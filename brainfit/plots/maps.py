"""Activations as images: one layer's channel maps over time steps (:func:`brainfit.activations.layer_maps`),
and the training snapshots' channel means over time steps across training iterations
(:mod:`brainfit.training.snapshots`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from brainfit.plots._base import _pyplot

__all__ = ["plot_channel_maps", "plot_snapshot_maps"]


def _indices(what: str, chosen: int | Sequence[int] | None, n: int, default: int) -> list[int]:
    """Positions to draw: all (``default`` first) for None, the first ``k`` for an int, else as given."""
    if chosen is None:
        return list(range(min(default, n)))
    if isinstance(chosen, (int, np.integer)):
        if chosen < 1:
            raise ValueError(f"{what} as a count must be >= 1, got {chosen}")
        return list(range(min(int(chosen), n)))
    idx = [int(i) for i in chosen]
    bad = [i for i in idx if not 0 <= i < n]
    if bad or not idx:
        raise ValueError(f"{what} {bad or idx} out of range: there are {n} (0..{n - 1})")
    return idx


def plot_channel_maps(maps: np.ndarray, *, channels: int | Sequence[int] | None = 8,
                      steps: int | Sequence[int] | None = None, fig: Any = None, cmap: str = "viridis") -> Any:
    """Grid of channel maps: rows = channels, columns = time steps, one colour scale per row.

    Parameters
    ----------
    maps : ndarray (time_step x channel x H x W)
        E.g. :func:`brainfit.activations.layer_maps` for one layer and one image.
    channels : int or sequence of int
        The first ``k`` channels, or these channel indices (default: the first 8).
    steps : int or sequence of int, optional
        The first ``k`` steps, or these step indices (default: every step).
    fig : matplotlib Figure, optional
        Drawn into (its existing axes are kept); default: a new figure.
    cmap : str

    Returns
    -------
    matplotlib Figure
        ``len(channels) x len(steps)`` image axes (step numbers as column titles, channel
        numbers as row labels), each row sharing ``vmin``/``vmax`` over its steps, with one
        colorbar per row.

    Raises
    ------
    ValueError
        For ``maps`` that are not 4-D, non-finite, or channels/steps out of range.
    """
    maps = np.asarray(maps)
    if maps.ndim != 4:
        raise ValueError(f"maps must be (time_step x channel x H x W), got shape {maps.shape}")
    if not np.isfinite(maps).all():
        raise ValueError("maps hold non-finite values")
    ch = _indices("channels", channels, maps.shape[1], maps.shape[1])
    st = _indices("steps", steps, maps.shape[0], maps.shape[0])
    fig = fig if fig is not None else _pyplot().figure(figsize=(1.1 * len(st) + 1.2, 1.1 * len(ch) + 0.6),
                                                     layout="constrained")
    axes = np.asarray(fig.subplots(len(ch), len(st), squeeze=False))
    for r, c in enumerate(ch):
        vmin, vmax = float(maps[st, c].min()), float(maps[st, c].max())
        for k, s in enumerate(st):
            ax = axes[r, k]
            im = ax.imshow(maps[s, c], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t={s}", fontsize=8)
            if k == 0:
                ax.set_ylabel(f"ch {c}", fontsize=8)
        fig.colorbar(im, ax=list(axes[r]), fraction=0.02, pad=0.01)
    return fig


def _load_snapshots(snapshots: str | os.PathLike | tuple) -> tuple[np.ndarray, Mapping[str, np.ndarray]]:
    if isinstance(snapshots, (str, os.PathLike)):
        from brainfit.training import read_snapshots

        if not os.path.exists(snapshots):
            raise ValueError(f"snapshot file not found: {snapshots}")
        return read_snapshots(snapshots)
    if isinstance(snapshots, tuple) and len(snapshots) == 2 and isinstance(snapshots[1], Mapping):
        return np.asarray(snapshots[0]), snapshots[1]
    raise ValueError("snapshots must be a snapshot file path or the (iterations, {layer: array}) pair read_snapshots "
                     f"returns, got {type(snapshots).__name__}")


def plot_snapshot_maps(snapshots: str | os.PathLike | tuple, layer: str, *, probes: int | Sequence[int] = 0,
                       iterations: Sequence[int] | None = None, fig: Any = None, cmap: str = "viridis") -> Any:
    """How a layer's snapshot representation changes over training: iterations as columns.

    The training snapshots (:class:`brainfit.training.ActivationSnapshots`) store, per probe
    image, the *spatial mean of every channel* at every time step -- not the maps themselves.
    Each panel therefore shows channel (rows) x time step (columns) of those means, for one
    probe image (grid row) at one training iteration (grid column), on one colour scale for the
    whole grid so that iterations can be compared.

    Parameters
    ----------
    snapshots : path or ``(iterations, {layer: array})``
        A snapshot file, or what :func:`brainfit.training.read_snapshots` returns: iterations
        ``(n_snapshots,)`` and per layer an array ``(n_snapshots, n_probe, n_steps, n_channels)``.
    layer : str
    probes : int or sequence of int
        Probe image position(s), one grid row each (default: the first probe).
    iterations : sequence of int, optional
        Training iterations to show (default: every snapshot), by iteration number.
    fig : matplotlib Figure, optional
    cmap : str

    Returns
    -------
    matplotlib Figure
        ``len(probes) x len(iterations)`` image axes titled ``iter <n>``; each image is
        ``(channel x time_step)``; one colorbar.

    Raises
    ------
    ValueError
        For an unknown layer (listing the stored ones), iterations not stored (listing them),
        probes out of range, or arrays of the wrong shape.
    """
    its, data = _load_snapshots(snapshots)
    its = np.asarray(its).astype(int)
    if layer not in data:
        raise ValueError(f"layer {layer!r} not in the snapshots; layers: {sorted(data)}")
    arr = np.asarray(data[layer])
    if arr.ndim != 4 or arr.shape[0] != len(its):
        raise ValueError(f"snapshots of {layer!r} must be (n_snapshots={len(its)}, n_probe, n_steps, n_channels), "
                         f"got shape {arr.shape}")
    if iterations is None:
        cols = list(range(len(its)))
    else:
        missing = [i for i in iterations if i not in set(its.tolist())]
        if missing:
            raise ValueError(f"iteration(s) {missing} not in the snapshots; stored: {its.tolist()}")
        cols = [int(np.flatnonzero(its == i)[-1]) for i in iterations]
    rows = _indices("probes", [probes] if isinstance(probes, (int, np.integer)) else probes, arr.shape[1], 1)
    shown = arr[np.ix_(cols, rows)]  # (iteration, probe, step, channel)
    vmin, vmax = float(np.nanmin(shown)), float(np.nanmax(shown))
    fig = fig if fig is not None else _pyplot().figure(figsize=(1.8 * len(cols) + 1.2, 1.9 * len(rows) + 0.8),
                                                     layout="constrained")
    axes = np.asarray(fig.subplots(len(rows), len(cols), squeeze=False, sharex=True, sharey=True))
    for r, p in enumerate(rows):
        for k, c in enumerate(cols):
            ax = axes[r, k]
            im = ax.imshow(arr[c, p].T, aspect="auto", origin="upper", cmap=cmap, vmin=vmin, vmax=vmax,
                           interpolation="nearest")
            if r == 0:
                ax.set_title(f"iter {its[c]}", fontsize=8)
            if r == len(rows) - 1:
                ax.set_xlabel("time step", fontsize=8)
            if k == 0:
                ax.set_ylabel(f"probe {p}\nchannel", fontsize=8)
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label="channel mean over space")
    fig.suptitle(f"{layer}: spatial mean per channel and time step, over training", fontsize=9)
    return fig
