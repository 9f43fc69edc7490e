"""Shared synthetic world for the scoring tests: linear ground truth with trial noise."""

from __future__ import annotations

import numpy as np

from brainfit.assembly import activation_assembly, neural_assembly

BINS = (np.array([70.0, 80.0, 90.0]), np.array([80.0, 90.0, 100.0]))


def make_world(n_stim=60, n_feat=12, n_neur=6, n_reps=4, noise=1.0, seed=0, reps=None, n_cat=3):
    """Linear ground truth: responses = features @ W per bin, plus trial noise.

    Returns features (n_stim, n_feat), signal (n_stim, n_neur, n_bins), trials assembly.
    """
    rng = np.random.default_rng(seed)
    n_bins = len(BINS[0])
    feats = rng.standard_normal((n_stim, n_feat))
    W = rng.standard_normal((n_feat, n_neur, n_bins)) / np.sqrt(n_feat)
    signal = np.einsum("sf,fnb->snb", feats, W) + 5.0
    counts = np.full(n_stim, n_reps) if reps is None else np.asarray(reps)
    stim = np.repeat(np.arange(n_stim), counts)
    rep = np.concatenate([np.arange(c) for c in counts])
    values = signal[stim] + noise * rng.standard_normal((len(stim), n_neur, n_bins))
    ids = np.array([f"img{i:03d}" for i in range(n_stim)])
    neural = neural_assembly(
        values, stimulus_id=ids[stim], repetition=rep, neuroid_id=[f"n{i}" for i in range(n_neur)],
        time_bin_start=BINS[0], time_bin_end=BINS[1], region=["V4"] * (n_neur // 2) + ["IT"] * (n_neur - n_neur // 2),
        presentation_coords={"category": np.array([f"c{i % n_cat}" for i in range(n_stim)])[stim]},
    )
    return ids, feats, signal, neural


def acts(ids, feats, layer="L1"):
    return activation_assembly(feats, stimulus_id=ids, layer=layer)
