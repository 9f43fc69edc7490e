"""Extraction: values equal a direct forward pass, schedules, layer naming, bad inputs, capture."""

import numpy as np
import pytest
import torch
from torch import nn

from brainfit.activations import RandomProjection, extract
from brainfit.assembly import ACTIVATION_DIMS, validate_activations
from brainfit.stimuli import StimulusSet
from tiny_models import Interrupted


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
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                        nn.Sequential(nn.Conv2d(4, 2, 3, stride=2), nn.ReLU()))
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


def test_bad_inputs(tiny, stimuli, tmp_path):
    with pytest.raises(ValueError, match="stimuli must be a StimulusSet"):
        extract(tiny, np.zeros((2, 3, 8, 8)), cache=tmp_path)
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['b9'\]"):
        extract(tiny, stimuli, layers=["b9"], cache=tmp_path)
    with pytest.raises(ValueError, match="projection width"):
        RandomProjection(width=0)



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


def _hooks_left(model):
    return {name: len(m._forward_hooks) for name, m in model.named_modules() if m._forward_hooks}


def test_extraction_captures_through_models_capture(tiny, stimuli, tmp_path, monkeypatch):
    from brainfit.activations import PCAProjection
    from brainfit.models import capture

    seen = []
    original = capture.capture_outputs

    def counting(modules, on_output):
        seen.append(sorted(modules))
        return original(modules, on_output)

    monkeypatch.setattr(capture, "capture_outputs", counting)
    extract(tiny, stimuli, batch_size=4, cache=tmp_path / "a", progress=False)
    assert seen == [["b1", "b2"]] * 3  # one capture per batch (10 stimuli in batches of 4)
    seen.clear()
    extract(tiny, stimuli, layers=["b2"], batch_size=4, projection=PCAProjection(n_components=2, n_fit=8),
            cache=tmp_path / "b", progress=False)
    assert seen == [["b2"]] * (2 + 3)  # the PCA fit (8 stimuli) reads its layers the same way
    assert _hooks_left(tiny) == {}


def test_no_hooks_left_after_extract_even_when_a_batch_fails(tiny, stimuli, tmp_path, monkeypatch):
    from brainfit.activations import Reducer

    assert _hooks_left(tiny) == {}
    extract(tiny, stimuli, batch_size=4, cache=tmp_path / "ok", progress=False)
    assert _hooks_left(tiny) == {}
    tiny.calls, tiny.fail_on_call = 0, 2  # the model raises in the middle of the second batch
    with pytest.raises(Interrupted):
        extract(tiny, stimuli, batch_size=4, cache=tmp_path / "model", progress=False)
    assert _hooks_left(tiny) == {}
    tiny.fail_on_call = None

    def broken(self, layer, x):
        raise RuntimeError("reduction failed")

    monkeypatch.setattr(Reducer, "__call__", broken)  # now the capture callback itself raises
    with pytest.raises(RuntimeError, match="reduction failed"):
        extract(tiny, stimuli, batch_size=4, cache=tmp_path / "hook", progress=False)
    assert _hooks_left(tiny) == {}
    assert tiny.training  # the model's mode is restored too


def test_non_finite_activations_are_an_error(tiny, stimuli, tmp_path):
    with torch.no_grad():
        tiny.b1.conv.bias[0] = float("nan")
    with pytest.raises(ValueError, match="non-finite activations for stimuli"):
        extract(tiny, stimuli, batch_size=4, cache=tmp_path, progress=False)
    assert not list(tmp_path.glob("*.nc"))  # a failed extraction leaves no file, not even a partial one
    assert _hooks_left(tiny) == {}
