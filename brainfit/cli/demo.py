"""``brainfit demo``: the whole pipeline on the embedded synthetic ventral stream.

The demo is a zoo config (``analyses/demo/demo.yaml``: the shipped ConvRNN, the same weights
without recurrence, its parameter-matched wider control) run through the one pipeline in this
process (:func:`brainfit.zoo.run_zoo` with ``workers=0``, then
:func:`brainfit.zoo.report.write_zoo_report`); ``--quick`` applies the file's ``quick:``
overrides. Its one extra, the channel maps of the first model over the unroll, enters through
the report's figure hook. ``brainfit zoo run/report`` on the same file gives the same numbers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_CONFIG", "add_parser", "channel_maps_hook", "run_demo"]

#: The demo's settings file, relative to the project root.
DEFAULT_CONFIG = Path("analyses") / "demo" / "demo.yaml"


def channel_maps_hook(dataset: str, plan: Any) -> dict[str, tuple[Any, str]]:
    """The report hook of the demo: six channels of the first model's first candidate layer at every
    second time step, for the dataset's first image (how the recurrent state evolves)."""
    from brainfit.activations import layer_maps
    from brainfit.plots import plot_channel_maps
    from brainfit.zoo import build_model
    from brainfit.zoo.plan import load_data

    spec = plan.config.models[0]
    facts = plan.models[spec.id]
    stimuli, _ = load_data(next(d for d in plan.config.datasets if d.id == dataset))
    model = build_model(spec)
    layer = (facts["layers"] or list(model.layers))[0]
    maps = layer_maps(model, stimuli, layer, n_steps=facts["n_steps"], on_steps=facts["on_steps"], stimulus=0)
    fig = plot_channel_maps(maps, channels=6, steps=list(range(0, maps.shape[0], 2)))
    fig.suptitle(f"{spec.label}, {layer}: channel maps over time steps (image {stimuli.stimulus_ids[0]})", fontsize=10)
    caption = (f"{spec.label}: six channels of {layer} at every second time step for one image (~10 ms per step; "
               "the image is on for the first on_steps steps, then mean gray) -- how the recurrent state evolves")
    return {f"maps_{spec.id}.png": (fig, caption)}


def run_demo(config: Any, *, device: str | None = None) -> dict[str, Any]:
    """Run ``config`` (a :class:`~brainfit.zoo.ZooConfig`) in this process and write its report;
    prints the progress and the summary, returns ``{"run": run_zoo's summary, "report": its result}``."""
    from brainfit.cli.zoo import Printer
    from brainfit.zoo import run_zoo
    from brainfit.zoo.report import write_zoo_report

    printer = Printer()
    run = run_zoo(config, workers=0, device=device, on_event=printer)
    report = write_zoo_report(config, extra_figures=channel_maps_hook, on_event=printer)
    for name, path in report["reports"].items():
        print((path.parent / "summary.txt").read_text(), end="")
        print(f"results of {name} in {config.out}/ ({run['seconds']:.0f} s to fit; results.csv, results/, "
              f"report/{name}/: leaderboard.md, comparison/*.csv, figures/*.png, summary.txt)")
        print(f"report: {path}")
    return {"run": run, "report": report}


def _cmd_demo(args: argparse.Namespace) -> int:
    from brainfit.zoo import ZooConfig

    path = Path(args.config) if args.config is not None else DEFAULT_CONFIG
    if args.config is None and not path.is_file():
        raise FileNotFoundError(f"brainfit demo reads {DEFAULT_CONFIG} from the project folder: run it there, or "
                                "give --config FILE (a zoo config)")
    run_demo(ZooConfig.from_yaml(path, out=args.out, quick=args.quick), device=args.device)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser("demo", help="end-to-end run on the embedded synthetic ventral stream")
    p.add_argument("--config", help=f"the demo's zoo config (default: {DEFAULT_CONFIG})")
    p.add_argument("--out", help="output folder (default: the config's out, results/demo)")
    p.add_argument("--quick", action="store_true", help="the config's 'quick' overrides: a fast check of the path")
    p.add_argument("--device", help="cpu (default), cuda or auto")
    p.add_argument("--no-progress", action="store_true", help="(kept for scripts; the demo prints a line per fit)")
    p.set_defaults(func=_cmd_demo)
