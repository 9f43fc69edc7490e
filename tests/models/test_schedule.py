"""Stimulus-schedule provenance: training records the schedule, loading defaults to it, extraction
warns when a model is read outside it, and the long unroll's drive reuse is exact."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from brainfit.activations import extract
from brainfit.cli import main
from brainfit.models import create_model, load_checkpoint, load_model, save_checkpoint
from brainfit.models.convrnn import unroll_without_reuse
from brainfit.models.schedule import ScheduleWarning, check_schedule, schedule_from_checkpoint
from brainfit.stimuli import StimulusSet
from brainfit.training import ConfigError, TrainConfig, step_accuracy, train
from brainfit.training.loop import evaluate
from tiny_models import toy_classification


def _data(n=48, seed=0):
    return toy_classification(n, size=32, seed=seed)  # the ConvRNN presets are built for 32 px


@pytest.fixture
def stimuli():
    rng = np.random.default_rng(1)
    return StimulusSet.from_array(rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))


def _saved(tmp_path, schedule, config=None, name="convrnn_small_rgc"):
    torch.manual_seed(0)
    model = create_model(name)
    path = tmp_path / f"{name}.pt"
    save_checkpoint(path, model=model, model_name=name, model_kwargs={}, config=config, schedule=schedule)
    return path


def test_loading_defaults_the_unroll_to_the_trained_schedule(tmp_path):
    path = _saved(tmp_path, {"n_steps": 12, "on_steps": 5, "loss_steps": "all", "loss_from": 4})
    model = load_model(path)
    assert (model.n_steps, model.on_steps) == (12, 5)
    assert model.trained_schedule["n_steps"] == 12 and model.checkpoint_info["schedule"]["on_steps"] == 5
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 12, 10)


def test_schedule_from_an_older_checkpoint_config():
    assert schedule_from_checkpoint({"config": {"n_steps": 7, "on_steps": None}})["on_steps"] == 7
    assert schedule_from_checkpoint({"config": {"n_steps": 9, "on_steps": 4}})["on_steps"] == 4
    assert schedule_from_checkpoint({"config": {"n_steps": None}}) is None
    assert schedule_from_checkpoint({"config": {}}) is None
    # a checkpoint without a recorded schedule keeps the model's own default and is never warned about
    model = create_model("convrnn_small_rgc")
    assert check_schedule(model, 40, 3) is True


def test_extraction_warns_naming_both_schedules(tmp_path, stimuli):
    model = load_model(_saved(tmp_path, {"n_steps": 7, "on_steps": 7}))
    with pytest.warns(ScheduleWarning) as rec:
        da = extract(model, stimuli, ["conv5"], n_steps=26, on_steps=10, cache=False, progress=False)
    msg = str(rec[0].message)
    assert "26 steps, image on for the first 10" in msg and "7 steps, image on at every step" in msg
    assert "steps 7..25 were never trained" in msg
    assert da.sizes["time_step"] == 26
    # another image duration inside the trained length is outside the schedule too
    with pytest.warns(ScheduleWarning, match="image is shown for a different number of steps"):
        extract(model, stimuli, ["conv5"], n_steps=7, on_steps=3, cache=False, progress=False)


def test_extraction_inside_the_trained_schedule_is_silent(tmp_path, stimuli):
    model = load_model(_saved(tmp_path, {"n_steps": 26, "on_steps": 10}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScheduleWarning)
        da = extract(model, stimuli, ["conv5"], cache=False, progress=False)  # the default: the trained one
        assert da.sizes["time_step"] == 26
        extract(model, stimuli, ["conv5"], n_steps=8, on_steps=8, cache=False, progress=False)  # a prefix
        # a random-weight model has no trained schedule to leave
        extract(create_model("convrnn_small_vanilla"), stimuli, ["conv5"], n_steps=30, on_steps=2, cache=False,
                progress=False)


def test_training_records_its_schedule_and_loss_window(tmp_path):
    cfg = TrainConfig(model="convrnn_small_vanilla", data="toy", model_kwargs={"n_classes": 4}, epochs=1,
                      batch_size=16, n_steps=9, on_steps=4, loss_steps="all", loss_from=6, val_fraction=0.25)
    train(cfg, tmp_path / "run", progress=False, data=_data())
    ckpt = load_checkpoint(tmp_path / "run" / "model.pt")
    assert ckpt["schedule"] == {"n_steps": 9, "on_steps": 4, "loss_steps": "all", "loss_from": 6,
                                "step_weighting": "uniform", "readout_step": 4}
    model = load_model(tmp_path / "run" / "model.pt")
    assert (model.n_steps, model.on_steps) == (9, 4)
    acc = step_accuracy(model, _data(20, seed=3))
    assert acc.shape == (9,) and np.all((acc >= 0) & (acc <= 1))
    _, last = evaluate(model, _data(20, seed=3), n_steps=9, on_steps=4)
    assert acc[-1] == pytest.approx(last)


@pytest.mark.parametrize("kw, match", [
    ({"loss_steps": "all", "loss_from": 2}, "loss_from=2 .*readout step 4"),
    ({"loss_steps": "last", "loss_from": 5}, "loss_from=5 .*loss_steps='all'"),
    ({"loss_steps": "all", "loss_from": 9}, "loss_from=9 .*n_steps=9"),
])
def test_a_bad_loss_window_is_refused_before_anything_is_written(tmp_path, kw, match):
    with pytest.raises(ConfigError, match=match):
        cfg = TrainConfig(model="convrnn_small_vanilla", data="toy", model_kwargs={"n_classes": 4}, epochs=1,
                          batch_size=16, n_steps=9, on_steps=4, val_fraction=0.25, **kw)
        train(cfg, tmp_path / "run", progress=False, data=_data())
    assert not (tmp_path / "run").exists()


def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    start = tmp_path / "start.pt"
    torch.manual_seed(5)
    src = create_model("convrnn_small_vanilla", n_classes=4)
    save_checkpoint(start, model=src, model_name="convrnn_small_vanilla", model_kwargs={"n_classes": 4})
    cfg = TrainConfig(model="convrnn_small_vanilla", data="toy", model_kwargs={"n_classes": 4}, epochs=1,
                      batch_size=16, n_steps=6, on_steps=3, loss_steps="all", val_fraction=0.25,
                      init_from=str(start), lr=1e-12, warmup_epochs=0.0, weight_decay=0.0)
    res = train(cfg, tmp_path / "run", progress=False, data=_data())
    # with a vanishing learning rate the weights stay those of the start checkpoint
    for (k, a), (_, b) in zip(src.state_dict().items(), res.model.state_dict().items()):
        if a.is_floating_point() and "running" not in k:
            assert torch.allclose(a, b, atol=1e-6), k
    summary = load_checkpoint(tmp_path / "run" / "model.pt")["config"]["summary"]
    assert len(summary["init_from_sha256"]) == 64


def test_fine_tuning_from_the_wrong_weights_is_refused(tmp_path):
    start = _saved(tmp_path, None, name="convrnn_small_rgc")
    base = dict(model="convrnn_small_vanilla", data="toy", model_kwargs={"n_classes": 4}, epochs=1, batch_size=16,
                n_steps=6, val_fraction=0.25)
    with pytest.raises(ValueError, match="holds 'convrnn_small_rgc' weights, not 'convrnn_small_vanilla'"):
        train(TrainConfig(**base, init_from=str(start)), tmp_path / "run", progress=False, data=_data())
    with pytest.raises(FileNotFoundError, match="init_from: no checkpoint"):
        train(TrainConfig(**base, init_from=str(tmp_path / "nope.pt")), tmp_path / "run", progress=False,
              data=_data())
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["convrnn_small_rgc", "convrnn_small_vanilla"])
def test_reusing_unchanged_drives_is_exact(name, monkeypatch):
    torch.manual_seed(0)
    model = create_model(name).eval()
    for p in model.parameters():  # cells start near the feedforward network: make recurrence matter
        p.data.add_(0.05 * torch.randn_like(p))
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        ref = unroll_without_reuse(model, x, 26, 10)
    calls = {}
    conv3 = model.blocks[2]
    original = type(conv3).drive

    def counting(self, inp):
        calls[self.spec.name] = calls.get(self.spec.name, 0) + 1
        return original(self, inp)

    monkeypatch.setattr(type(conv3), "drive", counting)
    with torch.no_grad():
        fast = model(x, n_steps=26, on_steps=10)
    torch.testing.assert_close(fast, ref, rtol=0, atol=0)
    # conv3's input (conv2's previous output) is new only at step 2 (its first) and step 12 (two
    # steps after the image goes off); conv5's input is a cell's output, new at every step from 4
    assert calls["conv3"] == 2 and calls["conv1"] == 2, calls
    assert calls["conv5"] == 26 - 4


def test_models_show_prints_the_schedule(tmp_path, capsys):
    path = _saved(tmp_path, {"n_steps": 26, "on_steps": 10, "loss_steps": "all", "loss_from": 4,
                             "step_weighting": "uniform"})
    assert main(["models", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trained schedule: 26 steps, image on for the first 10, gray after; loss on steps 4-25" in out
    assert "conv5 (IT)" in out
    assert main(["models", "show", "convrnn_small_gru"]) == 0
    assert "not recorded (no trained weights)" in capsys.readouterr().out
    assert main(["models", "show", "convrnn_small_rgcc"]) == 2
    assert "convrnn_small_rgc" in capsys.readouterr().err


def test_an_unrolled_control_is_built_from_its_convrnns_checkpoint(tmp_path):
    from brainfit.models import model_from_spec

    path = _saved(tmp_path, {"n_steps": 7, "on_steps": 7})
    ctrl = model_from_spec("convrnn_small_rgc_unrolled", weights=path)
    rnn = load_model(path)
    assert ctrl.registry_name == "convrnn_small_rgc_unrolled" and not ctrl.is_recurrent
    assert (ctrl.n_steps, ctrl.on_steps) == (7, 7)  # the schedule its weights were trained for
    for (k, a), (_, b) in zip(rnn.state_dict().items(), ctrl.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="holds 'convrnn_small_rgc', not 'convrnn_small_vanilla_unrolled' "
                                         r"\(nor 'convrnn_small_vanilla'"):
        model_from_spec("convrnn_small_vanilla_unrolled", weights=path)


@pytest.mark.parametrize("kw, match", [({"n_steps": 0}, r"n_steps=0 \(expected an int >= 1"),
                                       ({"on_steps": "10"}, r"on_steps='10' \(expected an int >= 1"),
                                       ({"n_steps": 5, "on_steps": 6}, "on_steps=6 must be <= n_steps=5")])
def test_a_models_unroll_is_checked(kw, match):
    import re

    from brainfit.zoo.entries import model_entry

    specs, problems = model_entry({"model": "convrnn_small_rgc", **kw}, "models[0]")
    assert specs == [] and any(re.search(match, p) for p in problems), problems


def test_frozen_batchnorm_keeps_its_statistics_and_learns_its_affine(tmp_path):
    from brainfit.training.snapshots import ActivationSnapshots  # a callback that switches to eval and back

    torch.manual_seed(2)
    start = tmp_path / "start.pt"
    src = create_model("convrnn_small_vanilla", n_classes=4)
    for b in src.blocks:
        b.bn.running_mean.normal_()
        b.bn.running_var.uniform_(0.5, 2.0)
    save_checkpoint(start, model=src, model_name="convrnn_small_vanilla", model_kwargs={"n_classes": 4})
    probe = torch.randn(2, 3, 32, 32)
    cfg = TrainConfig(model="convrnn_small_vanilla", data="toy", model_kwargs={"n_classes": 4}, epochs=2,
                      batch_size=16, n_steps=8, on_steps=3, loss_steps="all", freeze_batchnorm=True,
                      val_fraction=0.25, init_from=str(start))
    res = train(cfg, tmp_path / "run", progress=False, data=_data(),
                callbacks=[ActivationSnapshots(tmp_path / "snaps.h5", probe, every=1, layers=["conv5"])])
    for a, b in zip(src.blocks, res.model.blocks):
        assert torch.equal(a.bn.running_mean, b.bn.running_mean) and torch.equal(a.bn.running_var, b.bn.running_var)
        assert int(b.bn.num_batches_tracked) == int(a.bn.num_batches_tracked)
    assert not torch.equal(src.blocks[4].bn.weight, res.model.blocks[4].bn.weight)
