"""Paired comparisons and score tables (brainfit.compare), on score Datasets built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import wilcoxon

from brainfit.compare import check_paired, fdr_bh, paired_differences, paired_table, per_bin_table


def _scores(values, reliable=None, fingerprint="f0", ids=None, starts=None):
    values = np.asarray(values, dtype=float)
    n, t = values.shape
    starts = np.arange(t) * 10.0 + 70 if starts is None else np.asarray(starts, float)
    ids = [f"n{i}" for i in range(n)] if ids is None else ids
    reliable = np.ones((n, t), bool) if reliable is None else reliable
    med = np.nanmedian(np.where(reliable, values, np.nan), axis=0)
    return xr.Dataset(
        {"ceiled": (("neuroid", "time_bin"), values), "r": (("neuroid", "time_bin"), np.sqrt(np.abs(values))),
         "reliable": (("neuroid", "time_bin"), reliable),
         "median_ceiled": ("time_bin", med), "median_r": ("time_bin", med / 2),
         "median_ceiled_ci": (("time_bin", "bound"), np.stack([med - 0.1, med + 0.1], axis=1)),
         "n_reliable": ("time_bin", reliable.sum(0))},
        coords={"neuroid_id": ("neuroid", ids), "time_bin_start": ("time_bin", starts),
                "time_bin_end": ("time_bin", starts + 10), "bound": ["low", "high"]},
        attrs={"splits": {"fingerprint": fingerprint}})


def _bh_brute_force(p):
    """Benjamini-Hochberg by its definition: adj_i = min over j with p_j >= p_i of p_j * m / rank_j."""
    m = len(p)
    ranks = np.argsort(np.argsort(p)) + 1
    return np.array([min(1.0, min(p[j] * m / ranks[j] for j in range(m) if p[j] >= p[i])) for i in range(m)])


def test_fdr_bh_matches_the_definition_and_keeps_nans_out():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 17)
    np.testing.assert_allclose(fdr_bh(p), _bh_brute_force(p), rtol=1e-12)
    with_nan = np.concatenate([p[:5], [np.nan], p[5:]])
    out = fdr_bh(with_nan)
    assert np.isnan(out[5])
    np.testing.assert_allclose(np.delete(out, 5), _bh_brute_force(p), rtol=1e-12)
    assert np.isnan(fdr_bh([np.nan, np.nan])).all()


def test_paired_differences_against_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(0.3, 0.1, (40, 4))
    b = a - np.array([0.1, 0.0, -0.05, 0.2]) + rng.normal(0, 0.05, (40, 4))
    b[:, 1] = a[:, 1]  # identical in bin 1: no test
    reliable = np.ones((40, 4), bool)
    reliable[:10, 3] = False
    d = paired_differences(_scores(a, reliable), _scores(b, reliable))
    assert isinstance(d, pd.DataFrame) and list(d["time_bin_start"]) == [70, 80, 90, 100]
    diff = a - b
    for t in (0, 2, 3):
        x = diff[reliable[:, t], t]
        assert d["n"][t] == len(x)
        assert d["median_diff"][t] == pytest.approx(np.median(x))
        assert d["frac_higher"][t] == pytest.approx(np.mean(x > 0))
        assert d["p"][t] == pytest.approx(wilcoxon(x).pvalue)
    assert np.isnan(d["p"][1]) and d["median_diff"][1] == 0
    np.testing.assert_allclose(d["p_fdr"].to_numpy()[[0, 2, 3]], _bh_brute_force(d["p"].to_numpy()[[0, 2, 3]]))
    assert d["median_diff"][0] > 0 and d["median_diff"][3] > 0 and d["median_diff"][2] < 0


def test_pairing_is_refused_with_the_reason():
    a = _scores(np.ones((8, 3)))
    with pytest.raises(ValueError, match="same splits"):
        check_paired(a, _scores(np.ones((8, 3)), fingerprint="other"))
    with pytest.raises(ValueError, match="same neuroids"):
        check_paired(a, _scores(np.ones((8, 3)), ids=[f"n{i}" for i in reversed(range(8))]))
    with pytest.raises(ValueError, match="same time bins"):
        check_paired(a, _scores(np.ones((8, 3)), starts=[0, 10, 20]))
    with pytest.raises(ValueError, match="metric must be"):
        paired_differences(a, a, metric="r2")


def test_tables_are_tidy():
    rng = np.random.default_rng(2)
    scores = {m: {r: _scores(rng.normal(0.2, 0.1, (12, 5))) for r in ("V4", "IT")} for m in ("rnn", "ff", "ff2")}
    table = per_bin_table(scores)
    assert len(table) == 3 * 2 * 5
    assert list(table.columns) == ["model", "region", "time_bin_start", "time_bin_end", "median_ceiled", "ci_low",
                                   "ci_high", "median_r", "n_reliable"]
    row = table[(table.model == "ff") & (table.region == "IT")].iloc[2]
    assert row.median_ceiled == pytest.approx(float(scores["ff"]["IT"].median_ceiled[2]))
    assert row.ci_high - row.ci_low == pytest.approx(0.2)
    paired = paired_table(scores, "rnn", ["ff", "ff2"])
    assert len(paired) == 2 * 2 * 5 and set(paired.control) == {"ff", "ff2"}
    with pytest.raises(ValueError, match="not among the scores"):
        paired_table(scores, "rnn", ["cnn"])
    with pytest.raises(ValueError, match="empty"):
        per_bin_table({})
