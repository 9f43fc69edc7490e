"""CIFAR ResNets (He et al. 2016, the 6n+2 layout with "option A" identity shortcuts): an
independently trained feedforward baseline, with a loader for the shared ResNet-20/56 weights.

Layout: conv 3x3 (16) -> 3 stages of n basic blocks (16, 32, 64 channels; stride 2 at the start
of stages 2 and 3) -> global average pool -> linear. The shortcut has no parameters: when the
shape changes it takes ``x[:, :, ::2, ::2]`` and zero-pads ``planes // 4`` channels on each side.
Parameter names follow the common CIFAR ResNet layout (``conv1``, ``bn1``,
``layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}``, ``linear``), so published weights load strictly.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from brainfit.models.base import VisionModel
from brainfit.models.registry import register_model
from brainfit.paths import require_data_root

__all__ = ["ResNetCIFAR", "load_pretrained_cifar_resnet", "PRETRAINED_FILES"]

log = logging.getLogger(__name__)

PRETRAINED_FILES = {20: "resnet20-12fca82f.th", 56: "resnet56-4bfd9763.th"}
FOLDER = "pretrained_cifar_resnets"


class BasicBlock(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if (stride != 1 or cin != planes) else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x
        if self.pad:
            short = nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return torch.relu(out + short)


class Stage(nn.Module):
    """A sequence of blocks followed by an ``output`` hook point."""

    def __init__(self, blocks: list[nn.Module]):
        super().__init__()
        for i, b in enumerate(blocks):
            self.add_module(str(i), b)
        self.n = len(blocks)
        self.output = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.n):
            x = getattr(self, str(i))(x)
        return self.output(x)


class ResNetCIFAR(VisionModel):
    """ResNet-(6n+2) for 32 px images; feedforward (one time step).

    Parameters
    ----------
    depth : int
        20, 32, 44, 56 or 110 (``(depth - 2) % 6 == 0``).
    n_classes : int
    """

    input_size = 32
    # the shared weights were trained with ImageNet statistics
    norm_mean = (0.485, 0.456, 0.406)
    norm_std = (0.229, 0.224, 0.225)

    def __init__(self, depth: int = 20, n_classes: int = 10):
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}")
        n = (depth - 2) // 6
        self.depth = depth
        self.n_classes = n_classes
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.stem_output = nn.Identity()
        cin = 16
        for i, planes in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(cin, planes, 2 if (i > 0 and j == 0) else 1))
                cin = planes
            setattr(self, f"layer{i + 1}", Stage(blocks))
        self.linear = nn.Linear(64, n_classes)
        self.regions = {"layer2": "V4", "layer3": "IT"}
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    @property
    def layers(self) -> dict[str, nn.Module]:
        return {"stem": _Hook(self.stem_output), "layer1": self.layer1, "layer2": self.layer2, "layer3": self.layer3}

    def forward(self, images: torch.Tensor, n_steps: int | None = None, on_steps: int | None = None,
                return_layers: bool = False):
        """Logits (B, 1, n_classes); ``n_steps``/``on_steps`` are accepted and ignored (feedforward)."""
        stem = self.stem_output(torch.relu(self.bn1(self.conv1(images))))
        l1 = self.layer1(stem)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        logits = self.linear(l3.mean(dim=(2, 3)))[:, None]
        if return_layers:
            return logits, {k: v[:, None] for k, v in (("stem", stem), ("layer1", l1), ("layer2", l2), ("layer3", l3))}
        return logits


class _Hook(nn.Module):
    """Exposes a bare hook point as a block with an ``output`` attribute (not registered as a child)."""

    def __init__(self, output: nn.Module):
        super().__init__()
        self.__dict__["output"] = output  # avoid registering the identity twice


def load_pretrained_cifar_resnet(depth: int = 20, data_root: str | os.PathLike | None = None) -> ResNetCIFAR:
    """ResNet-20/56 with the shared CIFAR-10 weights (``pretrained_cifar_resnets`` under the data root).

    Loaded with ``torch.load(weights_only=True)`` and ``strict=True`` after removing the
    ``module.`` prefix that data-parallel training left on the keys.
    """
    if depth not in PRETRAINED_FILES:
        raise ValueError(f"pretrained CIFAR ResNet weights exist for depths {sorted(PRETRAINED_FILES)}, not {depth}")
    path = Path(require_data_root(FOLDER, data_root)) / PRETRAINED_FILES[depth]
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = ResNetCIFAR(depth)
    model.load_state_dict(state, strict=True)
    model.eval()
    log.info("loaded %s (reported top-1 %.2f%%)", path.name, float(ckpt.get("best_prec1", float("nan"))))
    return model


@register_model("resnet20_cifar")
def _resnet20(pretrained: bool = False, data_root: str | None = None, n_classes: int = 10) -> ResNetCIFAR:
    """CIFAR ResNet-20; ``pretrained=True`` loads the shared CIFAR-10 weights from the data root."""
    return load_pretrained_cifar_resnet(20, data_root) if pretrained else ResNetCIFAR(20, n_classes)


@register_model("resnet56_cifar")
def _resnet56(pretrained: bool = False, data_root: str | None = None, n_classes: int = 10) -> ResNetCIFAR:
    """CIFAR ResNet-56; ``pretrained=True`` loads the shared CIFAR-10 weights from the data root."""
    return load_pretrained_cifar_resnet(56, data_root) if pretrained else ResNetCIFAR(56, n_classes)
