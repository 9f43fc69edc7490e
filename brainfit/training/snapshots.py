"""Activation snapshots during training: how representations form over training and over time.

:class:`ActivationSnapshots` is a training callback. Every ``every`` optimisation steps it runs a
fixed set of probe images through the model (eval mode, no gradients) and appends each selected
layer's channel-mean activations per time step to an HDF5 file::

    /iteration               (n_snapshots,)
    /layers/<layer>          (n_snapshots, n_probe, n_steps, n_channels)   float32
    /probe_labels            (n_probe,)

The file is rewritten atomically at every snapshot, so an interrupted run leaves a readable file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import torch

from brainfit._io import atomic_path

__all__ = ["ActivationSnapshots", "read_snapshots"]

log = logging.getLogger(__name__)


class ActivationSnapshots:
    """Training callback storing channel-mean activations of probe images every ``every`` steps.

    Parameters
    ----------
    path : path
        HDF5 output file.
    probe_images : tensor (P, 3, H, W)
        Normalised probe batch (fixed for the whole run).
    layers : sequence of str, optional
        Layer names (default: every layer of the model).
    every : int
        Snapshot period in optimisation steps.
    n_steps : int, optional
        Unroll length for the probes (default: the model's own).
    probe_labels : array (P,), optional
    """

    def __init__(self, path: str | os.PathLike, probe_images: torch.Tensor, *, layers: Sequence[str] | None = None,
                 every: int = 100, n_steps: int | None = None, probe_labels: np.ndarray | None = None):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.path = Path(path)
        self.probe = probe_images
        self.layers = list(layers) if layers is not None else None
        self.every = every
        self.n_steps = n_steps
        self.labels = np.asarray(probe_labels) if probe_labels is not None else np.arange(len(probe_images))
        self.iterations: list[int] = []
        self.data: dict[str, list[np.ndarray]] = {}
        if self.path.exists():  # resume: keep earlier snapshots
            its, data = read_snapshots(self.path)
            self.iterations = list(its)
            self.data = {k: list(v) for k, v in data.items()}

    @torch.no_grad()
    def snapshot(self, model: torch.nn.Module, iteration: int) -> None:
        """Record one snapshot now."""
        was = model.training
        model.eval()
        x = self.probe.to(next(model.parameters()).device)
        kw = {"n_steps": self.n_steps} if getattr(model, "is_recurrent", False) else {}
        _, per_layer = model(x, return_layers=True, **kw)
        model.train(was)
        names = self.layers or list(per_layer)
        missing = [n for n in names if n not in per_layer]
        if missing:
            raise ValueError(f"snapshot layers {missing} not in model; layers: {list(per_layer)}")
        # A resumed run may revisit iterations already recorded: drop those, keep order.
        keep = sum(1 for i in self.iterations if i < iteration)
        self.iterations = self.iterations[:keep] + [iteration]
        for name in names:
            act = per_layer[name]  # (P, T, C, H, W)
            self.data[name] = self.data.get(name, [])[:keep] + [act.float().mean(dim=(-2, -1)).cpu().numpy()]
        self._write()

    def __call__(self, state: dict) -> None:
        if state["iteration"] % self.every == 0:
            self.snapshot(state["model"], state["iteration"])

    def _write(self) -> None:
        with atomic_path(self.path) as tmp:
            with h5py.File(tmp, "w") as f:
                f["iteration"] = np.asarray(self.iterations, dtype=np.int64)
                f["probe_labels"] = self.labels
                grp = f.create_group("layers")
                for name, snaps in self.data.items():
                    grp.create_dataset(name, data=np.stack(snaps).astype(np.float32), compression="gzip")


def read_snapshots(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(iterations, {layer: array (n_snapshots, n_probe, n_steps, n_channels)})``."""
    with h5py.File(path, "r") as f:
        return f["iteration"][()], {k: v[()] for k, v in f["layers"].items()}
