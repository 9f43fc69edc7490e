"""Package trained mini-zoo runs as the release weights shipped in ``brainfit/weights``.

For each model trained by ``run_zoo.sh`` (``results/zoo/<name>/model.pt``) this writes

* ``brainfit/weights/<name>.pt``: release checkpoint (float16 weights, config, metrics; no
  optimizer state), loadable with ``create_model(name, pretrained=True)``;
* ``brainfit/weights/<name>.json``: parameters, per-epoch metrics, training wall time, and the
  CIFAR-10 test accuracy of the *released* (float16-stored) weights, re-measured here;
* ``brainfit/weights/<name>.yaml`` / ``.csv``: the resolved training config and the epoch log.

Run from the repository root:  .venv/bin/python analyses/train_zoo/release.py [NAME ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from brainfit._io import atomic_write_json, sha256_file
from brainfit.models import count_params, load_checkpoint, load_model, save_checkpoint
from brainfit.paths import weights_dir
from brainfit.training import evaluate
from brainfit.training.data import load_classification_data

MAX_BYTES = 5 * 1024 * 1024


def release(name: str, runs: Path, test_cache: dict) -> dict:
    run = runs / name
    ckpt = load_checkpoint(run / "model.pt")
    config = dict(ckpt["config"])
    summary = config.pop("summary", {})
    model = load_model(run / "model.pt", ckpt=ckpt)
    out = weights_dir() / f"{name}.pt"
    save_checkpoint(out, model=model, model_name=ckpt["model_name"], model_kwargs=ckpt["model_kwargs"],
                    config=config, metrics=ckpt["metrics"], half=True)
    size = out.stat().st_size
    if size > MAX_BYTES:
        out.unlink()
        raise SystemExit(f"{out} is {size / 1e6:.1f} MB, over the 5 MB limit for shipped weights")
    released = load_model(out)
    spec = config["data"] if config.get("test_data") == "same" else config.get("test_data")
    test_acc = None
    if spec:
        if spec not in test_cache:
            test_cache[spec] = load_classification_data(spec, split="test", image_size=config.get("image_size"))
        n_steps = config.get("n_steps")
        _, test_acc = evaluate(released, test_cache[spec], n_steps=n_steps, on_steps=config.get("on_steps") or n_steps,
                               mean=released.norm_mean, std=released.norm_std, progress=False)
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
        "n_steps_train": config.get("n_steps"),
        "note": ("trained with the image on for every one of n_steps_train steps and the loss on the last step; "
                 "brain-mapping runs unroll the model's own schedule (26 steps, image on for 10)"),
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
        print(f"{name:28s} params {info['params']:7d}  test acc {info['test_accuracy']:.4f} "
              f"(float32 {info['test_accuracy_float32']:.4f})  epochs {info['epochs']}  "
              f"train time {info['train_wall_time_s'] / 60:.1f} min  {info['bytes'] / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
