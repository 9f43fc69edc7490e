"""Reductions: random projections (determinism, Johnson-Lindenstrauss), PCA, pooling."""

import numpy as np
import pytest
import torch

from brainfit.activations import PCAProjection, RandomProjection, extract


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
