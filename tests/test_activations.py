import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from brainfit.activations import PCAProjection, RandomProjection, extract, weights_hash
from brainfit.assembly import ACTIVATION_DIMS, validate_activations
from brainfit.stimuli import StimulusSet
from tiny_models import Interrupted, Tiny


@pytest.fixture
def stimuli():
    rng = np.random.default_rng(0)
    return StimulusSet.from_array(rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8),
                                  metadata={"category": list("ababababab")})


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return Tiny()


def test_hooks_equal_direct_forward(tiny, stimuli, tmp_path):
    act = extract(tiny, stimuli, cache=tmp_path, batch_size=4, progress=False)
    assert act.dims == ACTIVATION_DIMS
    validate_activations(act.load())
    x = torch.cat([b for _, b in stimuli.batches(10)])
    with torch.no_grad():
        _, layers = tiny(x, return_layers=True)
    for name in ("b1", "b2"):
        got = act.values[:, act.layer.values == name, :]
        want = layers[name].flatten(2).permute(0, 2, 1).numpy()  # (B, C*H*W, T)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert list(act.arrival_step.values[act.layer.values == "b2"][:1]) == [1]
    assert set(act.region.values) == {"V4", "IT"}
    assert list(act.category.values) == list("ababababab")  # stimulus metadata carried along


def test_external_module_with_dotted_names(stimuli, tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Sequential(nn.Conv2d(4, 2, 3, stride=2), nn.ReLU()))
    act = extract(net, stimuli, layers=["1", "2.1"], cache=tmp_path, progress=False)
    assert act.sizes["time_step"] == 1 and act.attrs["constant_over_time"] == 1 and act.attrs["is_recurrent"] == 0
    x = torch.cat([b for _, b in stimuli.batches(10)])
    with torch.no_grad():
        want = net[2](net[1](net[0](x))).flatten(1).numpy()
    np.testing.assert_allclose(act.values[:, act.layer.values == "2.1", 0], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unknown module name"):
        extract(net, stimuli, layers=["9"], cache=tmp_path, progress=False)
    with pytest.raises(ValueError, match="pass layers="):
        extract(net, stimuli, cache=tmp_path, progress=False)


def test_recurrent_steps_differ(tiny, stimuli, tmp_path):
    act = extract(tiny, stimuli, layers=["b2"], cache=tmp_path, progress=False)
    assert act.attrs["is_recurrent"] == 1 and act.attrs["constant_over_time"] == 0
    v = act.values
    assert np.all(v[:, :, 0] == 0)  # before arrival
    assert not np.allclose(v[:, :, 1], v[:, :, 2]) and not np.allclose(v[:, :, 3], v[:, :, 5])


def test_projection_deterministic_and_preserves_inner_products(tiny, stimuli, tmp_path):
    p = RandomProjection(width=2000, seed=3)
    a = extract(tiny, stimuli, layers=["b1"], projection=p, cache=tmp_path / "a", progress=False).values
    b = extract(tiny, stimuli, layers=["b1"], projection=p, cache=tmp_path / "b", progress=False).values
    np.testing.assert_array_equal(a, b)
    full = extract(tiny, stimuli, layers=["b1"], cache=tmp_path / "c", progress=False).values  # 256 features
    # Johnson-Lindenstrauss: Gram matrices agree up to O(1/sqrt(width)) relative error.
    for kind in ("sparse", "gaussian"):
        proj = RandomProjection(width=2000, kind=kind, seed=1, always=True)
        red = extract(tiny, stimuli, layers=["b1"], projection=proj, cache=tmp_path / kind, progress=False).values
        for t in (0, 3):
            g_full, g_red = full[:, :, t] @ full[:, :, t].T, red[:, :, t] @ red[:, :, t].T
            rel = np.abs(g_red - g_full).max() / np.abs(g_full).max()
            assert rel < 0.15, (kind, t, rel)
    # the same matrix serves every time step of a layer
    m = RandomProjection(width=50, seed=1).matrix("b1", 256, torch.device("cpu"))
    x = torch.from_numpy(full[:, :, 2])
    np.testing.assert_allclose(RandomProjection.apply(m, x).numpy(),
                               extract(tiny, stimuli, layers=["b1"], projection=RandomProjection(50, seed=1),
                                       cache=tmp_path / "d", progress=False).values[:, :, 2], rtol=1e-4, atol=1e-5)


def test_pca_projection(tiny, stimuli, tmp_path):
    act = extract(tiny, stimuli, projection=PCAProjection(n_components=4, n_fit=8), cache=tmp_path, progress=False)
    assert act.sizes["neuroid"] == 8  # 4 per layer
    assert np.abs(act.values).max() > 0


def test_pooling(tiny, stimuli, tmp_path):
    act = extract(tiny, stimuli, pooling="avg", cache=tmp_path, progress=False)
    assert act.sizes["neuroid"] == 4 + 8
    act2 = extract(tiny, stimuli, pooling=2, cache=tmp_path, progress=False)
    assert act2.sizes["neuroid"] == (4 + 8) * 4
    with pytest.raises(ValueError, match="pooling must be"):
        extract(tiny, stimuli, pooling="median", cache=tmp_path, progress=False)


def test_cache_hit_does_not_run_the_model(tiny, stimuli, tmp_path):
    a = extract(tiny, stimuli, cache=tmp_path, batch_size=4, progress=False).values
    calls = tiny.calls
    b = extract(tiny, stimuli, cache=tmp_path, batch_size=5, progress=False).values
    assert tiny.calls == calls  # not called again
    np.testing.assert_array_equal(a, b)


def test_changing_one_weight_invalidates_the_cache(tiny, stimuli, tmp_path):
    extract(tiny, stimuli, cache=tmp_path, progress=False)
    h = weights_hash(tiny)
    with torch.no_grad():
        tiny.b2.rec.weight[0, 0, 0, 0] += 1e-3
    assert weights_hash(tiny) != h
    calls = tiny.calls
    extract(tiny, stimuli, cache=tmp_path, progress=False)
    assert tiny.calls > calls
    assert len(list(tmp_path.glob("*.nc"))) == 2


def test_truncated_cache_file_is_detected_and_rebuilt(tiny, stimuli, tmp_path):
    a = extract(tiny, stimuli, cache=tmp_path, progress=False)
    want = a.values.copy()
    path = a.encoding["source"]
    a.close()
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    calls = tiny.calls
    with pytest.warns(RuntimeWarning, match="damaged or stale activation file"):
        b = extract(tiny, stimuli, cache=tmp_path, progress=False)
    assert tiny.calls > calls
    np.testing.assert_array_equal(b.values, want)


def test_interrupted_extraction_resumes(tiny, stimuli, tmp_path):
    reference = extract(tiny, stimuli, cache=tmp_path / "ref", batch_size=2, progress=False).values
    tiny.calls, tiny.fail_on_call = 0, 4  # crash on the 4th batch
    with pytest.raises(Interrupted):
        extract(tiny, stimuli, cache=tmp_path / "run", batch_size=2, progress=False)
    assert len(list((tmp_path / "run").glob("*.partial.nc"))) == 1
    assert not list((tmp_path / "run").glob("*[!l].nc"))  # no complete file yet
    tiny.calls, tiny.fail_on_call = 0, None
    resumed = extract(tiny, stimuli, cache=tmp_path / "run", batch_size=2, progress=False)
    assert tiny.calls == 2  # only the two missing batches (of 5) were computed
    np.testing.assert_array_equal(resumed.values, reference)
    assert not list((tmp_path / "run").glob("*.partial.nc"))


def test_uncached_run_leaves_nothing_in_cache(tiny, stimuli, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINFIT_CACHE", str(tmp_path / "cache"))
    extract(tiny, stimuli, cache=False, progress=False)
    assert not (tmp_path / "cache").exists()


def test_bad_inputs(tiny, stimuli, tmp_path):
    with pytest.raises(ValueError, match="stimuli must be a StimulusSet"):
        extract(tiny, np.zeros((2, 3, 8, 8)), cache=tmp_path)
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['b9'\]"):
        extract(tiny, stimuli, layers=["b9"], cache=tmp_path)
    with pytest.raises(ValueError, match="projection width"):
        RandomProjection(width=0)


def test_same_weights_different_computation_is_a_cache_miss(tmp_path):
    # the unrolled control shares every weight with its ConvRNN but not the recurrence: a cache
    # keyed on weights alone would hand it the ConvRNN's activations
    from brainfit.models import create_model, unrolled_control

    torch.manual_seed(0)
    rnn = create_model("convrnn_small_rgc", n_steps=8, on_steps=4)
    ctrl = unrolled_control(rnn)
    assert weights_hash(rnn) == weights_hash(ctrl)
    rng = np.random.default_rng(1)
    stim = StimulusSet.from_array(rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    a = extract(rnn, stim, layers=["conv5"], cache=tmp_path, progress=False)
    b = extract(ctrl, stim, layers=["conv5"], cache=tmp_path, progress=False)
    assert a.attrs["cache_key"] != b.attrs["cache_key"]
    assert len(list(tmp_path.glob("*.nc"))) == 2
    late = a.sizes["time_step"] - 1  # after offset the ConvRNN's state carries the image, the control sees gray
    assert not np.allclose(a.values[:, :, late], b.values[:, :, late])


def test_uncached_extract_leaves_no_temporary_files(tiny, stimuli, tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where mkdtemp puts its folders
    cached = extract(tiny, stimuli, cache=tmp_path / "cache", progress=False)
    got = extract(tiny, stimuli, cache=False, progress=False)
    assert list(scratch.iterdir()) == []  # the temporary activation file and its folder are gone
    assert "source" not in got.encoding
    xr.testing.assert_identical(got, cached.load())  # values, coords and attrs read back into memory
    # also when the extraction fails half-way
    tiny.calls, tiny.fail_on_call = 0, 2
    with pytest.raises(Interrupted):
        extract(tiny, stimuli, cache=None, batch_size=4, progress=False)
    assert list(scratch.iterdir()) == []


@pytest.fixture
def images32():
    rng = np.random.default_rng(2)
    return StimulusSet.from_array(rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))


def test_registry_convrnn_is_time_resolved(images32, tmp_path):
    from brainfit.models import create_model
    from brainfit.stimuli import Preprocessing

    torch.manual_seed(0)
    model = create_model("convrnn_small_rgc", n_steps=8, on_steps=4)
    act = extract(model, images32, layers=["conv3", "conv5"], cache=tmp_path, progress=False)
    assert act.dims == ACTIVATION_DIMS and act.sizes["time_step"] == 8  # the model's own schedule
    assert list(act.time_step.values) == list(range(8))
    assert bool(act.attrs["is_recurrent"]) and not bool(act.attrs["constant_over_time"])
    layer, region, unit = act.layer.values, act.region.values, act.unit.values
    assert (layer == "conv3").sum() == 96 * 8 * 8 and (layer == "conv5").sum() == 128 * 4 * 4
    assert set(region[layer == "conv3"]) == {"V4"} and set(region[layer == "conv5"]) == {"IT"}
    np.testing.assert_array_equal(unit[layer == "conv5"], np.arange(128 * 4 * 4))
    v = act.values
    for name, arrival in (("conv3", 2), ("conv5", 4)):
        x = v[:, layer == name]
        assert np.all(x[:, :, :arrival] == 0), name  # nothing before the feedforward wave arrives
        assert np.abs(x[:, :, arrival]).max() > 0, name
        # the image is still on, so the change from one step to the next is the recurrence
        assert not np.allclose(x[:, :, arrival], x[:, :, arrival + 1]), name
        assert not np.allclose(x[:, :, 6], x[:, :, 7]), name
    # and the hooks saw exactly what the model computes
    pre = Preprocessing(size=model.input_size, mean=model.norm_mean, std=model.norm_std)
    images = torch.cat([b for _, b in images32.batches(6, pre)])
    with torch.no_grad():
        _, direct = model.eval()(images, return_layers=True)
    want = direct["conv5"].flatten(2).permute(0, 2, 1).numpy()
    np.testing.assert_allclose(v[:, layer == "conv5"], want, rtol=1e-4, atol=1e-5)


def test_registry_feedforward_is_one_step(images32, tmp_path):
    from brainfit.models import create_model

    torch.manual_seed(0)
    act = extract(create_model("ff_small"), images32, layers=["conv2", "conv5"], pooling="avg", cache=tmp_path,
                  progress=False)
    assert act.dims == ACTIVATION_DIMS and act.sizes["time_step"] == 1
    assert bool(act.attrs["constant_over_time"]) and not bool(act.attrs["is_recurrent"])
    assert act.sizes["neuroid"] == 64 + 128 and set(act.arrival_step.values) == {0}
    assert np.abs(act.values).max() > 0


def test_layer_that_never_arrives_is_an_error(images32, tmp_path):
    from brainfit.models import create_model

    model = create_model("convrnn_small_rgc", n_steps=8, on_steps=4)
    with pytest.raises(ValueError, match=r"\['conv5'\] first produce output at step\(s\) \[4\], which n_steps=4"):
        extract(model, images32, layers=["conv1", "conv5"], n_steps=4, cache=tmp_path, progress=False)


def test_pca_projection_is_deterministic(tiny, stimuli, tmp_path):
    p = PCAProjection(n_components=3, n_fit=6, seed=1)
    a = extract(tiny, stimuli, projection=p, cache=tmp_path / "a", progress=False)
    b = extract(tiny, stimuli, projection=p, cache=tmp_path / "b", progress=False)
    assert a.encoding["source"] != b.encoding["source"]  # two separate extractions, no cache hit
    np.testing.assert_array_equal(a.values, b.values)
    assert a.sizes["neuroid"] == 6 and np.abs(a.values).max() > 0
    c = extract(tiny, stimuli, projection=PCAProjection(n_components=3, n_fit=6, seed=2), cache=tmp_path / "a",
                progress=False)
    assert not np.allclose(a.values, c.values)  # another fit subset gives another basis


def test_cli_extract_end_to_end(tmp_path, capsys):
    from brainfit.activations import open_activations
    from brainfit.cli import main

    out = tmp_path / "act.nc"
    rc = main(["extract", "--model", "convrnn_small_rgc", "--model-set", "on_steps=3", "--n-steps", "6",
               "--dataset", "synthetic", "--dataset-set", "n_categories=2", "objects_per_category=2",
               "images_per_object=1", "n_v4=4", "n_it=4", "n_repetitions=2", "image_size=32",
               "--layers", "conv1", "conv5", "--pooling", "avg", "--cache-dir", str(tmp_path / "cache"),
               "--out", str(out), "--quiet"])
    assert rc == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert len(list((tmp_path / "cache").glob("*.nc"))) == 1
    act = open_activations(out)
    try:
        assert act.dims == ACTIVATION_DIMS
        assert dict(act.sizes) == {"presentation": 2 * 2 * 1 * 3, "neuroid": 32 + 128, "time_step": 6}
        assert set(act.layer.values) == {"conv1", "conv5"} and bool(act.attrs["is_recurrent"])
        assert np.all(act.values[:, act.layer.values == "conv5", :4] == 0)
    finally:
        act.close()
