"""Package trained mini-zoo runs as the release weights shipped in ``brainfit/weights``.

For each model trained by ``run_zoo.sh`` (``results/zoo/<name>/model.pt``) this writes

* ``brainfit/weights/<name>.pt``: release checkpoint (float16 weights, config, metrics, the
  stimulus schedule it was trained under; no optimizer state), loadable with
  ``create_model(name, pretrained=True)``, which defaults the model's unroll to that schedule;
* ``brainfit/weights/<name>.json``: parameters, per-epoch metrics, training wall time, and the
  CIFAR-10 test accuracy of the *released* (float16-stored) weights, re-measured here; for a
  recurrent model also the accuracy at every time step of its schedule (``step_accuracy``) and,
  when it was fine-tuned from earlier weights (``init_from``), those weights' accuracy read at
  the same schedule (``init_step_accuracy``);
* ``brainfit/weights/<name>.yaml`` / ``.csv``: the resolved training config and the epoch log;
* ``brainfit/weights/<name>_steps.png``: accuracy against time step, image-on period shaded.

Run from the repository root:  .venv/bin/python analyses/train_zoo/release.py [NAME ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

from brainfit._io import atomic_write_json, sha256_file
from brainfit.models import count_params, load_checkpoint, load_model, save_checkpoint
from brainfit.paths import weights_dir
from brainfit.plots import plot_step_accuracy, save_figure
from brainfit.training import evaluate, step_accuracy
from brainfit.training.data import load_classification_data

MAX_BYTES = 5 * 1024 * 1024


def _step_record(acc: np.ndarray, n_steps: int, on_steps: int, readout: int) -> dict:
    after = acc[readout + 2:] if readout + 2 < len(acc) else acc[-1:]
    return {"n_steps": n_steps, "on_steps": on_steps, "readout_step": readout,
            "accuracy": [round(float(a), 4) for a in acc], "last": round(float(acc[-1]), 4),
            "min_from_readout_plus_2": round(float(after.min()), 4)}


def release(name: str, runs: Path, test_cache: dict) -> dict:
    run = runs / name
    ckpt = load_checkpoint(run / "model.pt")
    config = dict(ckpt["config"])
    summary = config.pop("summary", {})
    model = load_model(run / "model.pt", ckpt=ckpt)
    out = weights_dir() / f"{name}.pt"
    save_checkpoint(out, model=model, model_name=ckpt["model_name"], model_kwargs=ckpt["model_kwargs"],
                    config=config, metrics=ckpt["metrics"], half=True, schedule=ckpt.get("schedule"))
    size = out.stat().st_size
    if size > MAX_BYTES:
        out.unlink()
        raise SystemExit(f"{out} is {size / 1e6:.1f} MB, over the 5 MB limit for shipped weights")
    released = load_model(out)
    sched = getattr(released, "trained_schedule", None)
    spec = config["data"] if config.get("test_data") == "same" else config.get("test_data")
    test_acc, steps, init_steps, init = None, None, None, None
    if spec:
        if spec not in test_cache:
            test_cache[spec] = load_classification_data(spec, split="test", image_size=config.get("image_size"))
        test = test_cache[spec]
        if sched is not None:  # a recurrent model: accuracy at every step of the schedule it was trained for
            n, on, readout = sched["n_steps"], sched["on_steps"], int(released.readout_step())
            steps = _step_record(step_accuracy(released, test), n, on, readout)
            test_acc = steps["last"]
            if config.get("init_from"):
                init_path = Path(config["init_from"])
                start = load_model(init_path)
                init = {"file": init_path.as_posix(), "sha256": sha256_file(init_path),
                        "schedule": getattr(start, "trained_schedule", None),
                        "train_wall_time_s": round(sum(m["epoch_time_s"] for m in start.checkpoint_info["metrics"]), 1)}
                init_steps = _step_record(step_accuracy(start, test, n_steps=n, on_steps=on), n, on, readout)
            curves = {"released (trained for this schedule)": np.asarray(steps["accuracy"])}
            if init_steps is not None:
                curves["initial weights (trained for " + f"{init['schedule']['n_steps']} steps, image always on)"] = \
                    np.asarray(init_steps["accuracy"])
            ax = plot_step_accuracy(curves, on_steps=on, readout_step=readout, title=name)
            save_figure(ax.figure, weights_dir() / f"{name}_steps.png", dpi=100)
        else:
            _, test_acc = evaluate(released, test, mean=released.norm_mean, std=released.norm_std, progress=False)
    metrics = ckpt["metrics"]
    info = {
        "name": name,
        "params": count_params(released),
        "is_recurrent": bool(getattr(released, "is_recurrent", False)),
        "trained_on": config["data"].rsplit("/", 1)[-1],
        "test_accuracy": test_acc,
        "test_accuracy_float32": summary.get("test_accuracy"),
        "epochs": len(metrics),
        "train_wall_time_s": round(sum(m["epoch_time_s"] for m in metrics), 1),
        "train_images_per_s": round(sum(m["images_per_s"] for m in metrics) / max(1, len(metrics)), 1),
        "schedule": sched,
        "step_accuracy": steps,
        "init": init,
        "init_step_accuracy": init_steps,
        "config": config,
        "metrics": metrics,
        "sha256": sha256_file(out),
        "bytes": size,
    }
    atomic_write_json(weights_dir() / f"{name}.json", info)
    shutil.copyfile(run / "config.yaml", weights_dir() / f"{name}.yaml")
    shutil.copyfile(run / "metrics.csv", weights_dir() / f"{name}.csv")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="runs under --runs (default: every finished run)")
    ap.add_argument("--runs", default="results/zoo", type=Path)
    args = ap.parse_args(argv)
    names = args.names or sorted(p.parent.name for p in args.runs.glob("*/model.pt"))
    if not names:
        print(f"no finished runs under {args.runs}", file=sys.stderr)
        return 1
    cache: dict = {}
    for name in names:
        info = release(name, args.runs, cache)
        line = (f"{name:28s} params {info['params']:7d}  test acc {info['test_accuracy']:.4f} "
                f"(float32 {info['test_accuracy_float32']:.4f})  epochs {info['epochs']}  "
                f"train time {info['train_wall_time_s'] / 60:.1f} min  {info['bytes'] / 1e6:.2f} MB")
        if info["step_accuracy"]:
            s = info["step_accuracy"]
            line += f"  min from step {s['readout_step'] + 2}: {s['min_from_readout_plus_2']:.4f}"
            if info["init_step_accuracy"]:
                i = info["init_step_accuracy"]
                line += f"  (initial weights at this schedule: last {i['last']:.4f}, min {i['min_from_readout_plus_2']:.4f})"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
