"""Training throughput: ConvRNN vs its parameter-matched feedforward control, and brainfit's
training loop vs a bare PyTorch loop on the same model and batches (loop overhead).

Run from the repository root:  .venv/bin/python benchmarks/bench_training.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from brainfit.models import count_params, create_model
from brainfit.training import TrainConfig, train
from brainfit.training.data import ClassificationData


def toy_data(n: int, size: int = 32, seed: int = 0) -> ClassificationData:
    rng = np.random.default_rng(seed)
    return ClassificationData(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                              (np.arange(n) % 10).astype(np.int64), [str(i) for i in range(10)], "random")


def bare_loop(name: str, data: ClassificationData, batch: int, n_steps: int, iters: int) -> float:
    """images/s of a plain forward/cross-entropy/backward/AdamW loop (no augmentation, no checkpoints)."""
    torch.manual_seed(0)
    model = create_model(name).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x_all = torch.from_numpy(data.images).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.25)
    y_all = torch.from_numpy(data.labels)
    kw = {"n_steps": n_steps, "on_steps": n_steps} if model.time_varying else {}
    t = None
    for i in range(iters + 1):
        if i == 1:
            t = time.perf_counter()
        idx = slice((i * batch) % (len(data) - batch), (i * batch) % (len(data) - batch) + batch)
        logits = model(x_all[idx], **kw)[:, -1]
        loss = torch.nn.functional.cross_entropy(logits, y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return iters * batch / (time.perf_counter() - t)


def brainfit_loop(name: str, data: ClassificationData, batch: int, n_steps: int, iters: int) -> float:
    """images/s of brainfit.training.train over one epoch of ``iters`` batches (augmentation on)."""
    cfg = TrainConfig(model=name, data="in-memory", epochs=1, batch_size=batch, n_steps=n_steps, val_fraction=0.0,
                      warmup_epochs=0.0, checkpoint_every=0)
    sub = ClassificationData(data.images[: batch * iters], data.labels[: batch * iters], data.classes, data.source)
    with tempfile.TemporaryDirectory() as tmp:
        res = train(cfg, tmp, progress=False, data=sub, resume=False)
    return res.metrics[0]["images_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    iters = 4 if args.quick else 12
    batch, n_steps = 128, 7
    data = toy_data(batch * (iters + 2))
    pairs = [("convrnn_small_rgc", "ff_small_wider_rgc"), ("convrnn_small_vanilla", "ff_small_wider_vanilla")]
    if args.quick:
        pairs = pairs[:1]
    print(f"training throughput, batch {batch}, 32 px, ConvRNN unrolled {n_steps} steps (CPU threads: {torch.get_num_threads()})")
    for rnn, ff in pairs:
        r_bare, f_bare = bare_loop(rnn, data, batch, n_steps, iters), bare_loop(ff, data, batch, n_steps, iters)
        r_ours, f_ours = brainfit_loop(rnn, data, batch, n_steps, iters), brainfit_loop(ff, data, batch, n_steps, iters)
        print(f"  {rnn:24s} ({count_params(create_model(rnn)):7d} params): bare loop {r_bare:7.1f} img/s, "
              f"brainfit train {r_ours:7.1f} img/s (ratio {r_ours / r_bare:.2f})")
        print(f"  {ff:24s} ({count_params(create_model(ff)):7d} params): bare loop {f_bare:7.1f} img/s, "
              f"brainfit train {f_ours:7.1f} img/s (ratio {f_ours / f_bare:.2f})")
        print(f"  -> ConvRNN / feedforward control throughput: {r_ours / f_ours:.2f}x (brainfit), "
              f"{r_bare / f_bare:.2f}x (bare)")


if __name__ == "__main__":
    main()
