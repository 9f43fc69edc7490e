"""Extraction memory benchmark: peak RSS of brainfit.activations.extract for 1x and 4x the number
of stimuli with a random projection (memory must not grow with the number of stimuli), each in a
fresh process. The overhead over a bare forward loop, stage by stage, is in bench_pipeline.py,
which also uses this module's image zip and this measurement (``--rss``).

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
    from brainfit.data import CATEGORIES
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
    a, b = peak_rss(480 if args.quick else 960, n_steps=26)
    print(f"peak RSS: {a['n_images']} stimuli {a['peak_rss_mb']:.0f} MB, {b['n_images']} stimuli "
          f"{b['peak_rss_mb']:.0f} MB, ratio {b['peak_rss_mb'] / a['peak_rss_mb']:.3f}   (target <= 1.10)")


if __name__ == "__main__":
    main()
