"""Activation snapshots during training: how representations form over training and over time.

:class:`ActivationSnapshots` is a training callback. Every ``every`` optimisation steps it runs a
fixed set of probe images through the model (eval mode, no gradients), reads the selected layers
with the one capture mechanism (:mod:`brainfit.models.capture`) and appends each layer's
channel-mean activations per time step (zeros before the layer's arrival step) to an HDF5 file::

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
from brainfit.models.base import eval_mode
from brainfit.models.capture import ModelView

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
        view = ModelView(model, self.layers)
        n_t = (self.n_steps or int(getattr(model, "n_steps", 1))) if view.time_varying else 1
        # channel means (P, C) of every output, captured as the forward pass produces them
        means: dict[str, list[torch.Tensor]] = {n: [] for n in view.names}
        with eval_mode(model), view.capture(lambda name, out: means[name].append(_channel_mean(out))):
            view.run(self.probe.to(next(model.parameters()).device), n_steps=self.n_steps)
        # A resumed run may revisit iterations already recorded: drop those, keep order.
        keep = sum(1 for i in self.iterations if i < iteration)
        self.iterations = self.iterations[:keep] + [iteration]
        for name in view.names:
            got = means[name]
            if len(got) != n_t - view.arrival[name]:
                raise RuntimeError(f"layer {name!r} produced {len(got)} outputs in {n_t} steps with arrival step "
                                   f"{view.arrival[name]}; the model's hook contract is broken")
            steps = [torch.zeros_like(got[0])] * view.arrival[name] + got  # zeros before the layer's arrival
            act = torch.stack(steps, dim=1).cpu().numpy()  # (P, T, C)
            self.data[name] = self.data.get(name, [])[:keep] + [act]
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


def _channel_mean(out: torch.Tensor) -> torch.Tensor:
    """(P, C, H, W) -> (P, C) float; a (P, C) output is kept."""
    out = out.detach().float()
    return out.mean(dim=tuple(range(2, out.dim()))) if out.dim() > 2 else out


def read_snapshots(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(iterations, {layer: array (n_snapshots, n_probe, n_steps, n_channels)})``."""
    with h5py.File(path, "r") as f:
        return f["iteration"][()], {k: v[()] for k, v in f["layers"].items()}
