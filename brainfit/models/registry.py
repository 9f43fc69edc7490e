"""The model registry: ``create_model(name, **kw)``, ``list_models(pattern)``, trained weights.

Factories register themselves where they are defined (``@register_model("name")`` in
:mod:`~brainfit.models.convrnn`, :mod:`~brainfit.models.feedforward`,
:mod:`~brainfit.models.controls`, :mod:`~brainfit.models.resnet_cifar`); the package imports
those modules, so names never trigger imports. Trained weights come from the weights folder
(:func:`brainfit.paths.weights_dir`, the shipped mini-zoo by default) as brainfit checkpoints,
which :func:`load_model` rebuilds through this registry.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from brainfit import __version__
from brainfit._registry import Registry, check_kwargs
from brainfit.models.base import count_params
from brainfit.models.checkpoint import load_checkpoint
from brainfit.models.schedule import schedule_from_checkpoint
from brainfit.paths import weights_dir

__all__ = ["register_model", "create_model", "list_models", "model_info", "load_model", "list_pretrained",
           "pretrained_info", "loads_own_weights", "model_from_spec", "WEIGHT_CHOICES"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes
    ----------
    factory : callable ``f(**kw) -> nn.Module``
    weights_of : str, optional
        Another registry name whose trained weights this model reuses (``*_unrolled`` controls
        reuse their ConvRNN's), turned into this model by ``adapt(model)``.
    adapt : callable, optional
    """

    factory: Callable[..., nn.Module]
    weights_of: str | None = None
    adapt: Callable[[nn.Module], nn.Module] | None = None


_MODELS: Registry[ModelEntry] = Registry("model")


def register_model(name: str, *, weights_of: str | None = None,
                   adapt: Callable[[nn.Module], nn.Module] | None = None) -> Callable:
    """Decorator registering a factory ``f(**kw) -> nn.Module`` under ``name``.

    ``weights_of``/``adapt``: with ``pretrained=True`` and no weights of its own, the model is
    ``adapt(create_model(weights_of, pretrained=True))``.
    """
    if (weights_of is None) != (adapt is None):
        raise ValueError("register_model needs both weights_of and adapt, or neither")
    return _MODELS.decorator(name, lambda fn: ModelEntry(fn, weights_of, adapt))


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``."""
    return _MODELS.names(pattern)


def loads_own_weights(name: str) -> bool:
    """True when the factory of ``name`` takes ``pretrained`` itself (weights from the data root)."""
    return "pretrained" in inspect.signature(_MODELS.get(name).factory).parameters


def _weights_file(name: str) -> Path:
    return weights_dir() / f"{name}.pt"


def list_pretrained() -> list[str]:
    """Registry names with trained weights in the weights folder (the shipped mini-zoo by default).

    Models registered with ``weights_of`` (the ``*_unrolled`` controls) are listed when the model
    whose weights they reuse is.
    """
    own = {p.stem for p in weights_dir().glob("*.pt") if p.stem in _MODELS}
    reuse = {n for n in _MODELS.names() if _MODELS.get(n).weights_of in own}
    return sorted(own | reuse)


def pretrained_info(name: str) -> dict:
    """Training config, per-epoch metrics and test accuracy of a shipped model (no weights loaded)."""
    path = weights_dir() / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no shipped weights for {name!r}; shipped: {list_pretrained()}")
    return json.loads(path.read_text())


def _load_shipped(name: str, kwargs: dict) -> nn.Module:
    entry = _MODELS.get(name)
    base = name
    if not _weights_file(name).is_file() and entry.weights_of is not None:
        base = entry.weights_of
    path = _weights_file(base)
    if not path.is_file():
        raise KeyError(f"no shipped weights for {name!r}; shipped: {list_pretrained()} "
                       "(train your own with `brainfit train` and load it with brainfit.models.load_model)")
    if kwargs:
        raise ValueError(f"pretrained {name!r} is rebuilt from its checkpoint; extra arguments {sorted(kwargs)} "
                         "are not allowed (n_steps/on_steps can be given to forward/extract)")
    model = load_model(path)
    if base != name:
        model = entry.adapt(model)
        model.eval()
    return model


def create_model(name: str, *, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build a registered model; unknown names raise ``KeyError`` listing close matches.

    ``pretrained=True`` loads trained weights from the weights folder (:func:`list_pretrained`;
    an ``*_unrolled`` control reuses its ConvRNN's trained weights), or, for the CIFAR ResNets,
    the shared weights under the data root. The model is then returned in eval mode.
    """
    entry = _MODELS.get(name)
    check_kwargs(entry.factory, kwargs, f"model {name!r}")
    try:
        if pretrained and loads_own_weights(name):
            model = entry.factory(pretrained=True, **kwargs)
        elif pretrained:
            model = _load_shipped(name, kwargs)
        else:
            model = entry.factory(**kwargs)
    except TypeError as err:  # an argument the factory passes on (**kw) and its class does not take
        if "keyword argument" not in str(err):
            raise
        raise ValueError(f"model {name!r}: {err}") from err
    model.registry_name = name
    return model


def model_info(name: str) -> dict:
    """Name, parameter count and recurrence of a registered model (built with defaults)."""
    m = create_model(name)
    return {"name": name, "params": count_params(m), "is_recurrent": bool(getattr(m, "is_recurrent", False)),
            "time_varying": bool(getattr(m, "time_varying", False))}


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
               ckpt: dict | None = None) -> nn.Module:
    """Rebuild a model from a checkpoint alone (registry name + kwargs + weights, strict).

    The returned model is in eval mode and carries ``checkpoint_info`` (name, kwargs, config,
    metrics, version, schedule) for provenance. A recurrent model whose checkpoint records the
    stimulus schedule it was trained under (:func:`brainfit.models.schedule.schedule_from_checkpoint`)
    defaults its ``n_steps``/``on_steps`` to that schedule and carries it as ``trained_schedule``.

    Raises
    ------
    ValueError
        When the weights do not fit the architecture; names the missing, unexpected or
        mis-shaped parameters.
    """
    ckpt = ckpt if ckpt is not None else load_checkpoint(path, map_location)
    try:
        model = create_model(ckpt["model_name"], **ckpt["model_kwargs"])
    except (KeyError, ValueError, TypeError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise ValueError(f"checkpoint {path} names a model this brainfit cannot build: {msg}") from err
    own = model.state_dict()
    state = ckpt["state_dict"]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        if shapes:
            parts.append(f"shape mismatch {shapes[:3]}")
        raise ValueError(f"checkpoint {path} does not match model {ckpt['model_name']!r}: " + "; ".join(parts))
    state = {k: v.to(own[k].dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    model.eval()
    if ckpt.get("brainfit_version") != __version__:
        log.info("checkpoint %s was written by brainfit %s (this is %s)", path, ckpt.get("brainfit_version"), __version__)
    model.checkpoint_info = {k: ckpt.get(k) for k in ("model_name", "model_kwargs", "config", "metrics", "brainfit_version",
                                                      "schedule")}
    sched = schedule_from_checkpoint(ckpt)
    if sched is not None and getattr(model, "is_recurrent", False) and getattr(model, "time_varying", False):
        # the unroll it learned becomes its default, and extraction warns when it is read outside it
        model.n_steps, model.on_steps = sched["n_steps"], sched["on_steps"]
        model.trained_schedule = sched
    return model


WEIGHT_CHOICES = ("pretrained", "random")


def model_from_spec(name: str | None = None, *, weights: str | os.PathLike = "pretrained", seed: int = 0,
                    **kwargs) -> nn.Module:
    """The model a command or a config names, with an explicit choice of weights.

    Parameters
    ----------
    name : str, optional
        Registry name; may be omitted when ``weights`` is a checkpoint (which names its model).
    weights : "pretrained", "random" or a checkpoint path
        ``"pretrained"``: the shipped (or shared) trained weights (:func:`list_pretrained`);
        ``"random"``: a fresh initialisation drawn from ``seed`` (the global torch RNG is left
        untouched), so the same name and seed always give the same weights; a path: a brainfit
        checkpoint (:func:`load_model`) of ``name``, or of the model whose weights ``name``
        reuses (an ``*_unrolled`` control built from its ConvRNN's checkpoint).
    seed : int
        Seed of ``"random"`` weights.
    **kwargs
        ``create_model`` arguments (``"random"`` only: trained weights fix the architecture).

    Returns
    -------
    nn.Module
        With ``weights_source`` (``"pretrained"``, ``"random(seed=N)"`` or the checkpoint path).

    Raises
    ------
    KeyError
        Unknown model name, or no trained weights for it (naming the other choices).
    ValueError
        A checkpoint of another model than ``name``, or arguments the choice does not take.
    FileNotFoundError
        A checkpoint path that does not exist.
    """
    weights = os.fspath(weights)
    if weights == "random":
        if name is None:
            raise ValueError("random weights need a model name")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_model(name, **kwargs)
        model.weights_source = f"random(seed={seed})"
        return model
    if weights == "pretrained":
        if name is None:
            raise ValueError("pretrained weights need a model name")
        if not loads_own_weights(name) and name not in list_pretrained():
            _MODELS.get(name)  # an unknown name raises here, listing close matches
            raise KeyError(f"{name!r} has no trained weights (models with weights: {list_pretrained()}); "
                           "give a checkpoint, or ask for random weights with a seed")
        model = create_model(name, pretrained=True, **kwargs)
        model.weights_source = "pretrained"
        return model
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path} (weights must be {' or '.join(WEIGHT_CHOICES)} "
                                "or a checkpoint path)")
    if kwargs:
        raise ValueError(f"a checkpoint fixes the architecture; arguments {sorted(kwargs)} are not allowed")
    model = load_model(path)
    held = model.checkpoint_info["model_name"]
    if name is not None and held != name:
        entry = _MODELS.get(name)
        if entry.weights_of != held:
            raise ValueError(f"checkpoint {path} holds {held!r}, not {name!r}"
                             + (f" (nor {entry.weights_of!r}, whose weights it reuses)" if entry.weights_of else ""))
        # a control that reuses another model's weights (``*_unrolled``), built from that model's checkpoint
        model = entry.adapt(model)
        model.eval()
        model.registry_name = name
    model.weights_source = str(path)
    return model
