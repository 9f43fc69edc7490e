"""The trained mini-zoo shipped in brainfit/weights: present, intact, loadable, as accurate as recorded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainfit._io import sha256_file
from brainfit.paths import weights_dir
from brainfit.models import count_params, create_model, list_pretrained, load_model, pretrained_info

# What the project promises to ship: a gated ConvRNN, a second cell type, and their matched controls.
EXPECTED = {"convrnn_small_rgc", "ff_small_wider_rgc", "convrnn_small_vanilla", "ff_small_wider_vanilla"}
# models with a weights file of their own (the unrolled controls and the accumulator reuse others')
SHIPPED = [n for n in list_pretrained() if (weights_dir() / f"{n}.pt").is_file()]


def test_the_promised_mini_zoo_is_shipped():
    missing = EXPECTED - set(SHIPPED)
    assert not missing, f"missing shipped weights: {sorted(missing)}"
    assert "convrnn_small_rgc_unrolled" in list_pretrained()  # reuses the RGC's weights
    assert "ff_small_wider_rgc_accumulator" in list_pretrained()  # reuses the wider control's


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_are_intact_and_load(name):
    info = pretrained_info(name)
    path = weights_dir() / f"{name}.pt"
    assert path.stat().st_size <= 5 * 1024 * 1024
    assert sha256_file(path) == info["sha256"], "weights file differs from the one released"
    for ext in ("yaml", "csv"):
        assert (weights_dir() / f"{name}.{ext}").is_file()
    model = create_model(name, pretrained=True)
    assert not model.training and model.registry_name == name
    assert count_params(model) == info["params"] == count_params(create_model(name))
    assert model.is_recurrent == info["is_recurrent"]
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())
    assert info["epochs"] == len(info["metrics"]) >= 1 and info["train_wall_time_s"] > 0
    assert 0.5 < info["test_accuracy"] <= 1.0
    # float16 storage costs (almost) nothing
    assert abs(info["test_accuracy"] - info["test_accuracy_float32"]) < 0.005


def test_gated_convrnn_reaches_the_target_accuracy():
    assert pretrained_info("convrnn_small_rgc")["test_accuracy"] >= 0.70


RECURRENT = [n for n in SHIPPED if pretrained_info(n)["is_recurrent"]]


@pytest.mark.parametrize("name", RECURRENT)
def test_shipped_convrnns_are_trained_for_the_scoring_schedule(name):
    info = pretrained_info(name)
    model = create_model(name, pretrained=True)
    # the schedule every brain-mapping run reads them under: 26 steps, image on for the first 10
    assert model.trained_schedule["n_steps"] == 26 and model.trained_schedule["on_steps"] == 10
    assert (model.n_steps, model.on_steps) == (26, 10)
    assert info["schedule"]["n_steps"] == 26 and info["schedule"]["on_steps"] == 10
    steps = info["step_accuracy"]
    assert len(steps["accuracy"]) == 26 and steps["readout_step"] == model.readout_step()
    assert steps["last"] == info["test_accuracy"] >= 0.75
    assert min(steps["accuracy"][steps["readout_step"] + 2:]) >= 0.70
    assert (weights_dir() / f"{name}_steps.png").stat().st_size > 10_000  # the weights card's figure
    # the unrolled control reuses the weights, not the schedule warning: it has no state to drift
    assert getattr(create_model(f"{name}_unrolled", pretrained=True), "trained_schedule", None) is None


def test_unrolled_control_shares_the_trained_weights():
    rnn = create_model("convrnn_small_rgc", pretrained=True)
    ctrl = create_model("convrnn_small_rgc_unrolled", pretrained=True)
    assert not ctrl.is_recurrent and rnn.is_recurrent
    for (k, a), (_, b) in zip(rnn.state_dict().items(), ctrl.state_dict().items()):
        assert torch.equal(a, b), k


def test_pretrained_errors_name_the_problem():
    with pytest.raises(KeyError, match="no shipped weights for 'convrnn_small_gru'"):
        create_model("convrnn_small_gru", pretrained=True)
    with pytest.raises(ValueError, match="extra arguments"):
        create_model("convrnn_small_rgc", pretrained=True, n_classes=5)
    with pytest.raises(KeyError, match="no shipped weights"):
        pretrained_info("resnet20_cifar")


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("name", SHIPPED)
def test_recorded_test_accuracy_is_reproduced(name):
    from brainfit.data import data_root
    from brainfit.training import evaluate, load_image_zip, step_accuracy

    root = data_root()
    zpath = None if root is None else root / "cifar10_jpeg" / "cifar10_jpeg.zip"
    if zpath is None or not zpath.exists():
        pytest.skip("shared CIFAR-10 JPEG zip not found (set BRAINFIT_DATA)")
    info = pretrained_info(name)
    model = load_model(weights_dir() / f"{name}.pt")
    test = load_image_zip(zpath, split="test", progress=False)
    if info["is_recurrent"]:
        # at the model's default unroll, which loading sets to the schedule it was trained under
        acc = step_accuracy(model, test)
        np.testing.assert_allclose(acc, info["step_accuracy"]["accuracy"], atol=2e-3)
        _, last = evaluate(model, test, mean=model.norm_mean, std=model.norm_std)
        assert last == pytest.approx(acc[-1]) and last >= 0.75
        assert acc[model.readout_step() + 2:].min() >= 0.70
    else:
        _, acc = evaluate(model, test, mean=model.norm_mean, std=model.norm_std)
        assert acc == pytest.approx(info["test_accuracy"], abs=2e-3)
