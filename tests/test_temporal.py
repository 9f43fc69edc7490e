import numpy as np
import pytest

from brainfit import assembly as A
from brainfit import temporal as T


def _neural(starts, ends, ids=("a", "b", "c")):
    return A.neural_assembly(np.ones((len(ids), 2, len(starts))), stimulus_id=list(ids), neuroid_id=["n0", "n1"],
                             time_bin_start=starts, time_bin_end=ends)


def _acts(n_steps=26, ids=("a", "b", "c")):
    rng = np.random.default_rng(0)
    return A.activation_assembly(rng.normal(size=(len(ids), 3, n_steps)), stimulus_id=list(ids),
                                 layer=["low", "high", "high"])


def test_one_to_one_lands_on_right_bins():
    neural = _neural(*A.make_time_bins())
    act = _acts()
    mapped = T.one_to_one()(act, neural)
    assert mapped.dims == A.NEURAL_DIMS
    np.testing.assert_array_equal(mapped.time_bin_start.values, neural.time_bin_start.values)
    # bin [70, 80) <- step 7, bin [250, 260) <- step 25
    np.testing.assert_array_equal(mapped.values[:, :, 0], act.values[:, :, 7])
    np.testing.assert_array_equal(mapped.values[:, :, -1], act.values[:, :, 25])
    shifted = T.one_to_one(latency_ms=30)(act, neural)
    np.testing.assert_array_equal(shifted.values[:, :, 0], act.values[:, :, 4])  # (70 - 30) / 10


def test_one_to_one_averages_steps_inside_wide_bins():
    neural = _neural([70.0, 170.0], [170.0, 270.0])
    act = _acts(30)
    mapped = T.one_to_one()(act, neural)
    np.testing.assert_allclose(mapped.values[:, :, 0], act.values[:, :, 7:17].mean(2))
    np.testing.assert_allclose(mapped.values[:, :, 1], act.values[:, :, 17:27].mean(2))


def test_bin_without_model_step_is_an_error():
    neural = _neural(*A.make_time_bins())
    with pytest.raises(ValueError, match=r"time bin \[200, 210\) ms has no model time step: steps 0..19 cover 0..200 ms"):
        T.one_to_one()(_acts(20), neural)


def test_constant_copies_one_step_everywhere():
    neural = _neural(*A.make_time_bins())
    act = _acts(1)
    mapped = T.constant()(act, neural)
    assert T.constant().shared_features and not T.one_to_one().shared_features
    for b in range(mapped.sizes["time_bin"]):
        np.testing.assert_array_equal(mapped.values[:, :, b], act.values[:, :, 0])
    with pytest.raises(ValueError, match="step index 3 but activations have 1 time step"):
        T.constant(step=3)(act, neural)


def test_graded_spreads_layers_low_to_high():
    neural = _neural(*A.make_time_bins(70, 110, 10))  # 4 bins
    act = _acts(1)
    mapped = T.graded()(act, neural).values
    low, high = [0], [1, 2]
    assert np.all(mapped[:, high, :2] == 0) and np.all(mapped[:, low, 2:] == 0)
    np.testing.assert_array_equal(mapped[:, low, 0], act.values[:, low, 0])
    np.testing.assert_array_equal(mapped[:, high, 3], act.values[:, high, 0])
    with pytest.raises(ValueError, match=r"names layer\(s\) \['IT'\] not in activations"):
        T.graded(layers=["low", "IT"])(act, neural)


def test_layer_not_yet_reached_is_reported():
    neural = _neural(*A.make_time_bins())
    act = _acts()
    act.values[:, 1:, :10] = 0.0  # "high" has not received the feedforward signal before step 10
    with pytest.warns(RuntimeWarning, match=r"layer 'high' is constant over stimuli in 3 time bin\(s\) \(up to model step 9\)"):
        mapped = T.one_to_one()(act, neural)
    assert np.all(mapped.values[:, 1:, :3] == 0)


def test_temporal_map_from_dict_round_trips_and_names_bad_settings():
    from brainfit.temporal import TemporalMap, constant, graded, one_to_one

    for tmap in (one_to_one(latency_ms=30, step_ms=5), constant(step=2), graded(["a", "b"])):
        assert TemporalMap.from_dict(tmap.to_dict()) == tmap
    assert TemporalMap.from_dict({"kind": "one_to_one"}) == one_to_one()
    with pytest.raises(ValueError, match=r"unknown temporal map setting\(s\) \['latency'\]"):
        TemporalMap.from_dict({"kind": "one_to_one", "latency": 30})
    with pytest.raises(ValueError, match="with a 'kind'"):
        TemporalMap.from_dict({"latency_ms": 30})
