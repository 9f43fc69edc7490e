"""A positive control for the recurrent-vs-feedforward question: a feedforward network's features plus
a recurrent accumulator, unrolled over the real stimulus schedule (image on, then mean gray).

The model is built to win where the ground truth says recurrence matters (docs/design.md, "A claim
of recurrent beats feedforward needs a positive control"). Its feedforward part is any one-step
network (by default the shipped ``ff_small_wider_rgc``, its weights unchanged); at every step ``t``
it sees the image (``t < on_steps``) or the gray screen, and its top block's output ``f_t`` feeds a
leaky integrator::

    s_t = s_{t-1} + (f_t - s_{t-1}) / tau          (s before the image: the response to gray)

The ``accumulator`` layer outputs ``[f_t, s_t]`` stacked over channels: the fast feedforward drive
(a bypass, which follows the image on and off) beside the slow state (which rises while the image
is on and persists on the gray screen after it), so one linear readout can weight the two
differently. Its own feedforward features under a ``constant`` map (the same weights, one step)
are the control it must beat. ``tau`` (5 steps, ~50 ms) is fixed a priori, never fitted to data.

Its layers are ``drive`` (``f_t``) and ``accumulator``; the response to the image and to gray are
each computed once and reused at every step that shows it.
"""

from __future__ import annotations

import torch
from torch import nn

from brainfit.models.base import VisionModel
from brainfit.models.registry import create_model, register_model

__all__ = ["AccumulatorModel", "accumulator_control"]


class _Hook(nn.Module):
    """A layer's hook point (``output``, called once per step)."""

    def __init__(self) -> None:
        super().__init__()
        self.output = nn.Identity()


class AccumulatorModel(VisionModel):
    """``base``'s features plus a leaky accumulator over time (module docstring).

    Layers: ``drive`` (``f_t``, the base block's response to what is on the screen at step ``t``)
    and ``accumulator`` (``[f_t, s_t]``). The base's own blocks are not hook points of this model.

    Parameters
    ----------
    base : VisionModel
        A feedforward network (one time step); its weights are used as they are.
    layer : str, optional
        The base block whose output is accumulated (default: its top block).
    tau : float
        Time constant of the integrator, in steps (>= 1; default 5).
    n_steps, on_steps : int
        Default unroll length and image duration (docs/design.md: 26 and 10).
    """

    is_recurrent = True

    def __init__(self, base: VisionModel, layer: str | None = None, tau: float = 5.0, n_steps: int = 26,
                 on_steps: int = 10) -> None:
        super().__init__()
        if getattr(base, "time_varying", False):
            raise ValueError("the accumulator's base must be a feedforward network with one time step")
        names = list(base.layers)
        self.layer = names[-1] if layer is None else layer
        if self.layer not in names:
            raise ValueError(f"unknown layer {self.layer!r} of the base network; layers: {names}")
        if not tau >= 1.0:
            raise ValueError(f"tau must be >= 1 step, got {tau}")
        self.base, self.tau = base, float(tau)
        self.n_steps, self.on_steps = int(n_steps), int(on_steps)
        self.n_classes, self.input_size = base.n_classes, base.input_size
        self.norm_mean, self.norm_std = base.norm_mean, base.norm_std
        self.drive, self.accumulator = _Hook(), _Hook()
        region = base.regions.get(self.layer)
        self.regions = {"drive": region, "accumulator": region} if region else {}

    @property
    def layers(self) -> dict[str, nn.Module]:
        return {"drive": self.drive, "accumulator": self.accumulator}

    @property
    def architecture(self) -> dict:
        base = getattr(self.base, "architecture", {"class": type(self.base).__qualname__})
        return {**super().architecture, "base": base, "layer": self.layer, "tau": self.tau}

    def arrival_step(self, layer: str) -> int:
        if layer not in self.layers:
            raise KeyError(f"unknown layer {layer!r}; layers: {list(self.layers)}")
        return 0

    def _respond(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The base's logits (B, n_classes) and its block's output (B, C, H, W) for one input."""
        logits, layers = self.base(images, return_layers=True)
        return logits[:, -1], layers[self.layer][:, -1]

    def forward(self, images: torch.Tensor, n_steps: int | None = None, on_steps: int | None = None,
                return_layers: bool = False):
        """Unroll over the schedule: logits (B, T, n_classes) and, with ``return_layers``,
        ``{layer: (B, T, C, H, W)}`` (the accumulator's C is twice the drive's)."""
        if images.dim() != 4:
            raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
        T = self.n_steps if n_steps is None else int(n_steps)
        on = self.on_steps if on_steps is None else int(on_steps)
        if T < 1 or on < 0:
            raise ValueError(f"need n_steps >= 1 and on_steps >= 0, got {T}, {on}")
        shown = self._respond(images) if on > 0 else None  # each input computed once
        gray = self._respond(torch.zeros_like(images))
        state = gray[1]  # before the image: the steady response to gray
        logits, record = [], {"drive": [], "accumulator": []} if return_layers else None
        for t in range(T):
            step_logits, drive = shown if t < on else gray
            state = state + (drive - state) / self.tau
            f = self.drive.output(drive)
            y = self.accumulator.output(torch.cat([drive, state], dim=1))
            if record is not None:
                record["drive"].append(f)
                record["accumulator"].append(y)
            logits.append(step_logits)
        out = torch.stack(logits, 1)
        if record is None:
            return out
        return out, {name: torch.stack(seq, 1) for name, seq in record.items()}


def accumulator_control(base: nn.Module) -> AccumulatorModel:
    """``base`` (e.g. the shipped ``ff_small_wider_rgc``) with the accumulator on its top block."""
    model = AccumulatorModel(base)
    model.eval()
    return model


@register_model("ff_small_wider_rgc_accumulator", weights_of="ff_small_wider_rgc", adapt=accumulator_control)
def ff_small_wider_rgc_accumulator(n_classes: int = 10, tau: float = 5.0, **kw) -> AccumulatorModel:
    """Positive control: ``ff_small_wider_rgc`` (pretrained: its shipped weights, unchanged) plus a leaky
    accumulator of its top block over the stimulus schedule (:mod:`brainfit.models.accumulator`)."""
    return AccumulatorModel(create_model("ff_small_wider_rgc", n_classes=n_classes, **kw), tau=tau)
