import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from brainfit.models import (
    create_model,
    list_models,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from brainfit.training import (
    ActivationSnapshots,
    TrainConfig,
    load_image_folder,
    load_image_zip,
    read_snapshots,
    train,
)
from brainfit.training.data import (
    augment_batch,
    epoch_batches,
    train_val_split,
)
from brainfit.training.loop import lr_schedule, step_loss_weights
from tiny_models import toy_classification


class Stop(Exception):
    pass


_data = toy_classification


TRAINABLE = [m for m in list_models() if not m.startswith("resnet56")]


@pytest.mark.parametrize("name", TRAINABLE)
def test_a_few_steps_reduce_the_loss(name):
    torch.manual_seed(0)
    model = create_model(name, n_classes=4)
    data = _data(32, size=16)
    x = (torch.from_numpy(data.images).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.25
    y = torch.from_numpy(data.labels)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    kw = {"n_steps": 6, "on_steps": 6} if model.time_varying else {}
    losses = []
    for _ in range(8):
        logits = model(x, **kw)[:, -1]
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def _config(tmp_path, **kw):
    base = {"model": "convrnn_small_rgc", "data": "toy", "model_kwargs": {"n_classes": 4}, "epochs": 2,
            "batch_size": 16, "n_steps": 6, "val_fraction": 0.25, "lr": 3e-3, "checkpoint_every": 2, "seed": 1}
    base.update(kw)
    return TrainConfig(**base)


def test_training_writes_outputs_and_learns(tmp_path):
    cfg = _config(tmp_path, epochs=3)
    res = train(cfg, tmp_path / "run", progress=False, data=_data(), test_data=_data(40, seed=9))
    for f in ("config.yaml", "metrics.csv", "metrics.json", "last.pt", "best.pt", "model.pt", "summary.json"):
        assert (tmp_path / "run" / f).exists(), f
    assert len(res.metrics) == 3 and res.metrics[-1]["train_loss"] < res.metrics[0]["train_loss"]
    assert res.test_accuracy is not None and res.test_accuracy > 0.5  # chance is 0.25


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = create_model("convrnn_small_lstm", n_classes=4)
    model.eval()
    path = save_checkpoint(tmp_path / "m.pt", model=model, model_name="convrnn_small_lstm",
                           model_kwargs={"n_classes": 4}, config={"note": "test"}, metrics=[{"epoch": 1}])
    again = load_model(path)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x, n_steps=7), again(x, n_steps=7), rtol=0, atol=0)
    assert again.checkpoint_info["config"] == {"note": "test"}


def test_resume_reproduces_uninterrupted_run_exactly(tmp_path):
    data = _data()
    cfg = _config(tmp_path)
    ref = train(cfg, tmp_path / "ref", progress=False, data=data)

    def stop_at_5(state):
        if state["iteration"] == 5:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, tmp_path / "run", progress=False, data=data, callbacks=[stop_at_5])
    st = load_checkpoint(tmp_path / "run" / "last.pt")["training_state"]
    assert (st["epoch"], st["iteration_in_epoch"]) == (1, 0)  # 4 iterations per epoch: last checkpoint at 4
    resumed = train(cfg, tmp_path / "run", progress=False, data=data)
    for (k, a), (_, b) in zip(ref.model.state_dict().items(), resumed.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    assert [m["val_acc"] for m in ref.metrics] == [m["val_acc"] for m in resumed.metrics]


def test_resume_refuses_a_different_config(tmp_path):
    data = _data()
    train(_config(tmp_path, epochs=1), tmp_path / "run", progress=False, data=data)
    with pytest.raises(ValueError, match=r"different config \(differs in \['lr'\]\)"):
        train(_config(tmp_path, epochs=1, lr=1e-2), tmp_path / "run", progress=False, data=data)


def test_corrupt_and_mismatched_checkpoints_raise(tmp_path):
    model = create_model("ff_small", n_classes=4)
    path = save_checkpoint(tmp_path / "m.pt", model=model, model_name="ff_small", model_kwargs={"n_classes": 4})
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "trunc.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a brainfit checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    ckpt = load_checkpoint(path)
    ckpt["model_kwargs"] = {"n_classes": 7}
    with pytest.raises(ValueError, match=r"does not match model 'ff_small': shape mismatch \['head.weight"):
        load_model(path, ckpt=ckpt)
    ckpt["model_name"] = "convrnn_small_rgc"
    ckpt["model_kwargs"] = {"n_classes": 4}
    with pytest.raises(ValueError, match="missing"):
        load_model(path, ckpt=ckpt)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")


def test_activation_snapshots(tmp_path):
    data = _data()
    probe = (torch.from_numpy(data.images[:5]).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.25
    snaps = ActivationSnapshots(tmp_path / "snaps.h5", probe, layers=["conv3", "conv5"], every=2, n_steps=6)
    train(_config(tmp_path), tmp_path / "run", progress=False, data=data, callbacks=[snaps])
    its, layers = read_snapshots(tmp_path / "snaps.h5")
    assert list(its) == [2, 4, 6, 8]
    assert layers["conv3"].shape == (4, 5, 6, 96) and layers["conv5"].shape == (4, 5, 6, 128)
    assert not np.allclose(layers["conv5"][0], layers["conv5"][-1])  # representations changed with training
    assert np.all(layers["conv5"][:, :, :4] == 0)  # conv5 is reached at step 4


def test_snapshot_is_the_channel_mean_of_the_layer_outputs(tmp_path):
    torch.manual_seed(0)
    model = create_model("convrnn_small_rgc", n_classes=4).eval()
    probe = torch.randn(3, 3, 16, 16)
    snaps = ActivationSnapshots(tmp_path / "s.h5", probe, layers=["conv2", "conv5"], n_steps=7)
    snaps.snapshot(model, 1)
    _, layers = read_snapshots(tmp_path / "s.h5")
    with torch.no_grad():
        _, direct = model(probe, n_steps=7, return_layers=True)
    for name in ("conv2", "conv5"):  # zeros before the layer's arrival step, as the model records them
        np.testing.assert_allclose(layers[name][0], direct[name].mean(dim=(-2, -1)).numpy(), rtol=1e-6, atol=1e-7)
    assert not layers["conv5"][0][:, :4].any() and layers["conv5"][0][:, 4:].any()


@pytest.mark.parametrize("warmup", [0, 1, 5])
def test_lr_schedule_is_linear_warmup_then_cosine(warmup):
    import math

    total, lr, floor = 40, 0.1, 0.01
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = lr_schedule(opt, total, warmup, floor)
    got = []
    for _ in range(total):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()

    def closed_form(it):  # the schedule by its definition
        if warmup > 0 and it < warmup:
            return lr * (it + 1) / warmup
        progress = (it - warmup) / max(1, total - warmup)
        return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    np.testing.assert_allclose(got, [closed_form(i) for i in range(total)], rtol=1e-9, atol=1e-12)


def _write_class_tree(root, n_per_class=3, size=12):
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        for i in range(n_per_class):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / c / f"{i}.jpg")


def test_folder_and_zip_loaders(tmp_path):
    _write_class_tree(tmp_path / "data" / "train")
    d = load_image_folder(tmp_path / "data" / "train", progress=False)
    assert d.classes == ["cat", "dog"] and list(d.labels) == [0, 0, 0, 1, 1, 1] and d.images.shape == (6, 12, 12, 3)
    zpath = tmp_path / "set.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted((tmp_path / "data").rglob("*.jpg")):
            zf.write(p, p.relative_to(tmp_path).as_posix())
    z = load_image_zip(zpath, split="train", progress=False)
    np.testing.assert_array_equal(z.images, d.images)
    with pytest.raises(ValueError, match="no images in class folders under a 'test' folder"):
        load_image_zip(zpath, split="test", progress=False)
    (tmp_path / "data" / "train" / "cat" / "1.jpg").write_bytes(b"broken")
    with pytest.raises(ValueError, match=r"cannot decode image .*1\.jpg"):
        load_image_folder(tmp_path / "data" / "train", progress=False)


def test_split_batches_and_augmentation_are_deterministic():
    labels = np.repeat(np.arange(4), 25)
    tr, va = train_val_split(labels, 0.2, seed=3)
    assert len(va) == 20 and np.all(np.bincount(labels[va]) == 5) and not set(tr) & set(va)
    np.testing.assert_array_equal(va, train_val_split(labels, 0.2, seed=3)[1])
    a = epoch_batches(100, 16, seed=1, epoch=2)
    assert len(a) == 6 and all(np.array_equal(x, y) for x, y in zip(a, epoch_batches(100, 16, seed=1, epoch=2)))
    assert not np.array_equal(a[0], epoch_batches(100, 16, seed=1, epoch=3)[0])
    x = torch.randn(4, 3, 8, 8)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    torch.testing.assert_close(augment_batch(x, g1), augment_batch(x, g2))
    assert augment_batch(x, g1).shape == x.shape


def test_step_loss_weights():
    assert step_loss_weights(6, 4, "last", "uniform").tolist() == [0, 0, 0, 0, 0, 1]
    torch.testing.assert_close(step_loss_weights(6, 3, "all", "uniform"), torch.tensor([0, 0, 0, 1 / 3, 1 / 3, 1 / 3]))
    torch.testing.assert_close(step_loss_weights(5, 2, "all", "linear"), torch.tensor([0, 0, 1 / 6, 2 / 6, 3 / 6]))


def test_bad_config():
    with pytest.raises(ValueError, match=r"loss_steps='first' \(expected one of 'last', 'all'\)"):
        TrainConfig(model="ff_small", data="x", loss_steps="first")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['epochz'\]"):
        TrainConfig.from_dict({"model": "ff_small", "data": "x", "epochz": 3})
