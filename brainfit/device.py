"""The one place where brainfit chooses a torch device.

CPU is the default. CUDA is used only when it is available *and* asked for, either with
``device="cuda"`` / ``"auto"`` in a call or with the ``BRAINFIT_DEVICE`` environment variable.
"""

from __future__ import annotations

import os

import torch

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device to use.

    Parameters
    ----------
    device : str, torch.device or None
        ``None`` reads ``BRAINFIT_DEVICE`` (default ``"cpu"``). ``"auto"`` picks CUDA when
        available, else CPU. ``"cuda"`` without a GPU raises ``RuntimeError``.
    """
    if isinstance(device, torch.device):
        requested = device.type if device.index is None else f"{device.type}:{device.index}"
    else:
        requested = device if device is not None else os.environ.get("BRAINFIT_DEVICE", "cpu")
    requested = str(requested).strip().lower()
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {requested!r} was requested but CUDA is not available; "
            "use device='cpu' or 'auto'"
        )
    try:
        return torch.device(requested)
    except RuntimeError as err:
        raise ValueError(f"unknown device {requested!r}: use 'cpu', 'cuda', 'cuda:N' or 'auto'") from err
