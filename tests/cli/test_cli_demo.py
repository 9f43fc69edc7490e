"""The end-to-end demo (``make demo``) in its quick form: real synthetic data, shipped weights."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from brainfit.cli import main
from brainfit.cli.demo import DEFAULT_CONFIG, DemoConfig
from brainfit.compare import compare_models
from brainfit.models import list_pretrained
from brainfit.scoring import load_scores

ROOT = Path(__file__).resolve().parents[2]
CONFIG = DemoConfig.from_yaml(ROOT / DEFAULT_CONFIG)
NAMES = [m.name for m in CONFIG.models]

pytestmark = pytest.mark.skipif(not set(NAMES) <= set(list_pretrained()),
                                reason="the shipped mini-zoo weights (brainfit/weights) are missing")


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["demo", "--config", str(ROOT / DEFAULT_CONFIG), "--quick", "--out", str(out),
                     "--no-progress"]) == 0
    (out / "warnings.txt").write_text("\n".join(f"{w.category.__name__}: {w.message}" for w in caught))
    return out


def test_demo_alpha_grid_covers_the_penalties_its_fits_choose(demo_out):
    # the demo's grid (ridge_log10_alphas) reaches past every penalty its fits ask for: no layer of
    # any model sits at an edge of it (with the library default 1e-2 .. 1e6, conv4/conv5 of the
    # ConvRNN did)
    caught = (demo_out / "warnings.txt").read_text()
    assert "AlphaGridWarning" not in caught, caught
    assert json.loads((demo_out / "summary.json").read_text())["config"]["ridge_log10_alphas"] == [-2, 10]


def test_demo_writes_every_output(demo_out):
    summary = json.loads((demo_out / "summary.json").read_text())
    assert [m["name"] for m in summary["models"]] == NAMES
    assert summary["config"]["n_folds"] == CONFIG.quick["n_folds"]  # the quick overrides were applied
    for name in NAMES:
        for region in ("V4", "IT"):
            ds = load_scores(demo_out / "scores" / f"{name}_{region}.nc")
            assert set(ds.region.values.astype(str)) == {region}
            assert ds.ceiled.dims == ("neuroid", "time_bin") and ds.sizes["time_bin"] == 19
    rows = list(csv.DictReader((demo_out / "per_bin_scores.csv").open()))
    assert len(rows) == len(NAMES) * 2 * 19
    paired = list(csv.DictReader((demo_out / "comparison" / "per_bin.csv").open()))
    assert len(paired) == (len(NAMES) - 1) * 2 * 19
    assert {r["control"] for r in paired} == set(NAMES[1:]) and {r["model"] for r in paired} == {NAMES[0]}
    board = list(csv.DictReader((demo_out / "leaderboard.csv").open()))
    assert len(board) == len(NAMES) * 2 * 3  # models x regions x windows (early, late, all)
    assert (demo_out / "leaderboard.md").read_text().startswith("| rank | label |")
    captions = json.loads((demo_out / "figures" / "captions.json").read_text())
    assert {"timecourse.png", "leaderboard.png", "neural.png"} <= set(captions)
    for name in captions:
        assert (demo_out / "figures" / name).stat().st_size > 10_000
    summary_text = (demo_out / "summary.txt").read_text()
    assert "median ceiled score" in summary_text and "significant clusters" in summary_text
    provenance = json.loads((demo_out / "provenance.json").read_text())
    assert [m["name"] for m in provenance["models"]] == NAMES
    assert all(len(m["weights_sha256"]) == 64 for m in provenance["models"])
    assert provenance["splits"]["fingerprint"] == summary["splits"]["fingerprint"]
    assert len(provenance["dataset"]["sha256"]) == 64 and provenance["versions"]["torch"]
    html = (demo_out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(captions)
    assert provenance["dataset"]["sha256"] in html


def test_demo_scores_are_sane(demo_out):
    def load(name, region):
        return load_scores(demo_out / "scores" / f"{name}_{region}.nc")

    rnn, unrolled = load("convrnn_small_rgc", "IT"), load("convrnn_small_rgc_unrolled", "IT")
    med = rnn.median_ceiled.values
    reliable_bins = rnn.n_reliable.values > 0
    assert np.isfinite(med[reliable_bins]).all()
    assert np.nanmax(med) < 1.5 and np.nanmean(med[reliable_bins]) > 0.05  # trained features predict IT
    # 60 ms after the image is gone the control without recurrence sees only gray: it scores 0,
    # while the ConvRNN's state still carries the image
    late = rnn.time_bin_start.values >= 170
    assert np.nanmax(np.abs(unrolled.median_ceiled.values[late])) < 1e-6
    assert np.nanmean(med[late]) > 0.05
    c = compare_models(rnn, unrolled, n_permutations=500, n_bootstrap=200)
    d = c.per_bin
    assert np.nanmedian(d["diff"][late]) > 0 and d["significant_cluster"][late].all()
    assert (d["ci_low"][late] > 0).all()  # stimulus bootstrap from the stored predictions


def test_comparison_refuses_different_splits(demo_out):
    a = load_scores(demo_out / "scores" / "convrnn_small_rgc_V4.nc")
    b = a.copy()
    b.attrs = {**a.attrs, "splits": {**a.attrs["splits"], "fingerprint": "other"}}
    with pytest.raises(ValueError, match="same splits"):
        compare_models(a, b)


def test_demo_yaml_holds_the_built_in_defaults():
    # `make demo` reads the YAML; an installed brainfit without the project folder uses the defaults
    assert CONFIG == DemoConfig()


def test_demo_config_errors_name_the_setting(tmp_path):
    bad = tmp_path / "demo.yaml"
    bad.write_text("n_foldz: 3\n")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['n_foldz'\]"):
        DemoConfig.from_yaml(bad)
    bad.write_text("models: [{name: a, label: A, temporal_map: {kind: sideways}}, "
                   "{name: b, label: B, temporal_map: {kind: constant}}]\n")
    with pytest.raises(ValueError, match="unknown temporal map kind 'sideways'"):
        DemoConfig.from_yaml(bad)
    with pytest.raises(ValueError, match=r"n_folds=1 \(expected an int >= 2\)"):
        DemoConfig(n_folds=1)
    with pytest.raises(FileNotFoundError, match="demo config not found"):
        DemoConfig.from_yaml(tmp_path / "absent.yaml")
