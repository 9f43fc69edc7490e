"""Training cost of the scoring schedule (26 steps, image on for 10): brainfit's ConvRNN unroll,
which reuses a block's feedforward drive while its input is unchanged, against a bare unroll that
recomputes every block at every step (the floor a plain PyTorch implementation gives), on the
same weights and batch; plus the 7-step, image-always-on schedule for scale.

Run from the repository root:  .venv/bin/python benchmarks/bench_schedule_unroll.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from brainfit.models import create_model
from brainfit.models.convrnn import unroll_without_reuse as bare_unroll


def seconds_per_iteration(step, model, x, y, n_steps, on_steps, repeats: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        logits = step(model, x, n_steps, on_steps)
        loss = torch.nn.functional.cross_entropy(logits[:, 4:].reshape(-1, logits.shape[-1]),
                                                 y.repeat_interleave(logits.shape[1] - 4))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[len(times[1:]) // 2]  # median after one warm-up


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    repeats, batch = (2, 64) if args.quick else (5, 128)
    torch.manual_seed(0)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    ours = lambda m, x, n, on: m(x, n_steps=n, on_steps=on)  # noqa: E731
    print(f"one training iteration (forward, loss over steps 4.., backward, AdamW), batch {batch}, "
          f"CPU threads {torch.get_num_threads()}")
    for name in ["convrnn_small_rgc", "convrnn_small_vanilla"][: 1 if args.quick else 2]:
        for n, on in [(26, 10), (7, 7)]:
            model = create_model(name).train()
            t_ours = seconds_per_iteration(ours, model, x, y, n, on, repeats)
            t_bare = seconds_per_iteration(bare_unroll, model, x, y, n, on, repeats)
            print(f"  {name:22s} {n:2d} steps, image on {on:2d}: brainfit {t_ours:6.2f} s, bare unroll "
                  f"{t_bare:6.2f} s  (brainfit / bare time {t_ours / t_bare:.2f})")


if __name__ == "__main__":
    main()
