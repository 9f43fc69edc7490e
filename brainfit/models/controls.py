"""Feedforward controls matched to a ConvRNN: wider, deeper (by parameter count) and unrolled
(by weights).

A difference in neural predictivity between a ConvRNN and a feedforward network could come from
size alone. The controls rule that out: ``wider`` scales every block's channels and ``deeper``
adds 3x3 blocks at the top until the parameter count is within ``tolerance`` (default ±5%) of the
ConvRNN's; ``unrolled`` keeps the ConvRNN's exact weights but resets every state and drops
feedback at each step, so each step sees only its current input.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from collections.abc import Callable

from torch import nn

from brainfit.models.base import count_params
from brainfit.models.cells import CELL_TYPES
from brainfit.models.convrnn import BlockSpec, ConvRNN
from brainfit.models.feedforward import feedforward_base, spec_params
from brainfit.models.registry import create_model, register_model

__all__ = ["wider_control", "deeper_control", "unrolled_control", "wider_spec", "deeper_spec"]

log = logging.getLogger(__name__)


def _check(name: str, got: int, target: int, tolerance: float) -> None:
    if abs(got - target) > tolerance * target:
        raise ValueError(f"{name} control has {got} parameters, outside ±{tolerance:.0%} of the target {target}")


def wider_spec(spec: tuple[BlockSpec, ...], target: int, n_classes: int = 10) -> tuple[BlockSpec, ...]:
    """Scale every block's channels by one factor (bisection) so the stack has ~``target`` params."""
    def make(f: float) -> tuple[BlockSpec, ...]:
        return tuple(replace(s, channels=max(1, int(round(s.channels * f))), cell=False) for s in spec)

    lo, hi = 0.25, 8.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spec_params(make(mid), n_classes) < target else (lo, mid)
    best = min((make(f) for f in (lo, hi)), key=lambda s: abs(spec_params(s, n_classes) - target))
    return best


def deeper_spec(spec: tuple[BlockSpec, ...], target: int, n_classes: int = 10, max_extra: int = 12) -> tuple[BlockSpec, ...]:
    """Add 3x3 blocks (no pooling) at the top; the last one's width is tuned to hit ``target``."""
    base = tuple(replace(s, cell=False) for s in spec)
    top = base[-1].channels
    best, best_err = base, abs(spec_params(base, n_classes) - target)
    for d in range(1, max_extra + 1):
        extra = [BlockSpec(f"conv{len(base) + i + 1}", top, 3) for i in range(d - 1)]
        for c in range(max(1, top // 4), 4 * top + 1):
            cand = base + tuple(extra) + (BlockSpec(f"conv{len(base) + d}", c, 3),)
            err = abs(spec_params(cand, n_classes) - target)
            if err < best_err:
                best, best_err = cand, err
        if spec_params(base + tuple(extra), n_classes) > target:
            break
    return best


def wider_control(convrnn: ConvRNN, tolerance: float = 0.05) -> ConvRNN:
    """Feedforward network with every block wider, matching ``convrnn``'s parameter count."""
    target = count_params(convrnn)
    spec = wider_spec(convrnn.spec, target, convrnn.n_classes)
    model = feedforward_base(spec, n_classes=convrnn.n_classes, regions=convrnn.regions, input_size=convrnn.input_size)
    _check("wider", count_params(model), target, tolerance)
    return model


def deeper_control(convrnn: ConvRNN, tolerance: float = 0.05) -> ConvRNN:
    """Feedforward network with extra top blocks, matching ``convrnn``'s parameter count."""
    target = count_params(convrnn)
    spec = deeper_spec(convrnn.spec, target, convrnn.n_classes)
    regions = dict(convrnn.regions)
    top_region = regions.get(convrnn.spec[-1].name)
    if top_region:  # the extra blocks extend the top area
        regions.update({s.name: top_region for s in spec[len(convrnn.spec):]})
    model = feedforward_base(spec, n_classes=convrnn.n_classes, regions=regions, input_size=convrnn.input_size)
    _check("deeper", count_params(model), target, tolerance)
    return model


def unrolled_control(convrnn: ConvRNN) -> ConvRNN:
    """The same architecture and weights with no recurrence or feedback across time.

    States are reset and feedback is dropped at every step, so step ``t`` of block ``k`` depends
    only on the input that reaches it at ``t``; the pipeline and stimulus schedule are kept
    (``time_varying`` is True, ``is_recurrent`` False). Weights are copied from ``convrnn``.
    """
    model = ConvRNN(convrnn.spec, cell=convrnn.cell_type, feedback=convrnn.feedback_edges, n_steps=convrnn.n_steps,
                    on_steps=convrnn.on_steps, pipelined=True, unrolled=True, n_classes=convrnn.n_classes,
                    regions=convrnn.regions, input_size=convrnn.input_size, cell_kw=convrnn.cell_kw)
    model.load_state_dict(convrnn.state_dict(), strict=True)
    return model


# ----------------------------------------------------------------------------- registered presets


def _control(kind: str, cell: str) -> Callable[..., nn.Module]:
    # Keyword arguments build the target ConvRNN (n_steps, on_steps, cell_kw, ...). The unrolled
    # control copies its schedule, so they carry over; the wider/deeper controls only take its
    # parameter count and stay feedforward (one step) whatever schedule the target was given.
    def factory(n_classes: int = 10, **kw) -> nn.Module:
        target = create_model(f"convrnn_small_{cell}", n_classes=n_classes, **kw)
        if kind == "wider":
            return wider_control(target)
        if kind == "deeper":
            return deeper_control(target)
        return unrolled_control(target)
    factory.__doc__ = (f"{kind} feedforward control of convrnn_small_{cell}; keyword arguments go to that "
                       "ConvRNN" + (" (its n_steps/on_steps schedule is kept)." if kind == "unrolled"
                                    else " (only its parameter count is matched; the control has one step)."))
    return factory


for _cell in CELL_TYPES:
    for _kind in ("wider", "deeper"):
        register_model(f"ff_small_{_kind}_{_cell}")(_control(_kind, _cell))
    # the unrolled control has no weights of its own: pretrained, it takes its ConvRNN's
    register_model(f"convrnn_small_{_cell}_unrolled", weights_of=f"convrnn_small_{_cell}",
                   adapt=unrolled_control)(_control("unrolled", _cell))
