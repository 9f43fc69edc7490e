"""The two readouts: one ridge map per time bin, and one map shared by every bin (Brain-Score's
temporal benchmarks), each scored per bin. Known answers: a static model whose features are
re-weighted bin by bin fits a time course it does not carry under the per-bin readout, and not
under the shared one; a model whose features carry the time course fits it under both."""

from __future__ import annotations

import numpy as np
import pytest

from brainfit.assembly import activation_assembly, neural_assembly
from brainfit.mapping import make_splits
from brainfit.scoring import score_by_region
from brainfit.temporal import constant, one_to_one

STARTS = np.arange(70.0, 130.0, 10.0)


def world(n=150, n_feat=8, n_neur=6, reps=4, seed=0):
    """Responses of bin b = static features read out by weights that rotate over bins (the time
    course is in the readout, not in the features); ``dynamic`` activations carry exactly the
    per-bin drive, ``static`` the features alone."""
    rng = np.random.default_rng(seed)
    T = len(STARTS)
    feats = rng.standard_normal((n, n_feat))
    W = rng.standard_normal((n_feat, n_neur, T)) / np.sqrt(n_feat)  # a new readout every bin
    signal = np.einsum("sf,fnb->snb", feats, W)
    ids = np.array([f"s{i:03d}" for i in range(n)])
    values = np.repeat(signal, reps, axis=0) + 0.3 * rng.standard_normal((n * reps, n_neur, T))
    neural = neural_assembly(values, stimulus_id=np.repeat(ids, reps), repetition=np.tile(np.arange(reps), n),
                             neuroid_id=[f"n{j}" for j in range(n_neur)], time_bin_start=STARTS,
                             time_bin_end=STARTS + 10, region=["IT"] * n_neur)
    static = activation_assembly(feats, stimulus_id=ids, layer="f")
    # per step, the drive of every neuroid (the dynamics are in the features): steps = bins at latency 70
    dynamic = activation_assembly(signal, stimulus_id=ids, layer="drive")
    return neural, static, dynamic


def scored(acts, neural, tmap, readout):
    splits = make_splits(neural, n_folds=5, seed=0)
    _, by_region = score_by_region(acts, neural, tmap, regions=["IT"], splits=splits, n_bootstrap=0,
                                   readout=readout)
    ds = by_region["IT"]
    assert ds.attrs["readout"] == readout
    return float(ds["median_ceiled"].mean())


def test_per_bin_readout_credits_a_static_model_with_a_time_course_it_does_not_carry():
    neural, static, dynamic = world()
    per_bin, shared = scored(static, neural, constant(), "per_bin"), scored(static, neural, constant(), "shared")
    assert per_bin > 0.8  # re-weighting static features bin by bin makes the whole time course
    assert shared < per_bin - 0.4  # one map: the static prediction cannot follow the rotation
    dyn_shared = scored(dynamic, neural, one_to_one(latency_ms=70.0), "shared")
    assert dyn_shared > 0.8 and dyn_shared > shared + 0.4  # the features carry it: one map suffices


def test_a_bad_readout_is_refused():
    neural, static, _ = world(n=30)
    with pytest.raises(ValueError, match="readout must be 'per_bin' or 'shared'"):
        score_by_region(static, neural, constant(), regions=["IT"], splits=make_splits(neural, n_folds=3),
                        readout="both")
