"""The training configuration: :class:`TrainConfig`, a frozen dataclass validated field by field.

Every field is checked at construction (so also by :meth:`TrainConfig.from_dict`,
:meth:`TrainConfig.from_yaml` and :func:`dataclasses.replace`), and every problem is reported at
once in one :class:`ConfigError` (a ``ValueError``) that names each bad field, its value and what
was expected, e.g. ``invalid training config: lr='abc' (expected a number > 0); epochs=1.5
(expected an int >= 1)``. A config that constructs is one :func:`~brainfit.training.train` can run:
it is checked before anything is written.

The conversion rules (ints from ints only, floats also from number strings such as ``"1e-3"``
that YAML 1.1 reads as strings, booleans from booleans only, NaN/inf refused) are those of
:mod:`brainfit._config`, shared with the other configs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np
import yaml

from brainfit._config import (
    ConfigError,
    Invalid,
    bool_field,
    check_fields,
    choice,
    float_field,
    int_field,
    optional,
    read_yaml_mapping,
    show,
    str_field,
    to_float,
    unknown_keys,
)

__all__ = ["ConfigError", "TrainConfig", "read_config_file"]

#: The largest seed: ``seed * 100003 + epoch`` seeds a torch generator, and a seed in the familiar
#: 32-bit range (numpy's legacy limit) keeps that far inside torch's 64-bit range.
MAX_SEED = 2**32 - 1

# ----------------------------------------------------------------------------- conversions


def _model_kwargs(value: Any) -> dict[str, Any]:
    expected = "a mapping of str keys to plain YAML values: numbers, str, bool, null, lists, mappings"
    if value is None:  # an empty ``model_kwargs:`` in YAML
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise Invalid(expected)
    value = dict(value)
    try:  # saved with the config (config.yaml, checkpoints): refuse what cannot be written
        yaml.safe_dump(value)
    except yaml.YAMLError:
        raise Invalid(expected) from None
    return value


def _device(value: Any) -> str:
    import torch

    expected = "'cpu', 'cuda', 'cuda:N' or 'auto'"
    if not isinstance(value, str):
        raise Invalid(expected)
    requested = value.strip().lower()
    if requested != "auto":
        try:  # the spelling only: whether CUDA is there is checked when training starts
            torch.device(requested)
        except (RuntimeError, ValueError):
            raise Invalid(expected) from None
    return value


def _rgb(*, positive: bool) -> Callable[[Any], tuple[float, float, float] | None]:
    expected = f"3 finite numbers{' > 0' if positive else ''} (R, G, B) or null"

    def check(value: Any) -> tuple[float, float, float] | None:
        if value is None:
            return None
        if isinstance(value, np.ndarray):
            value = value.tolist() if value.ndim == 1 else None
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
            raise Invalid(expected)
        numbers = [to_float(v) for v in value]
        if any(x is None or (positive and x <= 0) for x in numbers):
            raise Invalid(expected)
        return tuple(numbers)  # type: ignore[return-value]

    return check


#: One converter per field: returns the normalised value or raises ``Invalid(expected)``.
_CHECKS: dict[str, Callable[[Any], Any]] = {
    "model": str_field(),
    "data": str_field(path=True),
    "model_kwargs": _model_kwargs,
    "test_data": optional(str_field(path=True)),
    "image_size": optional(int_field(1)),
    "epochs": int_field(1),
    "batch_size": int_field(1),
    "optimizer": choice("adamw", "sgd"),
    "lr": float_field(0.0, low_open=True, expected="a number > 0"),
    "weight_decay": float_field(0.0, expected="a number >= 0"),
    "momentum": float_field(0.0, 1.0, high_open=True, expected="a number in [0, 1)"),
    "warmup_epochs": float_field(0.0, expected="a number >= 0"),
    "min_lr_fraction": float_field(0.0, 1.0, expected="a number in [0, 1]"),
    "grad_clip": optional(float_field(0.0, expected="a number > 0, or 0/null for no clipping"), suffix=""),
    "n_steps": optional(int_field(1)),
    "on_steps": optional(int_field(1)),
    "loss_steps": choice("last", "all"),
    "loss_from": optional(int_field(0)),
    "step_weighting": choice("uniform", "linear"),
    "freeze_batchnorm": bool_field,
    "augment": bool_field,
    "val_fraction": float_field(0.0, 1.0, high_open=True, expected="a number in [0, 1)"),
    "max_train_images": optional(int_field(1)),
    "init_from": optional(str_field(path=True)),
    "early_stop_patience": optional(int_field(1)),
    "checkpoint_every": int_field(0),
    "amp": bool_field,
    "compile": bool_field,
    "device": _device,
    "mean": _rgb(positive=False),
    "std": _rgb(positive=True),
    "seed": int_field(0, MAX_SEED),
}


def _check(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Normalised values and one problem string per bad field (only the fields in ``values``)."""
    out, problems = check_fields(_CHECKS, values)
    # settings that are valid alone but not together
    if out.get("n_steps") is not None and out.get("on_steps") is not None and out["on_steps"] > out["n_steps"]:
        problems.append(f"on_steps={out['on_steps']} (expected <= n_steps={out['n_steps']})")
    if out.get("loss_from") is not None and out.get("n_steps") is not None and out["loss_from"] >= out["n_steps"]:
        problems.append(f"loss_from={out['loss_from']} (expected < n_steps={out['n_steps']})")
    if out.get("loss_from") is not None and out.get("loss_steps") == "last":
        problems.append(f"loss_from={out['loss_from']} (expected null with loss_steps='last'; use loss_steps='all')")
    if out.get("optimizer") == "sgd" and out.get("momentum") == 0.0:
        problems.append("momentum=0.0 (expected > 0 with optimizer='sgd', which uses Nesterov momentum)")
    return out, problems


def _message(problems: Sequence[str], source: str | None) -> str:
    where = f" ({source})" if source else ""
    return f"invalid training config{where}: " + "; ".join(problems)


# ----------------------------------------------------------------------------- YAML files


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a YAML training config file, unvalidated (an empty file gives ``{}``);
    :func:`brainfit._config.read_yaml_mapping`, whose errors name the file as a training config."""
    return read_yaml_mapping(path, "training config")


# ----------------------------------------------------------------------------- the config


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved next to every output and in checkpoints).

    Validated at construction (module docstring: ints from ints only, floats also from number
    strings such as ``"1e-3"``, booleans from booleans only, NaN/inf refused).

    Parameters
    ----------
    model : str
        Registry name (``brainfit models list``), non-empty.
    data : str
        A folder of class subfolders, a zip of class folders (e.g. the CIFAR-10 JPEG zip, read
        with ``split="train"``), or ``synthetic[:category|:object_name]``. Path objects are
        stored as str.
    model_kwargs : dict
        Keyword arguments for ``create_model`` (str keys, plain YAML values; null means ``{}``).
    test_data : str, optional
        Evaluated once at the end (``split="test"`` of the same spec when ``"same"``).
    image_size : int >= 1, optional
        Resize images on load (antialiased).
    epochs, batch_size : int >= 1
    optimizer : {"adamw", "sgd"}
    lr : float > 0
    weight_decay : float >= 0
    momentum : float in [0, 1)
        SGD only (Nesterov, so > 0 with ``optimizer="sgd"``).
    warmup_epochs : float >= 0
        Linear warm-up, then cosine decay to ``min_lr_fraction * lr`` (per iteration).
    min_lr_fraction : float in [0, 1]
    grad_clip : float >= 0 or None
        Clip the global gradient norm to this value (0 or None: no clipping).
    n_steps, on_steps : int >= 1, optional
        Unroll length and stimulus duration in training (default: the model's own ``n_steps``;
        image shown on every step); ``on_steps <= n_steps`` when both are given. Fewer steps in
        training than at evaluation is fine.
    loss_steps : {"last", "all"}
        Loss on the last step, or on every step of a window that runs to the last step.
    loss_from : int >= 0, optional
        With ``loss_steps="all"``, the window's first step (0-based; default: the model's
        ``readout_step()``, the first step whose logits depend on the image; an earlier step is
        refused when training starts). With ``on_steps < n_steps`` the window spans the image
        and the gray after it, so the network learns to answer while the image is on and to keep
        its answer after offset.
    step_weighting : {"uniform", "linear"}
        With ``loss_steps="all"``: equal weights, or weights growing linearly with the step.
    freeze_batchnorm : bool
        Keep batch norm in inference mode while training: normalise with the running statistics
        (not updated) and learn only its scale and shift. For fine-tuning a recurrent model to a
        schedule with a blank period: with batch statistics, a batch of identical gray inputs is
        normalised by its own near-zero variance, so training would see a gray period the
        evaluated network never sees.
    augment : bool
        Random crop (padding 4) and horizontal flip.
    val_fraction : float in [0, 1)
        Held-out stratified fraction of the training data for validation.
    max_train_images : int >= 1, optional
        Use a deterministic subset (quick runs, tests).
    init_from : path, optional
        A brainfit checkpoint of the same model whose weights start the run (fine-tuning, e.g.
        to a new schedule); its SHA-256 is recorded in the run's ``summary.json`` and
        ``model.pt``. Default: fresh initialisation from ``seed``.
    early_stop_patience : int >= 1, optional
        Stop when validation accuracy has not improved for this many epochs.
    checkpoint_every : int >= 0
        Also write ``last.pt`` every this many iterations (0: only at epoch ends).
    amp : bool
        Mixed precision (CUDA only; ignored with a warning on CPU).
    compile : bool
        ``torch.compile`` the model for training.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (:func:`brainfit.device.resolve_device`;
        whether CUDA is there is checked when training starts).
    mean, std : 3 finite floats, optional
        Input normalisation per RGB channel, ``std > 0`` (default: the model's
        ``norm_mean``/``norm_std``).
    seed : int in [0, 2**32 - 1]

    Raises
    ------
    ConfigError
        A ``ValueError`` listing every bad field with its value and the expected type/range.
    """

    model: str
    data: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    test_data: str | None = None
    image_size: int | None = None
    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup_epochs: float = 1.0
    min_lr_fraction: float = 0.01
    grad_clip: float | None = 1.0
    n_steps: int | None = None
    on_steps: int | None = None
    loss_steps: str = "last"
    loss_from: int | None = None
    step_weighting: str = "uniform"
    freeze_batchnorm: bool = False
    augment: bool = True
    val_fraction: float = 0.1
    max_train_images: int | None = None
    init_from: str | None = None
    early_stop_patience: int | None = None
    checkpoint_every: int = 0
    amp: bool = False
    compile: bool = False
    device: str = "cpu"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        values, problems = _check({f.name: getattr(self, f.name) for f in fields(self)})
        if problems:
            raise ConfigError(_message(problems, None), problems)
        for name, value in values.items():  # numpy scalars -> Python numbers, lists -> tuples
            object.__setattr__(self, name, value)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the fields, in order."""
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """``{field: value}`` with plain YAML/JSON values (``mean``/``std`` as lists)."""
        d = asdict(self)
        d["mean"] = list(self.mean) if self.mean is not None else None
        d["std"] = list(self.std) if self.std is not None else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str | None = None) -> TrainConfig:
        """Config from ``{field: value}``; absent fields take their defaults.

        Parameters
        ----------
        d : mapping
            Must hold ``model`` and ``data``.
        source : str, optional
            Where ``d`` came from (a file name), quoted in the error message.

        Raises
        ------
        ConfigError
            Listing at once the unknown keys (with the known field names), the missing required
            fields and every invalid value.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"{_message([], source)}expected a mapping of field: value, got {type(d).__name__}")
        names = cls.field_names()
        problems, values = [], {}
        for f in fields(cls):
            if f.name in d:
                values[f.name] = d[f.name]
            elif f.default is not MISSING:
                values[f.name] = f.default
            elif f.default_factory is not MISSING:
                values[f.name] = f.default_factory()
            else:
                problems.append(f"{f.name} is missing (required)")
        problems += _check(values)[1]
        problems += unknown_keys(d, names)
        if problems:
            raise ConfigError(_message(problems, source), problems)
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> TrainConfig:
        """Config from a YAML file of ``field: value`` lines (see :meth:`from_dict`).

        Raises
        ------
        FileNotFoundError
            Naming ``path``.
        ConfigError
            For a file that cannot be parsed (with the line and column), that is not a mapping,
            or whose values are invalid (see :func:`read_config_file` and :meth:`from_dict`).
        """
        return cls.from_dict(read_config_file(path), source=str(path))
