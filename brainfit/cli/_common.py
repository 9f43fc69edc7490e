"""Helpers shared by the command modules: ``KEY=VALUE`` overrides and the model choice."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["parse_overrides", "add_model_arguments", "check_trained_weights", "model_from_args"]


def parse_overrides(pairs: Sequence[str] | None, option: str = "--set") -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as YAML scalars).

    Raises
    ------
    ValueError
        Naming the option and the pair that is not ``KEY=VALUE`` or whose value is not valid YAML.
    """
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option}: expected KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"{option}: the value of {key.strip()!r} is not valid YAML ({value!r}: {problem})") from None
    return out


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--model`` with the choice of weights: shipped, a checkpoint, or a seeded random init."""
    p.add_argument("--model", help="registry name (see `brainfit models list`)")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true",
                         help="the model's trained weights (the default when it has them)")
    weights.add_argument("--checkpoint", metavar="PATH", help="a brainfit checkpoint (it names its model)")
    weights.add_argument("--weights", metavar="PATH", dest="checkpoint", help=argparse.SUPPRESS)  # older name
    weights.add_argument("--random-init", action="store_true",
                         help="untrained weights drawn from --seed (reproducible)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init weights (default 0)")
    p.add_argument("--model-set", nargs="*", metavar="KEY=VALUE",
                   help="create_model keyword arguments (with --random-init)")


def model_from_args(args: argparse.Namespace) -> tuple[Any, str]:
    """``(model, model_id)`` from :func:`add_model_arguments` options.

    Without a weights option a model with trained weights gets them and any other model is an
    error naming the choices: random weights are never picked silently.
    """
    from pathlib import Path

    from brainfit.models import model_from_spec

    kwargs = parse_overrides(args.model_set, "--model-set")
    if args.checkpoint:
        return model_from_spec(args.model, weights=args.checkpoint, **kwargs), args.model or Path(args.checkpoint).stem
    if not args.model:
        raise ValueError("give --model NAME (with --pretrained, --random-init) or --checkpoint PATH")
    if args.random_init:
        model = model_from_spec(args.model, weights="random", seed=args.seed, **kwargs)
        return model, f"{args.model}-random{args.seed}"
    check_trained_weights(args, kwargs)
    return model_from_spec(args.model, weights="pretrained", **kwargs), args.model


def check_trained_weights(args: argparse.Namespace, kwargs: dict[str, Any]) -> None:
    """Refuse trained weights for a model without them, or with architecture overrides: random
    weights are never picked silently (the rule of every command that takes a model)."""
    from brainfit.models import list_pretrained, loads_own_weights, model_from_spec

    if not args.pretrained and kwargs:
        raise ValueError("--model-set changes the architecture, so trained weights do not fit it; add --random-init")
    if not args.pretrained and not (loads_own_weights(args.model) or args.model in list_pretrained()):
        model_from_spec(args.model, weights="random")  # an unknown name fails here, listing close matches
        raise ValueError(f"{args.model!r} has no trained weights; choose --checkpoint PATH or --random-init "
                         f"[--seed N] (models with weights: {', '.join(list_pretrained())})")
