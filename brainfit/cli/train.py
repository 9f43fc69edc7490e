"""``brainfit train``: train a registry model on an image-classification dataset."""

from __future__ import annotations

import argparse
import json

from brainfit.cli._common import parse_overrides

__all__ = ["add_parser"]


def _cmd_train(args: argparse.Namespace) -> int:
    from brainfit.training.config import TrainConfig, read_config_file
    from brainfit.training.loop import train

    # One mapping from the file and the options, validated once: every bad field in one error.
    opts: dict = read_config_file(args.config) if args.config else {}
    for key in ("model", "data", "epochs", "batch_size", "lr", "n_steps", "device", "test_data", "seed"):
        value = getattr(args, key)
        if value is not None:
            opts[key] = value
    opts.update(parse_overrides(args.set))
    source = f"{args.config} with command-line options" if args.config else "command-line options"
    config = TrainConfig.from_dict(opts, source=source)
    result = train(config, args.out, resume=not args.no_resume, progress=not args.quiet)
    last = result.metrics[-1] if result.metrics else {}
    print(json.dumps({"out": str(result.out_dir), "epochs": len(result.metrics), "val_acc": last.get("val_acc"),
                      "test_acc": result.test_accuracy, "wall_time_s": round(result.wall_time_s, 1)}))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    p = sub.add_parser("train", help="task-train a model (BPTT over the unrolled steps)")
    p.add_argument("--config", help="YAML file with TrainConfig fields (command-line options override it)")
    p.add_argument("--model", help="registry name (see `brainfit models list`)")
    p.add_argument("--data", help="class-folder directory, zip of class folders, or synthetic[:category]")
    p.add_argument("--test-data", dest="test_data", help="'same' (the spec's test split) or another spec")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--n-steps", dest="n_steps", type=int, help="unroll length in training")
    p.add_argument("--device", help="cpu, cuda or auto")
    p.add_argument("--seed", type=int)
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="any other TrainConfig field, e.g. loss_steps=all")
    p.add_argument("--out", required=True, help="output folder (checkpoints, metrics, config)")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT holds a checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)
