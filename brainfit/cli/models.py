"""``brainfit models list``: registered models, parameter counts, recurrent or not, trained weights."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def _cmd_models(args: argparse.Namespace) -> int:
    from brainfit.models import list_models, list_pretrained, loads_own_weights, model_info, pretrained_info

    names = list_models(args.pattern)
    if not names:
        print(f"no model matches {args.pattern!r}")
        return 1
    shipped = set(list_pretrained())
    print(f"{'name':36s} {'params':>9s}  {'recurrent':9s}  {'time steps':10s}  trained weights")
    for name in names:
        info = model_info(name)
        steps = "unrolled" if info["time_varying"] else "one"
        weights = ""
        if name in shipped:
            try:
                acc = pretrained_info(name).get("test_accuracy")
                weights = "shipped" + (f" (test accuracy {acc:.1%})" if acc is not None else "")
            except KeyError:  # an unrolled control reusing its ConvRNN's weights
                weights = f"shipped (weights of {name.removesuffix('_unrolled')})"
        elif loads_own_weights(name):
            weights = "pretrained=True (from the data root)"
        print(f"{name:36s} {info['params']:9d}  {'yes' if info['is_recurrent'] else 'no':9s}  {steps:10s}  {weights}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand."""
    p = sub.add_parser("models", help="list registered models")
    msub = p.add_subparsers(dest="models_cmd", required=True)
    lst = msub.add_parser("list", help="names, parameter counts, recurrent or not")
    lst.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'convrnn*'")
    p.set_defaults(func=_cmd_models)
