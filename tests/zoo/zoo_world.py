"""The small zoo the zoo tests run: 3 models (trained ConvRNN, its wider control, an untrained GRU
ConvRNN) on a small synthetic set, 2 regions: 6 fits."""

from __future__ import annotations

from brainfit.zoo import ZooConfig


def zoo(out, **over) -> ZooConfig:
    d = {
        "name": "tiny", "out": str(out),
        "datasets": [{"name": "synthetic", "kwargs": {"images_per_object": 2, "n_v4": 12, "n_it": 12}}],
        "models": ["convrnn_small_rgc", "ff_small_wider_rgc",
                   {"model": "convrnn_small_custom", "id": "gru", "weights": "random", "kwargs": {"cell": "gru"}}],
        "layers": ["conv4", "conv5"],
        "mapping": {"projection_width": 48, "n_bootstrap": 10, "ridge_log10_alphas": [-2, 6]},
        "splits": {"n_folds": 3},
        "compare": {"contrasts": [["convrnn_small_rgc", "ff_small_wider_rgc"]], "n_permutations": 50,
                    "n_bootstrap": 20, "heatmaps": False},  # (figures cost time; one test asks for them)
    }
    d.update(over)
    return ZooConfig.from_dict(d)


