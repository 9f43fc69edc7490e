"""The hidden world and brain of the synthetic ventral stream (:mod:`brainfit.data.synthetic`):
objects, the image design, rendering, and the ground-truth network that turns images into V4 and
IT firing rates. Split from :mod:`~brainfit.data.synthetic` to keep each file to one concern.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from brainfit.data._shapes import CATEGORIES, TEXTURES, ObjectSpec, pink_noise, render

__all__ = ["make_objects", "make_design", "render_images", "GroundTruth", "VARIATION_LEVELS", "STIMULUS_ON_MS"]

log = logging.getLogger(__name__)

VARIATION_LEVELS = (0, 3, 6)
STIMULUS_ON_MS = 100.0
_DT = 2.0  # ms, simulation step
_READOUTS: dict[tuple, tuple] = {}  # trained readouts, shared by population sizes (see GroundTruth)


# ----------------------------------------------------------------------------- world and design


def make_objects(n_categories: int, objects_per_category: int, network_seed: int) -> list[ObjectSpec]:
    """The object world: ``objects_per_category`` distinct objects in each category.

    Hues are spread evenly and shuffled across all objects, so colour identifies an object but
    not its category; shape identifies the category.
    """
    rng = np.random.default_rng([network_seed, 1])
    n = n_categories * objects_per_category
    hues = rng.permutation((np.arange(n) + rng.random()) / n)
    objects = []
    for c in range(n_categories):
        for k in range(objects_per_category):
            i = c * objects_per_category + k
            shape = tuple(float(v) for v in (np.arange(3) * 0.37 + (k + 0.5) / objects_per_category + 0.1 * rng.random(3)) % 1.0)
            objects.append(ObjectSpec(
                category=CATEGORIES[c], name=f"{CATEGORIES[c]}{k}", shape=shape, hue=float(hues[i]),
                texture=TEXTURES[(k + c) % len(TEXTURES)], texture_freq=float(2.5 + 3.0 * rng.random()),
                texture_angle=float(np.pi * rng.random()),
            ))
    return objects


def _pose(rng: np.random.Generator, variation: int) -> dict[str, float]:
    if variation == 0:
        return {"pos_x": 0.0, "pos_y": 0.0, "scale": 1.0, "rotation": 0.0, "aspect": 1.0}
    if variation == 3:
        return {"pos_x": rng.uniform(-0.25, 0.25), "pos_y": rng.uniform(-0.25, 0.25),
                "scale": rng.uniform(0.85, 1.15), "rotation": np.deg2rad(rng.uniform(-30, 30)),
                "aspect": rng.uniform(0.8, 1.0)}
    return {"pos_x": rng.uniform(-0.35, 0.35), "pos_y": rng.uniform(-0.35, 0.35),
            "scale": rng.uniform(0.7, 1.3), "rotation": np.deg2rad(rng.uniform(-90, 90)),
            "aspect": rng.uniform(0.6, 1.0)}


def make_design(objects: list[ObjectSpec], images_per_object: int, seed: int | tuple,
                levels: tuple[int, ...] = VARIATION_LEVELS) -> list[dict]:
    """One row per image: object index, variation level, pose and background seed."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in levels:
        for oi, obj in enumerate(objects):
            for r in range(images_per_object):
                rows.append({"object_index": oi, "object_name": obj.name, "category": obj.category,
                             "variation": v, **_pose(rng, v), "background_seed": int(rng.integers(2**31))})
    return rows


def render_images(objects: list[ObjectSpec], design: list[dict], size: int) -> np.ndarray:
    """Render the design as uint8 images of shape (N, size, size, 3)."""
    out = np.empty((len(design), size, size, 3), dtype=np.uint8)
    for i, row in enumerate(design):
        v = row["variation"]
        if v == 0:
            bg = np.full((size, size, 3), 0.5)
        else:
            contrast = 0.3 if v == 3 else 0.7
            bg = 0.5 + (pink_noise(np.random.default_rng(row["background_seed"]), size) - 0.5) * contrast
        img = render(objects[row["object_index"]], row, bg, size)
        out[i] = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return out


# ----------------------------------------------------------------------------- ground truth


def _gabor_bank(size: int = 11) -> torch.Tensor:
    """Even/odd Gabor pairs: 4 orientations x 2 scales -> (16, 1, size, size)."""
    r = (np.arange(size) - size // 2).astype(float)
    x, y = np.meshgrid(r, r)
    filters = []
    for sigma, wavelength in ((1.5, 4.0), (3.0, 8.0)):
        for theta in np.arange(4) * np.pi / 4:
            xr = x * np.cos(theta) + y * np.sin(theta)
            env = np.exp(-(x**2 + y**2) / (2 * sigma**2))
            for phase in (0.0, np.pi / 2):
                g = env * np.cos(2 * np.pi * xr / wavelength + phase)
                g -= g.mean() * env / env.mean()  # zero DC so uniform regions give no response
                filters.append(g / np.abs(g).sum())
    return torch.tensor(np.stack(filters)[:, None], dtype=torch.float32)


def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = np.arange(-int(3 * sigma), int(3 * sigma) + 1)
    k = np.exp(-(r**2) / (2 * sigma**2))
    k2 = np.outer(k, k)
    return torch.tensor(k2 / k2.sum(), dtype=torch.float32)[None, None]


class GroundTruth:
    """The hidden network that turns images into V4 and IT firing rates (fixed seed).

    Parameters
    ----------
    objects : list of ObjectSpec
        The world the network has "grown up" with (its readout is trained on them).
    n_v4, n_it : int
        Number of recorded sites per region.
    network_seed : int
    image_size : int
    """

    GRID = 8
    N_V4_HIDDEN = 256
    N_TEMPLATES = 64
    N_HUES = 8

    def __init__(self, objects: list[ObjectSpec], n_v4: int, n_it: int, network_seed: int, image_size: int):
        self.objects = objects
        self.n_obj = len(objects)
        cats = sorted({o.category for o in objects}, key=CATEGORIES.index)
        self.category_of = np.array([cats.index(o.category) for o in objects])
        self.n_cat = len(cats)
        self.image_size = image_size
        rng = np.random.default_rng([network_seed, 2])
        self.gabors = _gabor_bank()
        self.blur = _gauss_kernel(2.0)
        n_ch = 8 + self.N_HUES
        g = self.GRID
        n_hidden = max(self.N_V4_HIDDEN, n_v4)
        # V4: Gaussian receptive fields on the pooled grid, sparse channel tuning.
        centers = rng.uniform(0.5, g - 0.5, size=(n_hidden, 2))
        widths = rng.uniform(0.8, 2.0, size=n_hidden)
        yy, xx = np.meshgrid(np.arange(g) + 0.5, np.arange(g) + 0.5, indexing="ij")
        rf = np.exp(-((xx[None] - centers[:, 0, None, None]) ** 2 + (yy[None] - centers[:, 1, None, None]) ** 2)
                    / (2 * widths[:, None, None] ** 2))
        self.v4_rf = rf.reshape(n_hidden, -1) / rf.reshape(n_hidden, -1).sum(1, keepdims=True)
        w = np.zeros((n_hidden, n_ch))
        for j in range(n_hidden):
            chosen = rng.choice(n_ch, size=3, replace=False)
            w[j, chosen] = rng.uniform(0.5, 1.5, size=3) * np.where(rng.random(3) < 0.8, 1.0, -0.7)
        self.v4_w = w
        self.v4_theta = rng.uniform(-0.5, 1.0, size=n_hidden)
        # Position-invariant templates (max over the grid), for the object-evidence readout.
        self.templates = torch.tensor(rng.standard_normal((self.N_TEMPLATES, n_ch, 3, 3)) / np.sqrt(9 * n_ch),
                                      dtype=torch.float32)
        # Everything above depends only on the world and the V4 pool size, so the readout trained
        # on it is shared by every population size (see _readout). Recorded populations below.
        rng = np.random.default_rng([network_seed, 4])
        self.v4_recorded = rng.choice(n_hidden, size=n_v4, replace=False)
        # IT feedforward tuning: sparse random weights over the V4 pool (pose-dependent drive).
        mask = rng.random((n_it, n_hidden)) < 0.15
        self.it_ff_w = rng.standard_normal((n_it, n_hidden)) * mask / np.sqrt(0.15 * n_hidden)
        self.it_ff_theta = rng.uniform(0.0, 1.0, size=n_it)
        # IT invariant tuning over objects: category preference plus object preference.
        cat_pref = rng.exponential(1.0, size=(n_it, self.n_cat)) ** 2
        obj_pref = rng.exponential(1.0, size=(n_it, self.n_obj)) ** 2
        pref = cat_pref[:, self.category_of] + 0.5 * obj_pref
        pref = (pref - pref.mean(1, keepdims=True)) / pref.std(1, keepdims=True)
        self.it_pref = pref
        self.v4_fb = rng.standard_normal((n_v4, self.n_obj)) / np.sqrt(self.n_obj)
        # Timing and gains per site.
        self.v4_latency = rng.uniform(55, 75, size=n_v4)
        self.it_latency = rng.uniform(85, 110, size=n_it)
        self.v4_base = rng.uniform(5, 15, size=n_v4)
        self.it_base = rng.uniform(5, 15, size=n_it)
        self.v4_gain = rng.uniform(40, 100, size=n_v4)
        self.it_gain = rng.uniform(40, 100, size=n_it)
        self.it_mix = rng.uniform(0.8, 1.2, size=n_it)
        key = (network_seed, image_size, n_hidden, tuple(o.name for o in objects))
        if key not in _READOUTS:
            _READOUTS[key] = _stored_readout(key, objects, lambda: self._train_readout(network_seed))
        self.feat_mean, self.feat_std, self.readout, self.ev_scale = _READOUTS[key]

    def _train_readout(self, network_seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Ridge readout of object identity trained on "developmental" images the recordings never use."""
        dev = make_design(self.objects, images_per_object=24, seed=[network_seed, 3])
        feats = self._features(render_images(self.objects, dev, self.image_size))
        mean, std = feats.mean(0), feats.std(0) + 1e-6
        z = (feats - mean) / std
        target = np.eye(self.n_obj)[[r["object_index"] for r in dev]]
        target = target - target.mean(0)
        readout = np.linalg.solve(z.T @ z + 50.0 * np.eye(z.shape[1]), z.T @ target)
        return mean, std, readout, float((z @ readout).std())

    # -------------------------------------------------------------- stages
    def _v1(self, images: np.ndarray) -> torch.Tensor:
        """V1-like maps pooled on the grid: (N, 16, GRID, GRID).

        8 complex-cell energy maps (4 orientations x 2 scales, divisively normalised) and 8
        hue-tuned maps (von Mises tuning to the colour-opponent angle, weighted by saturation).
        """
        x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        lum = x.mean(1, keepdim=True)
        resp = F.conv2d(lum, self.gabors, padding=self.gabors.shape[-1] // 2)
        energy = (resp[:, 0::2] ** 2 + resp[:, 1::2] ** 2).sqrt()
        energy = energy / (0.02 + F.avg_pool2d(energy.mean(1, keepdim=True), 5, 1, 2))  # divisive normalisation
        rg = x[:, 0:1] - x[:, 1:2]
        by = x[:, 2:3] - 0.5 * (x[:, 0:1] + x[:, 1:2])
        sat = torch.sqrt(rg**2 + by**2)
        angle = torch.atan2(by, rg)
        centers = torch.arange(self.N_HUES, dtype=torch.float32).view(1, -1, 1, 1) * (2 * np.pi / self.N_HUES)
        hue = sat * torch.exp(4.0 * (torch.cos(angle - centers) - 1.0))
        maps = torch.cat([energy * 0.05, hue * 3.0], 1)
        return F.adaptive_avg_pool2d(maps, self.GRID)

    def _features(self, images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            feats = []
            for lo in range(0, len(images), 256):
                v1 = self._v1(images[lo:lo + 256])
                flat = v1.flatten(2).numpy().astype(np.float64)  # (B, 12, 64)
                drive = np.einsum("bcp,jp,jc->bj", flat, self.v4_rf, self.v4_w, optimize=True)
                tmpl = F.conv2d(v1, self.templates, padding=1).clamp(min=0).amax(dim=(2, 3)).numpy()
                glob = torch.cat([v1.amax(dim=(2, 3)), v1.mean(dim=(2, 3))], 1).numpy()
                feats.append(np.concatenate([drive, tmpl, glob], 1).astype(np.float64))
        return np.concatenate(feats)

    def static_responses(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Stimulus-dependent, time-independent parts of the responses.

        Returns a dict with ``v4`` (N, n_v4), ``it_ff`` (N, n_it) and ``evidence`` (N, n_objects).
        """
        feats = self._features(images)
        z = (feats - self.feat_mean) / self.feat_std
        n_hidden = self.v4_w.shape[0]
        v4_all = _softplus(z[:, :n_hidden] - self.v4_theta, 2.0)
        it_ff = _softplus(z[:, :n_hidden] @ self.it_ff_w.T - self.it_ff_theta, 2.0)
        evidence = (z @ self.readout) / self.ev_scale
        return {"v4": v4_all[:, self.v4_recorded], "it_ff": it_ff, "evidence": evidence}

    def object_belief(self, evidence: np.ndarray, times: np.ndarray, late: np.ndarray | None = None,
                      delay: np.ndarray | None = None) -> np.ndarray:
        """State of the recurrent IT stage at ``times`` (ms): (N, n_times, n_objects).

        A leaky integrator ``tau ds/dt = -leak*s + drive(t)*evidence`` (drive on from 85 ms for
        the 100 ms of stimulus) read through divisive competition ``softmax(beta*s)``: the belief
        sharpens while evidence accumulates and persists after offset.

        World 2 adds ``late`` (N, n_objects): evidence that only recurrent processing recovers,
        integrated from ``85 + delay`` ms (per stimulus, ``delay`` (N,)) for 100 ms, so the belief
        of each image turns towards it at its own time.
        """
        tau, leak, beta, onset = 80.0, 0.05, 1.5, 85.0
        t_grid = np.arange(0.0, times.max() + _DT, _DT)
        s = np.zeros(evidence.shape)
        states = np.empty((len(t_grid),) + evidence.shape)
        for k, t in enumerate(t_grid):
            states[k] = s
            drive = 1.0 if onset <= t < onset + STIMULUS_ON_MS else 0.0
            step = drive * evidence
            if late is not None:
                on = (onset + delay <= t) & (t < onset + delay + STIMULUS_ON_MS)
                step = step + on[:, None] * late
            s = s + _DT / tau * (-leak * s + step)
        idx = np.clip(np.round(times / _DT).astype(int), 0, len(t_grid) - 1)
        sel = beta * states[idx].transpose(1, 0, 2)
        sel -= sel.max(-1, keepdims=True)
        p = np.exp(sel)
        return p / p.sum(-1, keepdims=True)

    @staticmethod
    def envelope(t: np.ndarray, latency: np.ndarray) -> np.ndarray:
        """Feedforward response time course: transient + sustained during the stimulus, decay after.

        ``t`` (n_times,), ``latency`` (n_sites,) -> (n_sites, n_times).
        """
        dt = t[None, :] - latency[:, None]
        rise = 1.0 - np.exp(-np.clip(dt, 0, None) / 6.0)
        on = rise * (0.5 + np.exp(-np.clip(dt, 0, None) / 20.0))
        off = np.exp(-np.clip(dt - STIMULUS_ON_MS, 0, None) / 25.0)
        return np.where(dt < 0, 0.0, on * off)

    def late_evidence(self, design: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """World 2's recurrent-only evidence and its delay per image: the image's true object
        (one-hot, centred, gain ``LATE_GAIN``) -- what a feedforward pass of this network recovers
        only in part, least for high-variation images -- from ``20 + 10 * variation`` ms after the
        recurrent stage starts (hard images resolve later; Kar et al. 2019's challenge images)."""
        idx = np.array([row["object_index"] for row in design])
        late = self.LATE_GAIN * (np.eye(self.n_obj)[idx] - 1.0 / self.n_obj)
        delay = 20.0 + 10.0 * np.array([row["variation"] for row in design], dtype=float)
        return late, delay

    #: World 2: strength of the recurrent-only evidence (relative to the feedforward evidence's scale 1).
    LATE_GAIN = 1.5

    def rates(self, images: np.ndarray, starts: np.ndarray, ends: np.ndarray, *,
              recurrent: bool = True, design: list[dict] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean firing rates (Hz) per time bin: V4 (N, n_v4, n_bins) and IT (N, n_it, n_bins).

        ``recurrent=False`` is the feedforward-only variant: the slow recurrent stage (the
        object-belief integrator, its invariant IT drive and the V4 feedback) is removed, the
        fast feedforward drives are unchanged. ``design`` (the images' rows of
        :func:`make_design`) selects world 2: the recurrent stage also integrates each image's
        recurrent-only evidence (:meth:`late_evidence`); world 1 without it.
        """
        st = self.static_responses(images)
        n_bins = len(starts)
        v4 = np.empty((len(images), len(self.v4_latency), n_bins))
        it = np.empty((len(images), len(self.it_latency), n_bins))
        samples = [np.arange(starts[b] + _DT / 2, ends[b], _DT) for b in range(n_bins)]
        t_all = np.concatenate(samples)
        late, delay = self.late_evidence(design) if design is not None else (None, None)
        # Belief of the recurrent stage, centred: invariant IT drive and V4 feedback (30 ms later).
        belief = self.object_belief(st["evidence"], np.concatenate([t_all, np.clip(t_all - 30.0, 0, None)]),
                                    late, delay)
        belief -= 1.0 / self.n_obj
        if not recurrent:
            belief[:] = 0.0
        inv_all = np.einsum("ntk,ik->nit", belief[:, :len(t_all)], self.it_pref, optimize=True) * 3.0
        fb_all = np.einsum("ntk,jk->njt", belief[:, len(t_all):], self.v4_fb, optimize=True) * (t_all > 120.0)
        lo = 0
        for b, t in enumerate(samples):
            sl = slice(lo, lo + len(t))
            lo += len(t)
            # IT: fast pose-dependent drive + slower invariant readout of the belief state.
            env_it = self.envelope(t, self.it_latency)  # (n_it, nt)
            ramp = np.clip((t[None, :] - self.it_latency[:, None]) / 60.0, 0, 1)
            drive_it = env_it[None] * st["it_ff"][:, :, None] + self.it_mix[None, :, None] * ramp[None] * inv_all[:, :, sl]
            it[:, :, b] = (self.it_base[None, :, None] + self.it_gain[None, :, None] * _softplus(drive_it - 0.3, 4.0)).mean(2)
            # V4: feedforward drive + weak late feedback from the IT circuit.
            env_v4 = self.envelope(t, self.v4_latency)
            drive_v4 = env_v4[None] * st["v4"][:, :, None] + 0.6 * fb_all[:, :, sl]
            v4[:, :, b] = (self.v4_base[None, :, None] + self.v4_gain[None, :, None] * _softplus(drive_v4 - 0.3, 4.0)).mean(2)
        return v4, it


#: Bumped whenever the readout's training changes, so stored readouts of older code are not read.
_READOUT_VERSION = 1


def _stored_readout(key: tuple, objects: list, train: Any) -> tuple:
    """The readout for ``key`` from the cache folder (``BRAINFIT_CACHE``/synthetic), else trained
    and stored there (atomically). Training renders ~2300 "developmental" images and takes ~12 s;
    the stored arrays are exactly what training returns, so results do not depend on the cache."""
    from brainfit import __version__
    from brainfit._io import atomic_path, stable_hash
    from brainfit.paths import cache_dir

    import dataclasses

    name = stable_hash({"key": list(key), "objects": [dataclasses.asdict(o) for o in objects],
                        "version": _READOUT_VERSION, "brainfit": __version__}, length=24)
    path = cache_dir() / "synthetic" / f"readout_{name}.npz"
    n_obj = len(objects)
    try:
        with np.load(path) as z:
            out = z["mean"], z["std"], z["readout"], float(z["ev_scale"])
        if out[2].shape != (len(out[0]), n_obj) or out[1].shape != out[0].shape:
            raise ValueError(f"arrays of shapes {out[0].shape}, {out[1].shape}, {out[2].shape}")
        return out
    except Exception as err:  # noqa: BLE001 -- absent, or damaged in any way (zip, npy, shapes): train again
        if path.exists():
            log.warning("ignoring an unreadable stored synthetic readout %s (%s: %s)", path, type(err).__name__, err)
    out = train()
    try:
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, mean=out[0], std=out[1], readout=out[2], ev_scale=np.float64(out[3]))
    except OSError as err:  # a read-only cache folder only costs the training next time
        log.info("could not store the synthetic readout in %s: %s", path.parent, err)
    return out


def _softplus(x: np.ndarray, sharpness: float = 1.0) -> np.ndarray:
    """``log(1 + exp(k x)) / k``: a smooth rectifier, sharper for larger ``k``."""
    return np.logaddexp(0.0, sharpness * x) / sharpness
