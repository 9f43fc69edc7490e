"""ScoringConfig: validation naming the field, overrides, and the round trip through score attrs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
from scoring_world import BINS, acts, make_world

from brainfit.scoring import (
    ScoringConfig,
    fit_and_score,
    load_scores,
    save_scores,
    score_predictions,
)


@pytest.mark.parametrize("field,value,error,message", [
    ("ci", 1.5, ValueError, r"ScoringConfig.ci must be in \(0, 1\), got 1.5"),
    ("ci", 0.0, ValueError, r"ScoringConfig.ci must be in \(0, 1\)"),
    ("ci", "high", TypeError, "ScoringConfig.ci must be a number"),
    ("n_bootstrap", -1, ValueError, "ScoringConfig.n_bootstrap must be >= 0, got -1"),
    ("n_bootstrap", 2.5, TypeError, "ScoringConfig.n_bootstrap must be an int"),
    ("n_ceiling_splits", 0, ValueError, "ScoringConfig.n_ceiling_splits must be >= 1, got 0"),
    ("n_bootstrap_splits", -2, ValueError, "ScoringConfig.n_bootstrap_splits must be >= 0"),
    ("seed", -3, ValueError, "ScoringConfig.seed must be >= 0"),
    ("seed", True, TypeError, "ScoringConfig.seed must be an int"),
    ("reliability_threshold", float("nan"), ValueError, "ScoringConfig.reliability_threshold must not be NaN"),
])
def test_validation_names_the_field(field, value, error, message):
    with pytest.raises(error, match=message):
        ScoringConfig(**{field: value})


def test_defaults_frozen_and_normalised():
    cfg = ScoringConfig()
    assert cfg.to_dict() == {"n_ceiling_splits": 100, "reliability_threshold": 0.3, "n_bootstrap": 500,
                             "n_bootstrap_splits": 10, "ci": 0.95, "seed": 0, "r_over": "folds",
                             "min_fold_stimuli": 10}
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1
    odd = ScoringConfig(seed=np.int64(4), ci=np.float32(0.5), reliability_threshold=0)
    assert type(odd.seed) is int and type(odd.ci) is float and odd.reliability_threshold == 0.0
    assert ScoringConfig.from_dict(odd.to_dict()) == odd


def test_overrides_and_unknown_settings():
    base = ScoringConfig(n_bootstrap=50, seed=2)
    assert ScoringConfig.resolve(base, seed=5) == ScoringConfig(n_bootstrap=50, seed=5)
    assert ScoringConfig.resolve(None) == ScoringConfig()
    with pytest.raises(TypeError, match=r"unknown scoring setting\(s\) \['n_boot', 'sed'\]"):
        ScoringConfig.resolve(base, n_boot=3, sed=1)
    with pytest.raises(TypeError, match=r"unknown scoring setting\(s\) \['bogus'\]"):
        ScoringConfig.from_dict({"seed": 1, "bogus": 2})
    with pytest.raises(TypeError, match="config must be a ScoringConfig"):
        ScoringConfig.resolve({"seed": 1})
    with pytest.raises(ValueError, match=r"lack the scoring setting\(s\) \['ci', 'seed'\]"):
        ScoringConfig.from_attrs({k: v for k, v in base.to_dict().items() if k not in ("ci", "seed")})


def test_config_and_keyword_settings_give_identical_scores_and_round_trip(tmp_path):
    ids, feats, _signal, neural = make_world(n_stim=100, n_neur=4, seed=10)  # 10 per fold with 10 folds
    cfg = ScoringConfig(n_ceiling_splits=20, n_bootstrap=30, n_bootstrap_splits=4, ci=0.9, seed=3,
                        reliability_threshold=0.1, min_fold_stimuli=8)
    by_config = fit_and_score(acts(ids, feats), neural, config=cfg, progress=False)
    by_kwargs = fit_and_score(acts(ids, feats), neural, progress=False, **cfg.to_dict())
    xr.testing.assert_identical(by_config, by_kwargs)
    # keyword settings override the config's fields
    mixed = fit_and_score(acts(ids, feats), neural, config=dataclasses.replace(cfg, seed=0), seed=3, progress=False)
    xr.testing.assert_identical(mixed, by_config)
    assert ScoringConfig.from_attrs(by_config.attrs) == cfg
    # the flat attr keys score files have always had
    for key, value in cfg.to_dict().items():
        assert by_config.attrs[key] == value
    loaded = load_scores(save_scores(by_config, tmp_path / "scores.nc"))
    assert ScoringConfig.from_attrs(loaded.attrs) == cfg
    with pytest.raises(TypeError, match=r"unknown scoring setting\(s\) \['n_bootstraps'\]"):
        fit_and_score(acts(ids, feats), neural, n_bootstraps=10, progress=False)
    with pytest.raises(ValueError, match="ScoringConfig.ci must be in"):
        fit_and_score(acts(ids, feats), neural, ci=95, progress=False)


def test_score_predictions_takes_the_same_config():
    ids, _feats, signal, neural = make_world(n_stim=30, n_neur=3, seed=4)
    pred = xr.DataArray(signal, dims=("presentation", "neuroid", "time_bin"),
                        coords={"stimulus_id": ("presentation", ids),
                                "neuroid_id": ("neuroid", neural.neuroid_id.values),
                                "time_bin_start": ("time_bin", BINS[0]), "time_bin_end": ("time_bin", BINS[1])})
    cfg = ScoringConfig(n_bootstrap=20, seed=7, n_ceiling_splits=10)
    a = score_predictions(pred, neural, config=cfg)
    b = score_predictions(pred, neural, n_bootstrap=20, seed=7, n_ceiling_splits=10)
    xr.testing.assert_identical(a, b)
    assert ScoringConfig.from_attrs(a.attrs) == cfg
    with pytest.raises(TypeError, match=r"unknown scoring setting\(s\) \['folds'\]"):
        score_predictions(pred, neural, folds=3)
