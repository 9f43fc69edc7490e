"""Feedforward networks: the feedforward base of the ConvRNN presets, and parameter counting."""

from __future__ import annotations

from collections.abc import Sequence

from brainfit.models.convrnn import SMALL_SPEC, BlockSpec, ConvRNN
from brainfit.models.registry import register_model

__all__ = ["feedforward_base", "spec_params"]


def feedforward_base(spec: Sequence[BlockSpec] = SMALL_SPEC, *, n_classes: int = 10, **kw) -> ConvRNN:
    """The ConvRNN's stack without cells or feedback, computed in one step (constant over time).

    Its parameter names match the ConvRNN's feedforward part (``blocks.<k>.conv``/``bn``,
    ``head``), so a ConvRNN's feedforward weights load into it with ``strict=False``.
    """
    return ConvRNN(spec, cell=None, feedback=(), pipelined=False, n_steps=1, n_classes=n_classes, **kw)


def spec_params(spec: Sequence[BlockSpec], n_classes: int = 10, in_channels: int = 3) -> int:
    """Parameter count of a feedforward stack (conv without bias + batch norm, linear head)."""
    total, cin = 0, in_channels
    for s in spec:
        total += cin * s.channels * s.kernel * s.kernel + 2 * s.channels
        cin = s.channels
    return total + cin * n_classes + n_classes


@register_model("ff_small")
def _ff_small(n_classes: int = 10, **kw) -> ConvRNN:
    """The feedforward base of the small ConvRNNs (no cells, one step)."""
    return feedforward_base(SMALL_SPEC, n_classes=n_classes, **kw)
