"""Stimulus-schedule provenance: the schedule a recurrent model was trained under, and a warning
when it is read outside it.

A time-varying model is unrolled for ``n_steps`` steps with the image on for the first
``on_steps`` and mean gray after. A network's responses are only task-valid in the regime it
learned: a ConvRNN trained for 7 steps with the image always on drifts when unrolled for 26 with
the image off after 10. Checkpoints written by :func:`brainfit.training.train` record the
schedule (``ckpt["schedule"]``; older ones only in their config), :func:`brainfit.models.load_model`
makes it the model's default unroll and stores it as ``model.trained_schedule``, and extraction
calls :func:`check_schedule`, which emits a :class:`ScheduleWarning` naming both schedules when
the requested unroll is not a prefix of the trained one.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

__all__ = ["ScheduleWarning", "check_schedule", "describe_schedule", "schedule_from_checkpoint"]


class ScheduleWarning(UserWarning):
    """A model is unrolled past, or with another image duration than, the schedule it was trained for."""


def schedule_from_checkpoint(ckpt: Mapping[str, Any]) -> dict[str, Any] | None:
    """The training schedule a checkpoint records, ``{"n_steps", "on_steps", ...}``, or None.

    Uses the checkpoint's ``schedule`` entry, else its training config's ``n_steps``/``on_steps``
    (``on_steps`` null: the image was on at every step). None when neither says (a checkpoint
    not written by training, or a config that left the unroll to the model's default).
    """
    sched = ckpt.get("schedule")
    if isinstance(sched, Mapping) and "n_steps" in sched:
        out = dict(sched)
    else:
        config = ckpt.get("config") or {}
        n = config.get("n_steps")
        if not isinstance(n, int) or isinstance(n, bool):
            return None
        on = config.get("on_steps")
        out = {"n_steps": n, "on_steps": on if isinstance(on, int) and not isinstance(on, bool) else n,
               "loss_steps": config.get("loss_steps", "last")}
    out["n_steps"], out["on_steps"] = int(out["n_steps"]), int(min(out["on_steps"], out["n_steps"]))
    return out


def describe_schedule(n_steps: int, on_steps: int) -> str:
    """``"26 steps, image on for the first 10"`` (or ``"7 steps, image on at every step"``)."""
    on = "image on at every step" if on_steps >= n_steps else f"image on for the first {on_steps}, gray after"
    return f"{n_steps} steps, {on}"


def check_schedule(model: nn.Module, n_steps: int, on_steps: int, *, what: str = "unrolling",
                   stacklevel: int = 3) -> bool:
    """Warn (:class:`ScheduleWarning`) when ``(n_steps, on_steps)`` leaves ``model.trained_schedule``.

    The request is inside the trained schedule when it is a prefix of it: no more steps, and the
    same input at every step it runs (the image on for the same steps). A model without a recorded
    schedule (random weights, an older checkpoint) is not checked.

    Returns
    -------
    bool
        True when the request is inside the trained schedule (or none is recorded).
    """
    trained = getattr(model, "trained_schedule", None)
    if not trained:
        return True
    t_n, t_on = int(trained["n_steps"]), int(trained["on_steps"])
    n, on = int(n_steps), int(min(on_steps, n_steps))
    inside = n <= t_n and on == min(t_on, n)
    if not inside:
        name = getattr(model, "registry_name", None) or type(model).__name__
        reason = (f"steps {t_n}..{n - 1} were never trained" if n > t_n else
                  "the image is shown for a different number of steps")
        warnings.warn(f"{what} {name!r} for {describe_schedule(n, on)}, but it was trained for "
                      f"{describe_schedule(t_n, t_on)}: {reason}, so responses there are read outside the "
                      "regime the network learned", ScheduleWarning, stacklevel=stacklevel)
    return inside
