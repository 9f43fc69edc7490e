"""Model registry: ConvRNN presets, their feedforward controls, CIFAR ResNets, external models.

``create_model(name, **kw)`` builds a registered model; ``list_models(pattern)`` lists names;
unknown names raise an error listing close matches. Registration happens when this package is
imported (names never trigger imports).
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable
from pathlib import Path

from torch import nn

from brainfit.models.base import VisionModel
from brainfit.models.controls import count_params, deeper_control, unrolled_control, wider_control
from brainfit.models.convrnn import SMALL_SPEC, BlockSpec, ConvRNN
from brainfit.models.external import ExternalModel
from brainfit.models.feedforward import feedforward_base
from brainfit.models.resnet_cifar import ResNetCIFAR, load_pretrained_cifar_resnet

__all__ = ["register_model", "create_model", "list_models", "count_params", "model_info", "VisionModel", "ConvRNN",
           "BlockSpec", "ExternalModel", "ResNetCIFAR", "wider_control", "deeper_control", "unrolled_control",
           "feedforward_base", "load_pretrained_cifar_resnet", "CELL_TYPES", "list_pretrained",
           "pretrained_info", "loads_own_weights", "WEIGHTS_DIR"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
CELL_TYPES = ("rgc", "lstm", "gru", "vanilla", "timedecay")
# The trained mini-zoo shipped with the package: ``<registry name>.pt`` (release checkpoint,
# float16 weights + config + metrics) with its training config and log beside it.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a factory ``f(**kw) -> nn.Module`` under ``name``."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return deco


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def list_pretrained() -> list[str]:
    """Registry names with trained weights shipped in ``brainfit/weights`` (the mini-zoo).

    ``<cell>_unrolled`` controls are listed when their ConvRNN is: they reuse its weights.
    """
    names = sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt") if p.stem in _REGISTRY)
    unrolled = [f"{n}_unrolled" for n in names if f"{n}_unrolled" in _REGISTRY]
    return sorted(names + unrolled)


def pretrained_info(name: str) -> dict:
    """Training config, per-epoch metrics and test accuracy of a shipped model (no weights loaded)."""
    import json

    path = WEIGHTS_DIR / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no shipped weights for {name!r}; shipped: {list_pretrained()}")
    return json.loads(path.read_text())


def loads_own_weights(name: str) -> bool:
    """True when the factory of ``name`` takes ``pretrained`` itself (weights from the data root)."""
    return "pretrained" in inspect.signature(_REGISTRY[name]).parameters


def _load_shipped(name: str, kwargs: dict) -> nn.Module:
    from brainfit.training.checkpoint import load_model

    base = name
    if not (WEIGHTS_DIR / f"{name}.pt").is_file() and name.endswith("_unrolled"):
        base = name.removesuffix("_unrolled")  # the control reuses its ConvRNN's weights
    path = WEIGHTS_DIR / f"{base}.pt"
    if not path.is_file():
        raise KeyError(f"no shipped weights for {name!r}; shipped: {list_pretrained()} "
                       "(train your own with `brainfit train` and load it with brainfit.training.load_model)")
    if kwargs:
        raise ValueError(f"pretrained {name!r} is rebuilt from its checkpoint; extra arguments {sorted(kwargs)} "
                         "are not allowed (n_steps/on_steps can be given to forward/extract)")
    model = load_model(path)
    if base != name:
        model = unrolled_control(model)
        model.eval()
    return model


def create_model(name: str, *, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build a registered model; unknown names raise ``KeyError`` listing close matches.

    ``pretrained=True`` loads the shipped mini-zoo weights (:func:`list_pretrained`; an
    ``*_unrolled`` control reuses its ConvRNN's trained weights), or, for the CIFAR ResNets, the
    shared weights under the data root. The model is returned in eval mode.
    """
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
        hint = f"; did you mean {close}?" if close else ""
        raise KeyError(f"unknown model {name!r}{hint} ({len(_REGISTRY)} models: see list_models())")
    if pretrained and loads_own_weights(name):
        model = _REGISTRY[name](pretrained=True, **kwargs)
    elif pretrained:
        model = _load_shipped(name, kwargs)
    else:
        model = _REGISTRY[name](**kwargs)
    model.registry_name = name
    return model


def model_info(name: str) -> dict:
    """Name, parameter count and recurrence of a registered model (built with defaults)."""
    m = create_model(name)
    return {"name": name, "params": count_params(m), "is_recurrent": bool(getattr(m, "is_recurrent", False)),
            "time_varying": bool(getattr(m, "time_varying", False))}


# ----------------------------------------------------------------------------- presets


def _convrnn(cell: str, feedback: tuple = ()) -> Callable[..., ConvRNN]:
    def factory(n_classes: int = 10, n_steps: int = 26, on_steps: int = 10, **kw) -> ConvRNN:
        return ConvRNN(SMALL_SPEC, cell=cell, feedback=feedback, n_steps=n_steps, on_steps=on_steps,
                       n_classes=n_classes, **kw)
    factory.__doc__ = f"Small ConvRNN with {cell} cells" + (f" and feedback {feedback}" if feedback else "") + \
        " (5 blocks, 32 px input)."
    return factory


for _cell in CELL_TYPES:
    register_model(f"convrnn_small_{_cell}")(_convrnn(_cell))
register_model("convrnn_small_rgc_feedback")(_convrnn("rgc", (("conv5", "conv3"), ("conv4", "conv2"))))


@register_model("ff_small")
def _ff_small(n_classes: int = 10, **kw) -> ConvRNN:
    """The feedforward base of the small ConvRNNs (no cells, one step)."""
    return feedforward_base(SMALL_SPEC, n_classes=n_classes, **kw)


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
    register_model(f"convrnn_small_{_cell}_unrolled")(_control("unrolled", _cell))


@register_model("resnet20_cifar")
def _resnet20(pretrained: bool = False, data_root: str | None = None, n_classes: int = 10) -> ResNetCIFAR:
    """CIFAR ResNet-20; ``pretrained=True`` loads the shared CIFAR-10 weights from the data root."""
    return load_pretrained_cifar_resnet(20, data_root) if pretrained else ResNetCIFAR(20, n_classes)


@register_model("resnet56_cifar")
def _resnet56(pretrained: bool = False, data_root: str | None = None, n_classes: int = 10) -> ResNetCIFAR:
    """CIFAR ResNet-56; ``pretrained=True`` loads the shared CIFAR-10 weights from the data root."""
    return load_pretrained_cifar_resnet(56, data_root) if pretrained else ResNetCIFAR(56, n_classes)
