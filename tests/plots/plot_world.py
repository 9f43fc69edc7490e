"""Tiny inputs of the figure tests: a linear synthetic world with trial noise, a real fit_and_score
output on it (two layers, so the nested selection runs), and hand-built score Datasets."""

from __future__ import annotations

import numpy as np
import xarray as xr

from brainfit.assembly import activation_assembly, neural_assembly

STARTS = np.array([70.0, 80.0, 90.0, 100.0])
ENDS = STARTS + 10.0
CENTRES = (STARTS + ENDS) / 2


def make_neural(n_stim=40, n_neur=6, n_reps=4, noise=1.0, seed=0):
    """Linear ground truth plus trial noise: (features (n_stim, 8), ids, single-trial assembly)."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n_stim, 8))
    w = rng.standard_normal((8, n_neur, len(STARTS))) / np.sqrt(8)
    signal = np.einsum("sf,fnb->snb", feats, w) + 5.0
    stim = np.repeat(np.arange(n_stim), n_reps)
    values = signal[stim] + noise * rng.standard_normal((len(stim), n_neur, len(STARTS)))
    ids = np.array([f"img{i:03d}" for i in range(n_stim)])
    neural = neural_assembly(
        values, stimulus_id=ids[stim], repetition=np.tile(np.arange(n_reps), n_stim),
        neuroid_id=[f"n{i}" for i in range(n_neur)], time_bin_start=STARTS, time_bin_end=ENDS,
        region=["V4"] * (n_neur // 2) + ["IT"] * (n_neur - n_neur // 2),
        presentation_coords={"category": np.array([f"c{i % 3}" for i in range(n_stim)])[stim]})
    return feats, ids, neural


def real_fit():
    """fit_and_score on two layers ("noise", "good") of the tiny world (5 folds, 20 bootstraps)."""
    from brainfit.mapping import make_splits
    from brainfit.scoring import fit_and_score

    feats, ids, neural = make_neural(n_stim=50, noise=0.7, seed=3)
    noise = np.random.default_rng(1).standard_normal(feats.shape)
    acts = activation_assembly(np.concatenate([noise, feats], axis=1), stimulus_id=ids,
                               layer=["noise"] * feats.shape[1] + ["good"] * feats.shape[1])
    return fit_and_score(acts, neural, splits=make_splits(neural, n_folds=5), n_bootstrap=20, progress=False,
                         reliability_threshold=0.1)


def score_dataset(values, reliable, layers, regions, selected=None):
    """A hand-built score Dataset: ``values`` (neuroid x time_bin x layer) as both ``ceiled`` and
    ``r``; ``selected``: {region: [layer per fold]} -> ``selected_layer`` (fold x selection_region)."""
    values = np.asarray(values, float)
    ds = xr.Dataset(
        {"ceiled": (("neuroid", "time_bin", "layer"), values), "r": (("neuroid", "time_bin", "layer"), values / 2),
         "reliable": (("neuroid", "time_bin"), np.asarray(reliable, bool))},
        coords={"layer": list(layers), "region": ("neuroid", list(regions)),
                "time_bin_start": ("time_bin", STARTS[:values.shape[1]]),
                "time_bin_end": ("time_bin", ENDS[:values.shape[1]])})
    if selected:
        names = list(selected)
        ds["selected_layer"] = xr.DataArray(np.array([selected[r] for r in names]).T, dims=("fold", "selection_region"),
                                            coords={"selection_region": names})
    return ds
