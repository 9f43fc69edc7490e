"""Known answers about dynamics on the second synthetic world, through the public scoring and
comparison functions: where recurrence adds stimulus information (world 2) the generator's own
temporal responses beat its static oracle (its feedforward features and the belief its recurrent
stage settles to from them) in late IT under both readouts, with a significant cluster under the
significance rule (sites and stimuli)."""

from __future__ import annotations

import numpy as np
import pytest

from brainfit.assembly import average_repetitions
from brainfit.compare import compare_models
from brainfit.data.synthetic import simulate
from brainfit.mapping import make_splits
from brainfit.scoring import score_by_region
from brainfit.temporal import constant

SMALL = {"images_per_object": 4, "n_v4": 32, "n_it": 64}
LATE_MS = 150.0  # the image is on until 100 ms after onset + IT latency 85-110 ms: late bins start here


def scored(run, splits, variant, readout):
    tmap = constant() if variant == "static" else None
    _, by_region = score_by_region(run.latent[variant], run.neural, tmap, regions=["IT"], splits=splits,
                                   n_bootstrap=0, readout=readout)
    return by_region["IT"]


@pytest.fixture(scope="module")
def world2():
    run = simulate(world=2, latents=("full", "static"), **SMALL)
    return run, make_splits(average_repetitions(run.neural), n_folds=5, seed=0)


@pytest.mark.parametrize("readout", ["per_bin", "shared"])
def test_world2_temporal_oracle_beats_the_static_oracle_in_late_it(world2, readout):
    run, splits = world2
    c = compare_models(scored(run, splits, "full", readout), scored(run, splits, "static", readout),
                       n_permutations=1000, n_bootstrap=200)
    assert "stimulus-bootstrap CI" in c.settings["significance_rule"]
    sig = c.clusters[c.clusters["significant"] & (c.clusters["sign"] > 0)]
    assert len(sig) and (sig["end_ms"] > LATE_MS).any(), c.clusters
    late = c.per_bin["time_bin_start"].to_numpy() >= LATE_MS
    won = c.per_bin["significant_cluster"].to_numpy() & (c.per_bin["t"].to_numpy() > 0)
    assert won[late].mean() >= 0.5, c.per_bin[["time_bin_start", "diff", "ci_low", "p_cluster"]]
    # never the other way round
    assert not (c.clusters["significant"] & (c.clusters["sign"] < 0)).any()
