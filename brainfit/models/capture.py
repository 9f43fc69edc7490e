"""Capture of layer outputs: the one mechanism behind extraction, training snapshots and the
external-model wrapper.

:class:`ModelView` is a uniform view of any model for reading its layers: which module to hook
for each layer (a registry model's ``layers[name].output`` identity, or a dotted submodule name
of any other module), whether the model is recurrent or time-varying, and the step at which
each layer first has an output. :func:`capture_outputs` registers forward hooks on those
modules for the duration of a ``with`` block and hands every output to a callback, once per
time step at which the layer produces one.

It lives with the models (not with ``brainfit.activations``) because the external-model
wrapper and the training snapshots, which sit below the activation layer, use it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

__all__ = ["ModelView", "capture_outputs"]


@contextlib.contextmanager
def capture_outputs(modules: Mapping[str, nn.Module],
                    on_output: Callable[[str, torch.Tensor], None]) -> Iterator[None]:
    """Call ``on_output(name, tensor)`` for every output of ``modules[name]`` inside the block.

    A module returning a tuple or list hands over its first element. The hooks are removed when
    the block exits, also on an exception.
    """
    handles = []

    def make_hook(name: str) -> Callable:
        def hook(_module: nn.Module, _inputs: tuple, output: object) -> None:
            if isinstance(output, (tuple, list)):
                output = output[0]
            on_output(name, output)
        return hook

    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        yield
    finally:
        for h in handles:
            h.remove()


class ModelView:
    """How to read the layers of ``model``.

    Parameters
    ----------
    model : nn.Module
        A brainfit model (a ``layers`` mapping whose blocks end in an ``output`` hook point, plus
        ``is_recurrent``, ``time_varying``, ``arrival_step``, ``regions``), or any module, whose
        layers are then dotted submodule names and which is treated as feedforward (one step).
    layers : sequence of str, optional
        Layer names (default: every layer of a brainfit model; required for other modules).

    Attributes
    ----------
    names : list of str
    hooks : dict name -> module to hook
    is_recurrent, time_varying : bool
    arrival : dict name -> first step with an output
    regions : dict name -> region ("" when unassigned)
    native : bool
        True for a model with its own ``layers`` mapping.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] | None = None):
        self.model = model
        own = getattr(model, "layers", None)
        if isinstance(own, dict) and own:
            self.native = True
            available = list(own)
            names = list(layers) if layers is not None else available
            unknown = [n for n in names if n not in own]
            if unknown:
                raise ValueError(f"unknown layer(s) {unknown} for {type(model).__name__}; layers: {available}")
            self.hooks = {n: getattr(own[n], "output", own[n]) for n in names}
            self.is_recurrent = bool(getattr(model, "is_recurrent", False))
            self.time_varying = bool(getattr(model, "time_varying", self.is_recurrent))
            arrival = getattr(model, "arrival_step", None)
            self.arrival = {n: int(arrival(n)) if callable(arrival) else 0 for n in names}
            regions = getattr(model, "regions", None) or {}
            self.regions = {n: str(regions.get(n, "")) for n in names}
        else:
            self.native = False
            if not layers:
                raise ValueError(f"{type(model).__name__} has no `layers` mapping: pass layers= as dotted module names "
                                 f"(e.g. {[n for n, _ in model.named_modules() if n][:5]})")
            modules = dict(model.named_modules())
            unknown = [n for n in layers if n not in modules]
            if unknown:
                raise ValueError(f"unknown module name(s) {unknown} in {type(model).__name__}")
            names = list(layers)
            self.hooks = {n: modules[n] for n in names}
            self.is_recurrent = False
            self.time_varying = False
            self.arrival = {n: 0 for n in names}
            self.regions = {n: "" for n in names}
        self.names = names

    def run(self, x: torch.Tensor, n_steps: int | None = None, on_steps: int | None = None) -> object:
        """One forward pass (unrolled ``n_steps`` with the image on for ``on_steps`` when time-varying)."""
        if self.native and self.time_varying:
            return self.model(x, n_steps=n_steps, on_steps=on_steps)
        return self.model(x)

    def capture(self, on_output: Callable[[str, torch.Tensor], None]) -> contextlib.AbstractContextManager:
        """:func:`capture_outputs` on this view's hook points."""
        return capture_outputs(self.hooks, on_output)
