"""Task training of ConvRNNs and feedforward controls: data, BPTT loop, snapshots.

Checkpoints are the models' format (:mod:`brainfit.models.checkpoint`; rebuild one with
:func:`brainfit.models.load_model`).
"""

from brainfit.training.config import ConfigError, TrainConfig
from brainfit.training.data import (
    ClassificationData,
    load_classification_data,
    load_image_folder,
    load_image_zip,
    load_synthetic_objects,
)
from brainfit.training.loop import TrainResult, evaluate, lr_schedule, step_accuracy, train, training_schedule
from brainfit.training.snapshots import ActivationSnapshots, read_snapshots

__all__ = [
    "ActivationSnapshots",
    "ClassificationData",
    "ConfigError",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "load_classification_data",
    "load_image_folder",
    "load_image_zip",
    "load_synthetic_objects",
    "lr_schedule",
    "read_snapshots",
    "step_accuracy",
    "train",
    "training_schedule",
]
