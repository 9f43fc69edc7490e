"""Activations as images: layer_maps against the model's own per-layer outputs, the channel-map
grid, and the training snapshots over iterations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from brainfit.activations import layer_maps
from brainfit.plots import plot_channel_maps, plot_snapshot_maps
from brainfit.stimuli import Preprocessing, StimulusSet
from brainfit.training import ActivationSnapshots, read_snapshots
from tiny_models import Tiny


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return Tiny()


@pytest.fixture
def stimuli():
    rng = np.random.default_rng(0)
    return StimulusSet.from_array(rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


# ----------------------------------------------------------------------------- layer_maps


def test_layer_maps_equal_the_models_own_layer_outputs(tiny, stimuli):
    x = Preprocessing().to_tensor([stimuli.load_image(1)])
    with torch.no_grad():
        _, per_layer = tiny(x, n_steps=6, on_steps=4, return_layers=True)
    for layer in ("b1", "b2"):
        got = layer_maps(tiny, stimuli, layer, stimulus=1)
        want = per_layer[layer][0].numpy()  # (T, C, H, W), zeros before arrival
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.all(layer_maps(tiny, stimuli, "b2")[0] == 0)  # b2 arrives at step 1
    # the same image as an array, by id, or as the normalised tensor gives the same maps
    by_id = layer_maps(tiny, stimuli, "b1", stimulus=str(stimuli.stimulus_ids[1]))
    np.testing.assert_array_equal(by_id, layer_maps(tiny, stimuli.load_image(1), "b1"))
    np.testing.assert_array_equal(by_id, layer_maps(tiny, x[0], "b1"))


def test_layer_maps_follow_the_schedule(tiny, stimuli):
    maps = layer_maps(tiny, stimuli, "b1", n_steps=8, on_steps=2)
    x = Preprocessing().to_tensor([stimuli.load_image(0)])
    with torch.no_grad():
        _, per_layer = tiny(x, n_steps=8, on_steps=2, return_layers=True)
    assert maps.shape[0] == 8
    np.testing.assert_allclose(maps, per_layer["b1"][0].numpy(), rtol=1e-5, atol=1e-6)
    # a plain module is read once (one step), its layer named by a dotted module name
    conv = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU())
    assert layer_maps(conv, stimuli, "1").shape == (1, 5, 16, 16)


def test_layer_maps_bad_input(tiny, stimuli):
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['b9'\]"):
        layer_maps(tiny, stimuli, "b9")
    with pytest.raises(ValueError, match=r"an image array must be \(H, W, 3\) RGB"):
        layer_maps(tiny, np.zeros((16, 16)), "b1")
    with pytest.raises(ValueError, match="stimulus 'nope' not in"):
        layer_maps(tiny, stimuli, "b1", stimulus="nope")
    with pytest.raises(ValueError, match="stimulus position 5 out of range for 3 stimuli"):
        layer_maps(tiny, stimuli, "b1", stimulus=5)
    with pytest.raises(ValueError, match="schedule needs n_steps >= 1 and 1 <= on_steps <= n_steps"):
        layer_maps(tiny, stimuli, "b1", n_steps=3, on_steps=5)
    with pytest.raises(ValueError, match=r"layer '1' outputs shape \(1, 3\), not channel maps"):
        layer_maps(nn.Sequential(nn.Flatten(), nn.Linear(768, 3)), stimuli, "1")


# ----------------------------------------------------------------------------- channel-map grid


def test_channel_map_grid_rows_are_channels_columns_are_steps(tiny, stimuli):
    maps = layer_maps(tiny, stimuli, "b2")  # (6, 8, 4, 4)
    fig = plot_channel_maps(maps, channels=[0, 3, 5], steps=[1, 2, 5])
    axes = image_axes(fig)
    assert len(axes) == 9
    grid = np.array(axes).reshape(3, 3)
    assert [ax.get_title() for ax in grid[0]] == ["t=1", "t=2", "t=5"]
    assert [ax.get_ylabel() for ax in grid[:, 0]] == ["ch 0", "ch 3", "ch 5"]
    for r, c in enumerate([0, 3, 5]):
        lims = {ax.images[0].get_clim() for ax in grid[r]}
        assert lims == {(float(maps[[1, 2, 5], c].min()), float(maps[[1, 2, 5], c].max()))}  # one scale per row
        for k, s in enumerate([1, 2, 5]):
            np.testing.assert_array_equal(grid[r, k].images[0].get_array(), maps[s, c])
    assert len(fig.axes) == 9 + 3  # a colorbar per row
    assert len(image_axes(plot_channel_maps(maps, channels=2))) == 2 * 6  # first 2 channels, every step


def test_channel_maps_bad_input():
    with pytest.raises(ValueError, match=r"maps must be \(time_step x channel x H x W\), got shape \(2, 3, 4\)"):
        plot_channel_maps(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"channels \[7\] out of range: there are 3"):
        plot_channel_maps(np.zeros((2, 3, 4, 4)), channels=[0, 7])
    with pytest.raises(ValueError, match=r"steps \[2\] out of range: there are 2"):
        plot_channel_maps(np.zeros((2, 3, 4, 4)), steps=[2])
    with pytest.raises(ValueError, match="maps hold non-finite values"):
        plot_channel_maps(np.full((2, 3, 4, 4), np.nan))


# ----------------------------------------------------------------------------- snapshots


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory):
    torch.manual_seed(0)
    tiny = Tiny()
    probes = torch.randn(2, 3, 16, 16)
    path = tmp_path_factory.mktemp("snapshots") / "snaps.h5"
    snaps = ActivationSnapshots(path, probes, every=5)
    for iteration in (0, 5, 10):
        snaps.snapshot(tiny, iteration)
        with torch.no_grad():  # "training": the representation changes between snapshots
            for p in tiny.parameters():
                p.add_(0.3 * torch.randn_like(p))
    return path


def test_snapshot_maps_put_iterations_in_columns(snapshot_file):
    its, data = read_snapshots(snapshot_file)
    fig = plot_snapshot_maps(snapshot_file, "b2", probes=[0, 1])
    axes = image_axes(fig)
    assert len(axes) == 2 * 3
    grid = np.array(axes).reshape(2, 3)
    assert [ax.get_title() for ax in grid[0]] == ["iter 0", "iter 5", "iter 10"]
    arr = data["b2"]  # (snapshot, probe, step, channel) channel means
    for r in range(2):
        for k in range(3):
            np.testing.assert_array_equal(grid[r, k].images[0].get_array(), arr[k, r].T)  # channel x step
    assert {ax.images[0].get_clim() for ax in axes} == {(float(arr[:, :2].min()), float(arr[:, :2].max()))}
    assert "spatial mean" in fig._suptitle.get_text()
    assert fig.axes[-1].get_ylabel() == "channel mean over space"
    # a subset of iterations, from the arrays read_snapshots returns
    fig2 = plot_snapshot_maps((its, data), "b1", iterations=[10, 0])
    axes2 = image_axes(fig2)
    assert [ax.get_title() for ax in axes2] == ["iter 10", "iter 0"]
    np.testing.assert_array_equal(axes2[0].images[0].get_array(), data["b1"][2, 0].T)


def test_snapshot_maps_bad_input(snapshot_file, tmp_path):
    with pytest.raises(ValueError, match=r"layer 'b9' not in the snapshots; layers: \['b1', 'b2'\]"):
        plot_snapshot_maps(snapshot_file, "b9")
    with pytest.raises(ValueError, match=r"iteration\(s\) \[7\] not in the snapshots; stored: \[0, 5, 10\]"):
        plot_snapshot_maps(snapshot_file, "b1", iterations=[0, 7])
    with pytest.raises(ValueError, match=r"probes \[4\] out of range: there are 2"):
        plot_snapshot_maps(snapshot_file, "b1", probes=4)
    with pytest.raises(ValueError, match="snapshot file not found"):
        plot_snapshot_maps(tmp_path / "missing.h5", "b1")
    with pytest.raises(ValueError, match="snapshots must be a snapshot file path or the"):
        plot_snapshot_maps([1, 2], "b1")
