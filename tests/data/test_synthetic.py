"""The synthetic ventral stream keeps the promises of its dataset card."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from brainfit.assembly import NEURAL_DIMS, average_repetitions, select_region, validate_neural
from brainfit.data import list_datasets, load_dataset
from brainfit.data.synthetic import SyntheticConfig, response_window


def _trials(neural, stimulus_ids):
    """(n_stim, n_rep, neuroid, bin) array indexed by stimulus order and repetition."""
    idx = {s: i for i, s in enumerate(stimulus_ids)}
    rep = neural.repetition.values
    out = np.full((len(stimulus_ids), rep.max() + 1) + neural.shape[1:], np.nan)
    out[[idx[s] for s in neural.stimulus_id.values], rep] = neural.values
    return out


def _split_half(trials):
    h1, h2 = trials[:, 0::2].mean(1), trials[:, 1::2].mean(1)
    h1, h2 = h1 - h1.mean(0), h2 - h2.mean(0)
    r = (h1 * h2).sum(0) / np.sqrt((h1**2).sum(0) * (h2**2).sum(0))
    return 2 * r / (1 + r)


def test_registered():
    assert "synthetic" in list_datasets()
    with pytest.raises(KeyError, match="did you mean \\['synthetic'\\]"):
        load_dataset("synthetc")


def test_shapes_and_metadata(synthetic_default):
    stimuli, neural = synthetic_default
    cfg = SyntheticConfig()
    n_images = cfg.n_categories * cfg.objects_per_category * cfg.images_per_object * 3
    assert len(stimuli) == n_images
    assert stimuli.load_image(0).shape == (64, 64, 3)
    assert neural.dims == NEURAL_DIMS
    assert neural.sizes["presentation"] == n_images * cfg.n_repetitions
    assert neural.sizes["neuroid"] == cfg.n_v4 + cfg.n_it and neural.sizes["time_bin"] == 19
    assert set(stimuli.metadata.category) == {"blob", "star", "cross", "ring", "polygon", "crescent", "dumbbell", "chevron"}
    assert stimuli.metadata.object_name.nunique() == 32
    assert sorted(set(stimuli.metadata.variation)) == [0, 3, 6]
    assert np.all(neural.values >= 0) and np.all(neural.values == np.round(neural.values))  # spike counts
    validate_neural(neural, require_repetitions=True)
    # every trial's metadata agrees with its stimulus
    meta = stimuli.metadata.set_index("stimulus_id")
    np.testing.assert_array_equal(meta.loc[neural.stimulus_id.values, "category"].values, neural.category.values)


def test_deterministic_and_seeded():
    a_stim, a = load_dataset("synthetic", images_per_object=1, n_v4=8, n_it=8)
    b_stim, b = load_dataset("synthetic", images_per_object=1, n_v4=8, n_it=8)
    np.testing.assert_array_equal(a_stim.images(), b_stim.images())
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.stimulus_id.values, b.stimulus_id.values)
    c_stim, c = load_dataset("synthetic", images_per_object=1, n_v4=8, n_it=8, seed=1)
    assert not np.array_equal(a_stim.images(), c_stim.images())
    assert not np.array_equal(a.values, c.values)


def test_median_reliability_matches_request(synthetic_default):
    stimuli, neural = synthetic_default
    sb = _split_half(_trials(neural, stimuli.stimulus_ids))
    window = response_window(neural.latency_ms.values, neural.time_bin_start.values, neural.time_bin_end.values)
    for region in ("V4", "IT"):
        mask = (neural.region.values == region)[:, None] & window
        assert abs(np.median(sb[mask]) - SyntheticConfig().reliability) < 0.08, region


def test_reliability_parameter_controls_reliability():
    stimuli, neural = load_dataset("synthetic", images_per_object=3, reliability=0.85, n_v4=16, n_it=24)
    sb = _split_half(_trials(neural, stimuli.stimulus_ids))
    window = response_window(neural.latency_ms.values, neural.time_bin_start.values, neural.time_bin_end.values)
    assert abs(np.median(sb[window]) - 0.85) < 0.08


def _latency_ms(avg, region):
    """First bin at which the population's stimulus-driven variance reaches 20% of its peak."""
    a = select_region(avg, region)
    var = a.values.var(axis=0).mean(axis=0)
    return float(a.time_bin_start.values[np.argmax(var >= 0.2 * var.max())])


def test_v4_leads_it(synthetic_default):
    _, neural = synthetic_default
    avg = average_repetitions(neural)
    v4, it = _latency_ms(avg, "V4"), _latency_ms(avg, "IT")
    assert v4 < it, (v4, it)
    assert it - v4 >= 20


def _decode(avg, region, variation, t0, t1):
    a = select_region(avg, region)
    keep = a.variation.values == variation
    bins = (a.time_bin_start.values >= t0) & (a.time_bin_end.values <= t1)
    x = a.values[keep][:, :, bins].mean(axis=2)
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    y = a.category.values[keep]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(LogisticRegression(C=0.1, max_iter=3000), x, y, cv=cv).mean()


def test_it_category_information_keeps_rising_for_high_variation(synthetic_default):
    _, neural = synthetic_default
    avg = average_repetitions(neural)
    early_hi, late_hi = _decode(avg, "IT", 6, 100, 140), _decode(avg, "IT", 6, 190, 260)
    early_lo, late_lo = _decode(avg, "IT", 0, 100, 140), _decode(avg, "IT", 0, 190, 260)
    chance = 1 / 8
    assert late_hi > chance + 0.2  # high-variation categories are decodable late
    assert late_hi - early_hi > 0.1, (early_hi, late_hi)  # and that information arrives after the sweep
    assert early_lo > 0.7 and late_lo - early_lo < late_hi - early_hi  # low variation is solved early


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="reliability must lie in"):
        load_dataset("synthetic", reliability=1.2)
    with pytest.raises(ValueError, match="n_repetitions must be >= 2"):
        load_dataset("synthetic", n_repetitions=1)
    with pytest.raises(ValueError, match=r"the synthetic dataset takes no argument\(s\) 'bogus'"):
        load_dataset("synthetic", bogus=3)


def test_latent_responses_are_the_noise_free_expected_counts(tmp_path, monkeypatch):
    from brainfit.data import synthetic
    from brainfit.data.synthetic import LATENT_VARIANTS, simulate

    small = {"n_categories": 2, "objects_per_category": 2, "images_per_object": 2, "n_v4": 4, "n_it": 6,
             "image_size": 32}
    run = simulate(**small)
    assert set(run.latent) == set(LATENT_VARIANTS)
    full, ff = run.latent["full"], run.latent["feedforward"]
    avg = average_repetitions(run.neural)
    assert full.dims == NEURAL_DIMS and full.sizes["presentation"] == avg.sizes["presentation"]
    assert set(full.stimulus_id.values) == set(avg.stimulus_id.values)
    assert list(full.region.values) == list(run.neural.region.values) and set(full.layer.values) == {"latent"}
    # the trial average converges to the latent rates: their correlation over stimuli and bins is high
    a = avg.sel(presentation=[list(avg.stimulus_id.values).index(s) for s in full.stimulus_id.values])
    assert np.corrcoef(a.values.ravel(), full.values.ravel())[0, 1] > 0.8
    # the feedforward-only variant keeps the fast drive and loses the late invariant IT drive
    it = full.region.values == "IT"
    late = full.time_bin_start.values >= 180
    assert np.allclose(full.values[:, ~it, :3], ff.values[:, ~it, :3], rtol=0.05)
    assert not np.allclose(full.values[:, it][:, :, late], ff.values[:, it][:, :, late], rtol=0.05)
    # the spike counts are the same whether or not latents are asked for
    _stim, neural = synthetic.generate(**small)
    np.testing.assert_array_equal(neural.values, run.neural.values)
    with pytest.raises(ValueError, match=r"unknown latent variant\(s\) \['slow'\]"):
        simulate(latents=("slow",), **small)


def test_stored_readout_gives_the_trained_one(tmp_path, monkeypatch):
    from brainfit.data import _ground_truth
    from brainfit.data.synthetic import generate

    monkeypatch.setenv("BRAINFIT_CACHE", str(tmp_path))
    small = {"n_categories": 2, "objects_per_category": 2, "images_per_object": 1, "n_v4": 4, "n_it": 4,
             "image_size": 32, "network_seed": 77}
    _ground_truth._READOUTS.clear()
    synthetic_ground_truth_cache_clear()
    _s, trained = generate(**small)
    stored = list((tmp_path / "synthetic").glob("readout_*.npz"))
    assert len(stored) == 1
    _ground_truth._READOUTS.clear()
    synthetic_ground_truth_cache_clear()
    _s, read = generate(**small)  # now from the file
    np.testing.assert_array_equal(trained.values, read.values)
    good = stored[0].read_bytes()
    for damage in (b"damaged", good[:200], b""):  # foreign bytes, a truncated zip, an empty file: trained again
        stored[0].write_bytes(damage)
        _ground_truth._READOUTS.clear()
        synthetic_ground_truth_cache_clear()
        _s, again = generate(**small)
        np.testing.assert_array_equal(trained.values, again.values)


def synthetic_ground_truth_cache_clear():
    from brainfit.data import synthetic

    synthetic._ground_truth.cache_clear()
