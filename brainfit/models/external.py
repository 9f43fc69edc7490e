"""Wrap any ``torch.nn.Module`` as a zoo member (feedforward: one time step, constant over time)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from brainfit.models.base import VisionModel
from brainfit.models.capture import capture_outputs

__all__ = ["ExternalModel"]


class ExternalModel(VisionModel):
    """A module plus the names of the submodules to read, following brainfit's model contract.

    Parameters
    ----------
    module : nn.Module
        Any network mapping images (B, 3, H, W) to an output (logits or features).
    layers : sequence of str
        Dotted submodule names (``module.named_modules()``), low to high. Extraction hooks them
        directly.
    regions : mapping, optional
        Layer -> brain area.
    input_size : int, optional
        Image size to feed (default preprocessing).
    norm_mean, norm_std : tuples, optional
        Input normalisation the module expects.
    """

    def __init__(self, module: nn.Module, layers: Sequence[str], *, regions: Mapping[str, str] | None = None,
                 input_size: int | None = None, norm_mean: Sequence[float] | None = None,
                 norm_std: Sequence[float] | None = None, n_classes: int | None = None):
        super().__init__()
        self.module = module
        named = dict(module.named_modules())
        unknown = [n for n in layers if n not in named]
        if unknown:
            examples = [n for n in named if n][:8]
            raise ValueError(f"unknown submodule name(s) {unknown}; e.g. {examples}")
        if not layers:
            raise ValueError("ExternalModel needs at least one layer name")
        self._layer_names = list(layers)
        self.regions = dict(regions or {})
        self.input_size = input_size
        if norm_mean is not None:
            self.norm_mean = tuple(float(v) for v in norm_mean)
        if norm_std is not None:
            self.norm_std = tuple(float(v) for v in norm_std)
        self.n_classes = n_classes or 0

    @property
    def layers(self) -> dict[str, nn.Module]:
        named = dict(self.module.named_modules())
        return {n: named[n] for n in self._layer_names}

    def forward(self, images: torch.Tensor, n_steps: int | None = None, on_steps: int | None = None,
                return_layers: bool = False):
        """The module's output with a time axis of length 1: (B, 1, ...); optionally the layers."""
        captured: dict[str, torch.Tensor] = {}
        if return_layers:
            with capture_outputs(self.layers, captured.__setitem__):
                out = self.module(images)
        else:
            out = self.module(images)
        out = out[:, None] if isinstance(out, torch.Tensor) else out
        if return_layers:
            return out, {k: v[:, None] for k, v in captured.items()}
        return out
