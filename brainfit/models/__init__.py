"""Models: ConvRNN presets, their feedforward controls, CIFAR ResNets, external models.

``create_model(name, **kw)`` builds a registered model; ``list_models(pattern)`` lists names;
unknown names raise an error listing close matches. Each family registers its presets where it
is defined; importing this package imports them all (names never trigger imports). Checkpoints
(:mod:`~brainfit.models.checkpoint`) rebuild through the registry with :func:`load_model`;
:mod:`~brainfit.models.capture` is the one way to read layer outputs.
"""

from __future__ import annotations

from brainfit.models import accumulator, controls, convrnn, feedforward, resnet_cifar  # noqa: F401  (registration)
from brainfit.models.accumulator import AccumulatorModel
from brainfit.models.base import VisionModel, count_params
from brainfit.models.capture import ModelView, capture_outputs
from brainfit.models.cells import CELL_TYPES
from brainfit.models.checkpoint import load_checkpoint, save_checkpoint
from brainfit.models.controls import deeper_control, unrolled_control, wider_control
from brainfit.models.convrnn import SMALL_SPEC, BlockSpec, ConvRNN
from brainfit.models.external import ExternalModel
from brainfit.models.feedforward import feedforward_base
from brainfit.models.registry import (
    WEIGHT_CHOICES, create_model, list_models, list_pretrained, load_model, loads_own_weights, model_from_spec,
    model_info, pretrained_info, register_model,
)
from brainfit.models.resnet_cifar import ResNetCIFAR, load_pretrained_cifar_resnet

__all__ = ["register_model", "create_model", "list_models", "count_params", "model_info", "VisionModel", "ConvRNN",
           "BlockSpec", "SMALL_SPEC", "ExternalModel", "ResNetCIFAR", "wider_control", "deeper_control",
           "unrolled_control", "feedforward_base", "load_pretrained_cifar_resnet", "CELL_TYPES", "list_pretrained",
           "pretrained_info", "loads_own_weights", "load_model", "save_checkpoint", "load_checkpoint",
           "ModelView", "capture_outputs", "model_from_spec", "WEIGHT_CHOICES", "AccumulatorModel"]
