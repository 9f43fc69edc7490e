"""``brainfit models list`` (registered models, parameter counts, recurrent or not, trained weights)
and ``brainfit models show NAME|CHECKPOINT`` (one model: architecture, the stimulus schedule its
weights were trained under, and their task accuracy at every time step)."""

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


def _schedule_line(sched: dict) -> str:
    from brainfit.models.schedule import describe_schedule

    line = describe_schedule(sched["n_steps"], sched["on_steps"])
    if sched.get("loss_steps") == "all":
        line += f"; loss on steps {sched.get('loss_from', '?')}-{sched['n_steps'] - 1}"
        if sched.get("step_weighting"):
            line += f" ({sched['step_weighting']} weights)"
    elif sched.get("loss_steps") == "last":
        line += "; loss on the last step"
    return line


def _step_table(rec: dict, label: str) -> list[str]:
    acc = rec["accuracy"]
    lines = [f"{label} ({rec['n_steps']} steps, image on for steps 0-{rec['on_steps'] - 1}; "
             f"readout reached at step {rec['readout_step']}):"]
    for lo in range(0, len(acc), 13):
        chunk = range(lo, min(lo + 13, len(acc)))
        lines.append("  step  " + " ".join(f"{t:>5d}" for t in chunk))
        lines.append("  acc % " + " ".join(f"{100 * acc[t]:5.1f}" for t in chunk))
    lines.append(f"  last step {100 * rec['last']:.1f}%, lowest from step {rec['readout_step'] + 2} on "
                 f"{100 * rec['min_from_readout_plus_2']:.1f}%")
    return lines


def _cmd_show(args: argparse.Namespace) -> int:
    from pathlib import Path

    from brainfit.models import count_params, create_model, list_pretrained, load_model, pretrained_info

    target = args.name
    out: list[str] = []
    if target.endswith(".pt") or Path(target).is_file():
        model = load_model(target)  # raises with the reason when it is no brainfit checkpoint
        info = model.checkpoint_info
        out.append(f"{info['model_name']} (checkpoint {target}, brainfit {info.get('brainfit_version')})")
        shipped = None
    else:
        model = create_model(target)  # an unknown name raises, listing close matches
        shipped = pretrained_info(target) if (target in list_pretrained() and not target.endswith("_unrolled")) \
            else None
        out.append(target)
    out.append(f"  parameters: {count_params(model)}")
    out.append(f"  recurrent: {'yes' if getattr(model, 'is_recurrent', False) else 'no'}")
    layers = getattr(model, "layers", None)
    if isinstance(layers, dict):
        regions = getattr(model, "regions", {})
        out.append("  layers: " + ", ".join(f"{n} ({regions[n]})" if n in regions else n for n in layers))
    if getattr(model, "time_varying", False):
        out.append(f"  default unroll: {model.n_steps} steps, image on for {model.on_steps}")
    sched = getattr(model, "trained_schedule", None) or (shipped or {}).get("schedule")
    if sched:
        out.append(f"  trained schedule: {_schedule_line(sched)}")
    elif getattr(model, "is_recurrent", False):
        out.append("  trained schedule: not recorded" + ("" if shipped or args.name.endswith(".pt") else
                                                        " (no trained weights)"))
    if target.endswith("_unrolled") and target in list_pretrained():
        out.append(f"  weights: those of {target.removesuffix('_unrolled')} (states reset at every step)")
    if shipped:
        acc = shipped.get("test_accuracy")
        out.append(f"  shipped weights: test accuracy {acc:.1%} (CIFAR-10 test split"
                   + (", last step)" if shipped.get("step_accuracy") else ")"))
        if shipped.get("init"):
            out.append(f"  fine-tuned from: {shipped['init']['file']} (sha256 {shipped['init']['sha256'][:12]})")
        if shipped.get("step_accuracy"):
            out.extend("  " + ln for ln in _step_table(shipped["step_accuracy"], "accuracy per time step"))
        if shipped.get("init_step_accuracy"):
            out.extend("  " + ln for ln in _step_table(shipped["init_step_accuracy"],
                                                       "initial weights read at the same schedule"))
    print("\n".join(out))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand."""
    p = sub.add_parser("models", help="list registered models")
    msub = p.add_subparsers(dest="models_cmd", required=True)
    lst = msub.add_parser("list", help="names, parameter counts, recurrent or not")
    lst.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'convrnn*'")
    lst.set_defaults(func=_cmd_models)
    show = msub.add_parser("show", help="one model: layers, trained schedule, accuracy per time step")
    show.add_argument("name", help="registry name (e.g. convrnn_small_rgc) or a checkpoint file")
    show.set_defaults(func=_cmd_show)
