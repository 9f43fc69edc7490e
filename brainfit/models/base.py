"""The model contract every brainfit model follows (registry models and wrapped external ones).

A :class:`VisionModel` exposes

* ``layers``: ordered ``{name: block}`` (low to high); each block has an ``output``
  :class:`torch.nn.Identity` called exactly once per time step at which the block's output
  exists, with that output (B, C, H, W) — the stable hook point for extraction;
* ``norm_mean`` / ``norm_std``: the input normalisation it was trained with;
* ``regions``: ``{layer: "V1" | "V4" | "IT" ...}`` for layers assigned to an area;
* ``is_recurrent``: whether states or feedback carry information across time steps;
* ``n_steps`` / ``on_steps``: default unroll length and stimulus duration (docs/design.md: 26 steps of
  ~10 ms, image for the first 10, mean gray after); ``time_varying`` is True when the model
  produces more than one time step;
* ``arrival_step(layer)``: the first step at which ``layer`` has an output (a pipelined network
  passes one edge per step, so block k first outputs at step k); ``readout_step()``: the first
  step whose logits depend on the image;
* ``forward(images, n_steps=None, on_steps=None, return_layers=False)`` returning logits
  (B, T, n_classes) and, with ``return_layers``, ``{layer: (B, T, C, H, W)}`` (zeros before
  arrival). Images are normalised, so a zero image is the mean gray shown after offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["VisionModel", "count_params"]


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class VisionModel(nn.Module):
    """Base class holding the contract attributes (see the module docstring)."""

    is_recurrent: bool = False
    n_steps: int = 1
    on_steps: int = 1
    n_classes: int = 10
    input_size: int | None = None
    # Input normalisation the model expects (RGB in [0, 1], then (x - mean) / std).
    norm_mean: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
    norm_std: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)

    def __init__(self) -> None:
        super().__init__()
        self.regions: dict[str, str] = {}

    @property
    def layers(self) -> dict[str, nn.Module]:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def architecture(self) -> dict:
        """Settings that define what the model computes beyond its weights (cache keys, provenance)."""
        return {"class": type(self).__qualname__, "is_recurrent": self.is_recurrent, "n_steps": self.n_steps,
                "on_steps": self.on_steps, "input_size": self.input_size}

    @property
    def time_varying(self) -> bool:
        """True when the model produces more than one time step."""
        return self.n_steps > 1

    def arrival_step(self, layer: str) -> int:
        """First time step at which ``layer`` has an output (0 for feedforward models)."""
        if layer not in self.layers:
            raise KeyError(f"unknown layer {layer!r}; layers: {list(self.layers)}")
        return 0

    def readout_step(self) -> int:
        """First time step whose logits depend on the image."""
        return 0


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model.eval()`` for the block, then every module's own mode back (not one ``train(flag)``
    for all: a training run may keep some modules, e.g. frozen batch norm, in eval mode)."""
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in zip(model.modules(), modes):
            m.training = mode
