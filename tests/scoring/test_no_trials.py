"""Scoring data without single trials: raw r, NaN ceilings said so in the attrs, or a ceiling given by the user."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from brainfit.assembly import average_repetitions
from brainfit.mapping import make_splits
from brainfit.scoring import NO_CEILING_NOTE, fit_and_score, load_scores, save_scores, score_predictions
from scoring_world import acts, make_world


@pytest.fixture(scope="module")
def world():
    ids, feats, signal, neural = make_world(n_stim=120, n_neur=6, noise=1.0, seed=3)
    return ids, feats, neural


def test_repeat_averaged_scores_raw_r_and_nan_ceiled(world):
    ids, feats, neural = world
    avg = average_repetitions(neural)
    splits = make_splits(avg, n_folds=5, seed=0)
    with_trials = fit_and_score(acts(ids, feats), neural, splits=splits, n_bootstrap=50, progress=False)
    averaged = fit_and_score(acts(ids, feats), avg, splits=splits, n_bootstrap=50, progress=False)
    # the fit sees the same averaged responses, so r is identical; only the ceiling side differs
    np.testing.assert_allclose(averaged["r"].values, with_trials["r"].values, rtol=0, atol=1e-12)
    assert np.isnan(averaged["ceiling"].values).all() and np.isnan(averaged["ceiled"].values).all()
    assert np.isnan(averaged["median_ceiled"].values).all() and np.isnan(averaged["median_ceiled_ci"].values).all()
    assert "split_half_r" not in averaged
    assert averaged.attrs["ceiling_source"] == "none" and averaged.attrs["ceiling_note"] == NO_CEILING_NOTE
    # reliability is not assessed: every neuroid enters the medians of r
    assert averaged["reliable"].values.all() and (averaged["n_reliable"].values == 6).all()
    np.testing.assert_allclose(averaged["median_r"].values, np.median(averaged["r"].values, axis=0))
    ci = averaged["median_r_ci"].values
    assert np.isfinite(ci).all() and (ci[..., 0] <= averaged["median_r"].values + 1e-12).all()
    assert (averaged["median_r"].values > 0.5).all()  # the linear world is learnable


def test_repeat_averaged_score_predictions_round_trip(world, tmp_path):
    ids, feats, neural = world
    avg = average_repetitions(neural)
    pred = avg + xr.DataArray(np.random.default_rng(0).standard_normal(avg.shape), dims=avg.dims)
    ds = score_predictions(pred, avg, n_bootstrap=20)
    assert ds.attrs["ceiling_source"] == "none" and np.isnan(ds["ceiled"].values).all()
    back = load_scores(save_scores(ds, tmp_path / "s.nc"))
    assert back.attrs["ceiling_source"] == "none"
    np.testing.assert_allclose(back["r"].values, ds["r"].values)


def test_external_reliability_per_neuroid_for_one_window(world):
    ids, feats, neural = world
    avg = average_repetitions(neural).isel(time_bin=[0])  # one response window
    nids = avg.coords["neuroid_id"].values
    rel = xr.DataArray(np.linspace(0.2, 0.9, len(nids))[::-1], dims=("neuroid",), coords={"neuroid_id": ("neuroid", nids[::-1])})
    ds = score_predictions(avg, avg, ceiling=rel, n_bootstrap=0)  # jumbled order: matched by neuroid_id
    want = np.linspace(0.2, 0.9, len(nids))
    np.testing.assert_allclose(ds["ceiling"].values, want[:, None])
    np.testing.assert_allclose(ds["ceiled"].values, 1.0 / ds["ceiling"].values)  # r = 1 against itself
    assert ds.attrs["ceiling_source"] == "given"
    # below the threshold: unreliable, kept and counted, not hidden
    assert (ds["n_unreliable"].values == (want < ds.attrs["reliability_threshold"]).sum()).all()


def test_external_reliability_must_cover_every_neuroid_and_fit_the_bins(world):
    ids, feats, neural = world
    avg = average_repetitions(neural)
    nids = avg.coords["neuroid_id"].values
    rel = xr.DataArray(np.full(3, 0.5), dims=("neuroid",), coords={"neuroid_id": ("neuroid", nids[:3])})
    with pytest.raises(ValueError, match=r"ceiling neuroids do not match the neural assembly: 3 missing from the ceiling \('n3', 'n4', 'n5'\)"):
        score_predictions(avg.isel(time_bin=[0]), avg.isel(time_bin=[0]), ceiling=rel, n_bootstrap=0)
    full = xr.DataArray(np.full(len(nids), 0.5), dims=("neuroid",), coords={"neuroid_id": ("neuroid", nids)})
    with pytest.raises(ValueError, match=rf"a ceiling with dims \('neuroid',\) applies only to data with one time bin; "
                                         rf"these data have {avg.sizes['time_bin']}"):
        score_predictions(avg, avg, ceiling=full, n_bootstrap=0)
