"""Full channel maps of one layer for one image at every time step (for figures, not for scoring).

:func:`layer_maps` unrolls a model under the same stimulus schedule as :func:`~brainfit.activations.extract`
(the model's own ``n_steps``/``on_steps`` by default, checked against the schedule it was trained
with) and reads the layer through the one capture mechanism (:mod:`brainfit.models.capture`), but
keeps the unreduced ``(C, H, W)`` output of every step instead of pooling and projecting it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from brainfit.activations.extraction import _model_preprocessing, _schedule
from brainfit.device import resolve_device
from brainfit.models.base import eval_mode
from brainfit.models.capture import ModelView
from brainfit.stimuli import Preprocessing, StimulusSet

__all__ = ["layer_maps"]


def _input_tensor(image_or_stimuli: StimulusSet | np.ndarray | torch.Tensor, stimulus: int | str,
                  preprocessing: Preprocessing) -> torch.Tensor:
    """One normalised image as a (1, 3, H, W) float tensor."""
    if isinstance(image_or_stimuli, torch.Tensor):
        x = image_or_stimuli.detach().float()
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(f"an image tensor must be normalised (3, H, W) or (1, 3, H, W), got shape "
                             f"{tuple(image_or_stimuli.shape)}")
        return x
    if isinstance(image_or_stimuli, np.ndarray):
        if image_or_stimuli.ndim != 3 or image_or_stimuli.shape[2] != 3:
            raise ValueError(f"an image array must be (H, W, 3) RGB (uint8, or float in [0, 1]), got shape "
                             f"{image_or_stimuli.shape}")
        image_or_stimuli = StimulusSet.from_array(image_or_stimuli[None], name="image")
    if not isinstance(image_or_stimuli, StimulusSet):
        raise ValueError("image_or_stimuli must be a StimulusSet, an (H, W, 3) image array or a normalised "
                         f"(3, H, W) tensor, got {type(image_or_stimuli).__name__}")
    stimuli = image_or_stimuli
    if isinstance(stimulus, str):
        if stimulus not in set(stimuli.stimulus_ids):
            raise ValueError(f"stimulus {stimulus!r} not in {stimuli.name!r} (ids such as "
                             f"{list(stimuli.stimulus_ids[:3])})")
        stimulus = int(stimuli.index_of([stimulus])[0])
    if not 0 <= int(stimulus) < len(stimuli):
        raise ValueError(f"stimulus position {stimulus} out of range for {len(stimuli)} stimuli")
    return preprocessing.to_tensor([stimuli.load_image(int(stimulus))])


def layer_maps(model: nn.Module, image_or_stimuli: StimulusSet | np.ndarray | torch.Tensor, layer: str, *,
               n_steps: int | None = None, on_steps: int | None = None, device: str | torch.device | None = None,
               stimulus: int | str = 0, preprocessing: Preprocessing | None = None) -> np.ndarray:
    """Channel maps of ``layer`` for one image at every time step.

    Parameters
    ----------
    model : nn.Module
        A registry model, or any module with ``layer`` a dotted submodule name (one step).
    image_or_stimuli : StimulusSet, ndarray (H, W, 3) or tensor (3, H, W)
        A stimulus set (``stimulus`` picks the image), one RGB image (uint8, or float in [0, 1];
        preprocessed like a stimulus), or an already normalised input tensor.
    layer : str
    n_steps, on_steps : int, optional
        Unroll length and image duration of a time-varying model (defaults: the model's own, as
        in :func:`~brainfit.activations.extract`; a schedule outside the trained one warns).
    device : str, optional
        Where the model runs (it is moved there).
    stimulus : int or str
        Position or ``stimulus_id`` of the image in a StimulusSet (default: the first).
    preprocessing : Preprocessing, optional
        Default: the model's ``input_size``, ``norm_mean`` and ``norm_std``.

    Returns
    -------
    ndarray (time_step x channel x H x W), float32
        One step for a model that is not time-varying; zeros before the layer's arrival step.

    Raises
    ------
    ValueError
        For an unknown layer or stimulus, a bad image shape, an invalid schedule, or a layer
        whose output has no spatial maps.
    """
    view = ModelView(model, [layer])
    n_steps, on_steps, steps = _schedule(model, view, n_steps, on_steps, what="reading layer maps of", stacklevel=4)
    x = _input_tensor(image_or_stimuli, stimulus, preprocessing or _model_preprocessing(model))
    dev = resolve_device(device)
    model = model.to(dev)
    got: list[torch.Tensor] = []

    def on_output(_name: str, out: torch.Tensor) -> None:
        if out.dim() != 4:
            raise ValueError(f"layer {layer!r} outputs shape {tuple(out.shape)}, not channel maps (B, C, H, W)")
        got.append(out[0].detach().float().cpu().clone())  # the model may reuse its output tensor

    with eval_mode(model), view.capture(on_output), torch.no_grad():
        view.run(x.to(dev), n_steps, on_steps)
    first = view.arrival[layer]
    if len(got) != len(steps) - first:
        raise RuntimeError(f"layer {layer!r} produced {len(got)} outputs for {len(steps)} steps with arrival step "
                           f"{first}; the model's hook contract is broken")
    maps = [torch.zeros_like(got[0])] * first + got
    return torch.stack(maps).numpy().astype(np.float32, copy=False)
