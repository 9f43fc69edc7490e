"""The trained mini-zoo shipped in brainfit/weights: present, intact, loadable, as accurate as recorded."""

from __future__ import annotations

import pytest
import torch

from brainfit._io import sha256_file
from brainfit.paths import weights_dir
from brainfit.models import count_params, create_model, list_pretrained, pretrained_info

# What the project promises to ship: a gated ConvRNN, a second cell type, and their matched controls.
EXPECTED = {"convrnn_small_rgc", "ff_small_wider_rgc", "convrnn_small_vanilla", "ff_small_wider_vanilla"}
SHIPPED = [n for n in list_pretrained() if not n.endswith("_unrolled")]


def test_the_promised_mini_zoo_is_shipped():
    missing = EXPECTED - set(SHIPPED)
    assert not missing, f"missing shipped weights: {sorted(missing)}"
    assert "convrnn_small_rgc_unrolled" in list_pretrained()  # reuses the RGC's weights


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
    from brainfit.training import evaluate, load_image_zip

    root = data_root()
    zpath = None if root is None else root / "cifar10_jpeg" / "cifar10_jpeg.zip"
    if zpath is None or not zpath.exists():
        pytest.skip("shared CIFAR-10 JPEG zip not found (set BRAINFIT_DATA)")
    info = pretrained_info(name)
    model = create_model(name, pretrained=True)
    test = load_image_zip(zpath, split="test", progress=False)
    n_steps = info["n_steps_train"]
    _, acc = evaluate(model, test, n_steps=n_steps, on_steps=n_steps, mean=model.norm_mean, std=model.norm_std)
    assert acc == pytest.approx(info["test_accuracy"], abs=2e-3)
