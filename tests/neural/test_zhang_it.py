"""Zhang et al. 2011 IT on the real rasters: binned counts match a hand count, and object identity is
decodable from ~100 ms after onset, not before.

Skips with the reason when the data root lacks ``zhang_desimone2011_it``.
"""

from __future__ import annotations

import numpy as np
import pytest

from brainfit.data import data_root, load_dataset
from brainfit.neural import decode_time_resolved, psth, split_half_reliability

FOLDER = "zhang_desimone2011_it"


def _root():
    root = data_root()
    if root is None or not (root / FOLDER).is_dir():
        pytest.skip(f"real data not found: no {FOLDER} folder under the data root (set BRAINFIT_DATA)")
    return root


@pytest.fixture(scope="module")
def zhang():
    root = _root()
    _, neural = load_dataset("zhang2011_it", bin_start=-100, bin_stop=300, bin_width=10)
    return root, neural


@pytest.mark.shared_data
def test_binned_counts_match_a_hand_count_of_the_rasters(zhang):
    root, neural = zhang
    assert neural.shape == (21 * 19, 132, 40)
    raw = np.load(root / FOLDER / "zhang_desimone_7object_it_rasters.npz", allow_pickle=False)
    spikes, edges, unit, obj, pos = (raw[k] for k in ("spikes", "bin_edges_ms", "neuron", "stimulus_id", "position"))
    sites = raw["site_name"].astype(str)
    starts = neural.time_bin_start.values
    total = 0
    for u, o, p, rep in [(0, "car", "upper", 0), (17, "face", "middle", 5), (64, "kiwi", "lower", 18),
                         (131, "hand", "upper", 9), (88, "flower", "middle", 12)]:
        # pseudo-trial r of a condition is the unit's r-th trial of it in file order (the loader's rule)
        row = np.flatnonzero((unit == u) & (obj == o) & (pos == p))[rep]
        want = [int(spikes[row, (edges[:-1] >= lo) & (edges[:-1] < lo + 10)].sum()) for lo in starts]
        got = neural.isel(presentation=(neural.stimulus_id.values == f"{o}_{p}") & (neural.repetition.values == rep),
                          neuroid=neural.neuroid_id.values == sites[u])
        assert got.shape == (1, 1, 40)
        assert got.values.ravel().tolist() == want, (u, o, p, rep)
        total += sum(want)
    assert total >= 10  # the hand-counted trials hold spikes, so an all-zero assembly would fail
    # whole-window totals agree for one unit and condition: 19 pseudo-trials, every bin
    rows = np.flatnonzero((unit == 3) & (obj == "guitar") & (pos == "lower"))[:19]
    window = (edges[:-1] >= -100) & (edges[:-1] < 300)
    sel = neural.isel(presentation=neural.stimulus_id.values == "guitar_lower",
                      neuroid=np.flatnonzero(neural.neuroid_id.values == sites[3])[0])
    assert float(sel.values.sum()) == int(spikes[rows][:, window].sum())


@pytest.mark.shared_data
def test_object_decoding_rises_after_onset(zhang):
    _, neural = zhang
    res = decode_time_resolved(neural, label="category", n_permutations=100, seed=0)
    starts = res.time_bin_start.values
    acc = res.accuracy.values
    chance = res.attrs["chance"]
    assert chance == pytest.approx(1 / 7) and res.attrs["n_trials"] == 399
    assert 60 <= res.attrs["onset_ms"] <= 200, res.attrs["onset_ms"]
    late = (starts >= 150) & (starts < 250)
    assert acc[late].mean() > 2 * chance and acc[late].min() > 1.4 * chance, acc[late]
    assert res.significant.values[late].all()
    early = starts < 50
    assert abs(acc[early].mean() - chance) < 0.03, acc[early]
    assert not res.significant.values[early].any()
    assert 0.3 < res.attrs["peak_accuracy"] < 0.7 and 100 <= res.attrs["peak_ms"] <= 250


@pytest.mark.shared_data
def test_rates_and_reliability_rise_after_onset(zhang):
    _, neural = zhang
    rates = psth(neural, by="category").rate.sel(region="IT")
    starts = rates.time_bin_start.values
    base = rates.values[:, starts < 50].mean()
    assert 2 < base < 50  # IT baseline rates, spikes/s
    assert rates.values[:, (starts >= 150) & (starts < 250)].mean() > 1.1 * base  # population mean: modest rise
    rel = split_half_reliability(neural, n_splits=20, seed=0)
    med = rel["median"].sel(summary_region="IT").values
    assert med[(starts >= 100) & (starts < 250)].mean() > med[starts < 50].mean() + 0.1
