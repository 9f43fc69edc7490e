"""Extraction benchmark: (a) overhead of brainfit.activations.extract over a bare torch.no_grad()
forward loop on the same images, (b) peak RSS for 1x and 4x the number of stimuli with a random
projection (memory must not grow with the number of stimuli).

Run from the repository root:  .venv/bin/python benchmarks/bench_extraction.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_zip(path: Path, n: int, seed: int = 0) -> None:
    """Synthetic-object images (64 px PNG) in a zip, so images are decoded lazily like real sets."""
    from brainfit.data._shapes import CATEGORIES
    from brainfit.data.synthetic import make_design, make_objects, render_images

    objects = make_objects(len(CATEGORIES), 4, 1234)
    per = max(1, int(np.ceil(n / (len(objects) * 3))))
    design = make_design(objects, per, seed=[seed, 99])[:n]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for lo in range(0, len(design), 256):
            imgs = render_images(objects, design[lo:lo + 256], 64)
            for i, im in enumerate(imgs):
                buf = io.BytesIO()
                Image.fromarray(im).save(buf, format="PNG")
                zf.writestr(f"img{lo + i:06d}.png", buf.getvalue())


def overhead(n_images: int, n_steps: int, batch: int, repeats: int) -> dict:
    from brainfit.activations import RandomProjection, extract
    from brainfit.models import create_model
    from brainfit.stimuli import Preprocessing, StimulusSet

    torch.manual_seed(0)
    model = create_model("convrnn_small_rgc").eval()
    with tempfile.TemporaryDirectory() as tmp:
        zpath = Path(tmp) / "stim.zip"
        make_zip(zpath, n_images)
        stimuli = StimulusSet.from_zip(zpath)
        prep = Preprocessing(size=32, mean=model.norm_mean, std=model.norm_std)
        bare, ours = [], []
        for r in range(repeats):
            t = time.perf_counter()
            with torch.no_grad():
                for _, x in stimuli.batches(batch, prep):
                    model(x, n_steps=n_steps)
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            act = extract(model, stimuli, n_steps=n_steps, batch_size=batch, preprocessing=prep,
                          projection=RandomProjection(1000, seed=r), cache=Path(tmp) / f"cache{r}", progress=False)
            ours.append(time.perf_counter() - t)
            sizes = dict(act.sizes)
            act.close()
    b, o = min(bare), min(ours)
    return {"n_images": n_images, "n_steps": n_steps, "bare_forward_s": round(b, 3), "extract_s": round(o, 3),
            "overhead": round(o / b - 1, 4), "activations": sizes}


def peak_rss_child(n_images: int, n_steps: int, zpath: str, cache: str) -> None:
    from brainfit.activations import RandomProjection, extract
    from brainfit.models import create_model
    from brainfit.stimuli import StimulusSet

    torch.manual_seed(0)
    model = create_model("convrnn_small_rgc").eval()
    stimuli = StimulusSet.from_zip(zpath)
    t = time.perf_counter()
    act = extract(model, stimuli, n_steps=n_steps, batch_size=64, projection=RandomProjection(1000),
                  cache=cache, progress=False)
    elapsed = time.perf_counter() - t
    print(json.dumps({"n_images": n_images, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "seconds": elapsed, "shape": list(act.shape)}))


def peak_rss(n_base: int, n_steps: int) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (n_base, 4 * n_base):
            zpath = Path(tmp) / f"stim{n}.zip"
            make_zip(zpath, n)
            res = subprocess.run([sys.executable, __file__, "--child", str(n), str(n_steps), str(zpath),
                                  str(Path(tmp) / f"cache{n}")], capture_output=True, text=True, check=True)
            out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer images")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        n, steps, zpath, cache = args.child
        peak_rss_child(int(n), int(steps), zpath, cache)
        return
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    n = 256 if args.quick else 960
    res = overhead(n, n_steps=26, batch=64, repeats=2 if args.quick else 3)
    print(f"(a) {res['n_images']} images x {res['n_steps']} steps, all 5 layers, projection 1000/layer -> "
          f"{res['activations']}")
    print(f"    bare no_grad forward loop: {res['bare_forward_s']:.2f} s   brainfit extract: {res['extract_s']:.2f} s   "
          f"overhead: {100 * res['overhead']:+.1f}%   (target <= +10%)")
    rss = peak_rss(n // 2 if args.quick else 960, n_steps=26)
    a, b = rss
    ratio = b["peak_rss_mb"] / a["peak_rss_mb"]
    print(f"(b) peak RSS: {a['n_images']} stimuli {a['peak_rss_mb']:.0f} MB, {b['n_images']} stimuli "
          f"{b['peak_rss_mb']:.0f} MB, ratio {ratio:.3f}   (target <= 1.10)")


if __name__ == "__main__":
    main()
