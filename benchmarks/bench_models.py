"""Forward (inference) throughput of every ConvRNN preset unrolled T steps vs its feedforward base
(``ff_small``, one step) and vs its parameter-matched wider control (``ff_small_wider_<cell>``).

Eval mode, ``torch.no_grad()``, random 32 px images, batch 128, all models in one process. The
three models of a preset are timed in turn within each round (after warm-up calls, the ConvRNN's
over a short unroll that reaches every block), so a change in machine load hits all of them alike;
each rate is the batch over the median time of one call. The ratio is ConvRNN / feedforward
images/s (below 1: the ConvRNN is slower); ``x T`` is that ratio times the number of steps, i.e.
the cost of one feedforward pass relative to one unrolled step (above 1: a step is cheaper).

Timings need an otherwise idle machine: with another process busy on the same cores, torch's
thread pool contends with it and multi-threaded numbers can drop by an order of magnitude
(``--threads 1`` is then the steadier measurement).

Run from the repository root:  .venv/bin/python benchmarks/bench_models.py [--quick] [--steps 26]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from brainfit.models import CELL_TYPES, count_params, create_model

PRESETS = [f"convrnn_small_{c}" for c in CELL_TYPES] + ["convrnn_small_rgc_feedback"]


def wider_of(preset: str) -> str:
    """The parameter-matched wider control of a preset (the feedback preset uses its cell's)."""
    cell = preset.removeprefix("convrnn_small_").removesuffix("_feedback")
    return f"ff_small_wider_{cell}"


def call_time(model: torch.nn.Module, x: torch.Tensor, kw: dict) -> float:
    """Seconds for one forward call."""
    t = time.perf_counter()
    model(x, **kw)
    return time.perf_counter() - t


def warmup_kw(model: torch.nn.Module, kw: dict) -> dict:
    """A short unroll that still runs every block with a state (the warm-up need not be T steps)."""
    if "n_steps" not in kw:
        return kw
    n = min(kw["n_steps"], len(model.layers) + 1)
    return {"n_steps": n, "on_steps": min(kw["on_steps"], n)}


def throughputs(models: dict[str, torch.nn.Module], x: torch.Tensor, kws: dict[str, dict], iters: int,
                warmup: int) -> dict[str, float]:
    """images/s of each model: batch size over the median of ``iters`` calls, round-robin."""
    times: dict[str, list[float]] = {n: [] for n in models}
    with torch.no_grad():
        for name, m in models.items():
            for _ in range(warmup):
                m(x, **warmup_kw(m, kws[name]))
        for _ in range(iters):
            for name, m in models.items():
                times[name].append(call_time(m, x, kws[name]))
    return {n: len(x) / float(np.median(t)) for n, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="two presets, fewer iterations (< 30 s)")
    ap.add_argument("--steps", type=int, default=26, help="unroll length T of the ConvRNNs (default 26)")
    ap.add_argument("--on-steps", type=int, default=10, help="steps with the image on (default 10)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    iters, warmup = (2, 1) if args.quick else (5, 2)
    presets = PRESETS[:2] if args.quick else PRESETS
    T, on = args.steps, min(args.on_steps, args.steps)

    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 3, 32, 32)
    base = create_model("ff_small").eval()
    print(f"forward throughput (eval, no_grad), batch {args.batch_size}, 32 px random images, ConvRNNs unrolled "
          f"{T} steps (image on {on}); CPU threads: {torch.get_num_threads()}; median of {iters} calls")
    print(f"  {'model':28s} {'params':>8s} {'steps':>5s} {'img/s':>9s}  {'ConvRNN/this':>12s} {'x T':>6s}")
    t0 = time.perf_counter()
    for preset in presets:
        rnn = create_model(preset, n_steps=T, on_steps=on).eval()
        wide_name = wider_of(preset)
        wide = create_model(wide_name).eval()
        models = {preset: rnn, "ff_small": base, wide_name: wide}
        kws = {preset: {"n_steps": T, "on_steps": on}, "ff_small": {}, wide_name: {}}
        rate = throughputs(models, x, kws, iters, warmup)
        print(f"  {preset:28s} {count_params(rnn):8d} {T:5d} {rate[preset]:9.1f}")
        for name in ("ff_small", wide_name):
            ratio = rate[preset] / rate[name]
            print(f"    {name:26s} {count_params(models[name]):8d} {1:5d} {rate[name]:9.1f}  {ratio:12.3f} {ratio * T:6.2f}")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
