"""Task training of ConvRNNs and feedforward controls: data, BPTT loop, checkpoints, snapshots."""

from brainfit.training.checkpoint import load_checkpoint, load_model, save_checkpoint
from brainfit.training.data import (
    ClassificationData, load_classification_data, load_image_folder, load_image_zip, load_synthetic_objects,
)
from brainfit.training.loop import TrainConfig, TrainResult, evaluate, train
from brainfit.training.snapshots import ActivationSnapshots, read_snapshots

__all__ = [
    "TrainConfig", "TrainResult", "train", "evaluate",
    "save_checkpoint", "load_checkpoint", "load_model",
    "ClassificationData", "load_classification_data", "load_image_folder", "load_image_zip", "load_synthetic_objects",
    "ActivationSnapshots", "read_snapshots",
]
