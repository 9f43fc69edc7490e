"""What the activation cache's integrity costs: the SHA-256 seal written after an extraction and
checked on every cache hit, against the extraction itself and against an unchecked open.

The demo's extraction (shipped ConvRNN, the default synthetic stimuli, 26 steps, 512 random
features per layer) is timed once; then its cache file is sealed again and a hit is timed with
and without the check (best of 5).

Run from the repository root:  .venv/bin/python benchmarks/bench_cache_integrity.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch


def best_of(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small stimulus set")
    args = parser.parse_args()
    from brainfit.activations import RandomProjection, extract, open_activations
    from brainfit.activations.cache import _check_seal, _seal
    from brainfit.data import load_dataset
    from brainfit.models import model_from_spec

    torch.set_num_threads(2)
    stimuli, _ = load_dataset("synthetic", **({"images_per_object": 2} if args.quick else {}))
    model = model_from_spec("convrnn_small_rgc", weights="pretrained")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        da = extract(model, stimuli, projection=RandomProjection(width=512), cache=tmp, progress=False)
        t_extract = time.perf_counter() - t
        path = Path(da.encoding["source"])
        da.close()
        size_mb = path.stat().st_size / 2**20
        t_seal = best_of(lambda: _seal(path))
        t_check = best_of(lambda: _check_seal(path))
        t_open = best_of(lambda: open_activations(path, verify=False).close())
        t_hit = best_of(lambda: extract(model, stimuli, projection=RandomProjection(width=512), cache=tmp,
                                        progress=False).close())
    print(f"{len(stimuli)} stimuli, cache file {size_mb:.0f} MiB")
    print(f"extraction (incl. one seal)   {t_extract:8.2f} s")
    print(f"seal (hash + write)           {t_seal:8.3f} s   = {100 * t_seal / t_extract:.2f}% of the extraction")
    print(f"seal check                    {t_check:8.3f} s   ({size_mb / t_check:.0f} MiB/s)")
    print(f"unchecked open                {t_open:8.3f} s")
    print(f"cache hit (key + check + open){t_hit:8.3f} s   = {t_hit / t_open:.1f}x an unchecked open, "
          f"{100 * t_hit / t_extract:.1f}% of extracting again")


if __name__ == "__main__":
    main()
