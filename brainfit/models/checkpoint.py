"""The checkpoint format: weights + resolved config + registry name + metrics + brainfit version.

Files are written atomically (temp file + rename) and read with ``torch.load(weights_only=True)``,
so a checkpoint can never execute code. :func:`brainfit.models.load_model` rebuilds the model
from the file alone through the model registry.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from brainfit import __version__
from brainfit._io import atomic_path

__all__ = ["save_checkpoint", "load_checkpoint", "FORMAT"]

FORMAT = "brainfit-checkpoint-v1"
_REQUIRED = ("format", "model_name", "model_kwargs", "state_dict")


def save_checkpoint(path: str | os.PathLike, *, model: nn.Module, model_name: str, model_kwargs: dict,
                    config: dict | None = None, metrics: list | dict | None = None,
                    training_state: dict | None = None, half: bool = False,
                    schedule: dict | None = None) -> Path:
    """Write a checkpoint atomically.

    Parameters
    ----------
    model : nn.Module
        Its ``state_dict`` is saved (moved to CPU).
    model_name, model_kwargs : str, dict
        Registry name and keyword arguments that rebuild the architecture.
    config : dict, optional
        The resolved training config.
    metrics : list or dict, optional
        Per-epoch metrics.
    training_state : dict, optional
        Optimizer/scheduler/RNG/progress state for resuming (omitted in release weights).
    half : bool
        Store floating-point weights as float16 (release files; restored to float32 on load).
    schedule : dict, optional
        The stimulus schedule a time-varying model was trained under (``{"n_steps",
        "on_steps", ...}``, :func:`brainfit.training.loop.training_schedule`); loading
        defaults the model's unroll to it.
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {
        "format": FORMAT,
        "brainfit_version": __version__,
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs),
        "config": dict(config or {}),
        "metrics": metrics if metrics is not None else [],
        "state_dict": state,
    }
    if schedule is not None:
        payload["schedule"] = dict(schedule)
    if training_state is not None:
        payload["training_state"] = training_state
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint (``weights_only=True``).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file is truncated/corrupt or is not a brainfit checkpoint (names what is missing).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise ValueError(f"cannot read checkpoint {path} (corrupt or truncated?): {err}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a brainfit checkpoint (expected format {FORMAT!r})")
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing}")
    return ckpt
