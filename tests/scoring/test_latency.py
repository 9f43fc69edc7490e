"""Latency chosen on training folds: a latency put into the data on purpose is recovered per region,
test folds never influence the choice, and the grid's maps behave (blank bins, no silent use)."""

from __future__ import annotations

import numpy as np
import pytest

from brainfit.assembly import activation_assembly, neural_assembly
from brainfit.mapping import make_splits
from brainfit.scoring import fit_and_score
from brainfit.temporal import TemporalMap, latency_grid, one_to_one

STARTS = np.arange(70.0, 160.0, 10.0)
GRID = np.arange(0.0, 101.0, 10.0)
PLANTED = {"V4": 30.0, "IT": 60.0}


def world(n=120, n_feat=10, n_steps=24, n_neur=8, reps=4, noise=0.5, seed=0, planted=PLANTED):
    """Responses of bin [s, s+10) ms = the features of model step (s - latency) / 10 of the region, read
    out linearly; every step has its own random features, so only the planted latency lines them up."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n, n_feat, n_steps))
    region = np.array(["V4"] * (n_neur // 2) + ["IT"] * (n_neur - n_neur // 2))
    W = rng.standard_normal((n_feat, n_neur)) / np.sqrt(n_feat)
    signal = np.empty((n, n_neur, len(STARTS)))
    for j in range(n_neur):
        for b, s0 in enumerate(STARTS):
            signal[:, j, b] = feats[:, :, int((s0 - planted[region[j]]) // 10)] @ W[:, j]
    ids = np.array([f"s{i:03d}" for i in range(n)])
    acts = activation_assembly(np.concatenate([feats, rng.standard_normal(feats.shape)], axis=1), stimulus_id=ids,
                               layer=["real"] * n_feat + ["noise"] * n_feat)
    return ids, signal, region, acts, rng


def trials(ids, signal, region, rng, reps=4, noise=0.5):
    n, N, T = signal.shape
    values = np.repeat(signal, reps, axis=0) + noise * rng.standard_normal((n * reps, N, T))
    return neural_assembly(values, stimulus_id=np.repeat(ids, reps), repetition=np.tile(np.arange(reps), n),
                           neuroid_id=[f"n{j}" for j in range(N)], time_bin_start=STARTS, time_bin_end=STARTS + 10,
                           region=region)


def test_planted_latency_is_recovered_per_region_on_training_folds():
    ids, signal, region, acts, rng = world()
    neural = trials(ids, signal, region, rng)
    ds = fit_and_score(acts, neural, latency_grid(GRID), progress=False, n_bootstrap=0)
    assert (ds["selected_layer"].values == "real").all()
    chosen = ds["selected_latency_ms"]
    for r, ms in PLANTED.items():
        assert (chosen.sel(selection_region=r).values == ms).all(), chosen.values
    assert ds["chosen_latency_ms"].attrs["grid"] == GRID.tolist()
    assert "training set" in ds.attrs["latency_selection"]
    # the recovered timing predicts: a wrong fixed latency does much worse on the same folds
    wrong = fit_and_score(acts, neural, one_to_one(latency_ms=0.0), layers=["real"], progress=False, n_bootstrap=0,
                          splits=make_splits(neural, n_folds=10, seed=0))
    assert float(ds["median_r_selected"].mean()) > 0.9 > float(wrong["median_r"].mean()) + 0.5


def test_test_folds_never_influence_the_latency():
    ids, signal, region, acts, _ = world(seed=1)
    neural = trials(ids, signal, region, np.random.default_rng(5))
    splits = make_splits(neural, n_folds=5, seed=0)
    a = fit_and_score(acts, neural, latency_grid(GRID), splits=splits, progress=False, n_bootstrap=0)
    # fold 0's test stimuli now respond at another latency (strongly; the same trial noise everywhere): a
    # choice that looked at them would move
    _, other, _, _, _ = world(seed=1, planted={"V4": 90.0, "IT": 90.0})
    test0 = np.isin(ids, splits.stimulus_ids[splits.indices(splits.stimulus_ids)[0][1]])
    changed = signal.copy()
    changed[test0] = 3.0 * other[test0]
    b = fit_and_score(acts, trials(ids, changed, region, np.random.default_rng(5)), latency_grid(GRID), splits=splits,
                      progress=False, n_bootstrap=0)
    np.testing.assert_array_equal(a["chosen_latency_ms"].isel(fold=0).values, b["chosen_latency_ms"].isel(fold=0).values)
    assert (b["selected_latency_ms"].isel(fold=0).values == [PLANTED["V4"], PLANTED["IT"]]).all()
    # ... while the folds that train on those stimuli do see them (the perturbation is not a no-op)
    assert not np.array_equal(a["selection_score"].isel(fold=1).values, b["selection_score"].isel(fold=1).values)


def test_a_grid_map_is_never_applied_by_itself_and_its_candidates_blank_uncovered_bins():
    ids, signal, region, acts, rng = world(n=20)
    neural = trials(ids, signal, region, rng)
    grid = TemporalMap.from_dict({"kind": "one_to_one", "latency_ms": [0, 10, 100]})
    assert grid.choice == "latency_ms" and grid.latencies_ms == (0.0, 10.0, 100.0)
    assert TemporalMap.from_dict(grid.to_dict()) == grid
    with pytest.raises(ValueError, match="chosen on training folds"):
        grid(acts, neural)
    mapped = grid.at_latency(100.0)(acts, neural)  # bins 70..100 ms precede step 0
    before = mapped.values[:, :, STARTS < 100]
    assert before.size and (before == 0).all()
    np.testing.assert_array_equal(mapped.values[:, :, STARTS == 100][:, :, 0], acts.values[:, :, 0])
    with pytest.raises(ValueError, match="has no model time step"):  # a plain map still refuses
        one_to_one(latency_ms=100.0)(acts, neural)
    for bad, match in (({"kind": "constant", "latency_ms": [0, 10]}, "one_to_one maps only"),
                       ({"kind": "one_to_one", "latency_ms": [0, 0]}, "distinct"),
                       ({"kind": "one_to_one", "latency_ms": ["a"]}, "list of numbers")):
        with pytest.raises(ValueError, match=match):
            TemporalMap.from_dict(bad)
    # maps without the new settings keep their dict (and so every key made from it)
    assert one_to_one(20.0).to_dict() == {"kind": "one_to_one", "latency_ms": 20.0, "step_ms": 10.0, "step": -1,
                                          "layers": None}
