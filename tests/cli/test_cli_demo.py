"""The end-to-end demo (``make demo``) in its quick form: real synthetic data, shipped weights, run
through the one pipeline (the demo is a zoo config)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from brainfit.cli import main
from brainfit.cli.demo import DEFAULT_CONFIG
from brainfit.compare import compare_models
from brainfit.models import list_pretrained
from brainfit.zoo import ZooConfig, read_results_folder

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ZooConfig.from_yaml(ROOT / DEFAULT_CONFIG, quick=True)
IDS = [m.id for m in CONFIG.models]

pytestmark = pytest.mark.skipif(not {m.model for m in CONFIG.models} <= set(list_pretrained()),
                                reason="the shipped mini-zoo weights (brainfit/weights) are missing")


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["demo", "--config", str(ROOT / DEFAULT_CONFIG), "--quick", "--out", str(out)]) == 0
    (out / "warnings.txt").write_text("\n".join(f"{w.category.__name__}: {w.message}" for w in caught))
    return out


def _scores(out, readout="per_bin"):
    return read_results_folder(out, readout=readout)["scores"]


def test_demo_alpha_grid_covers_the_penalties_its_fits_choose(demo_out):
    # the demo's grid (ridge_log10_alphas) reaches past every penalty its fits ask for: no layer of
    # any model sits at an edge of it (with 1e-2 .. 1e6, conv4/conv5 of the ConvRNN did); the fits'
    # warnings are kept in their manifests
    manifests = [json.loads(p.read_text()) for p in (demo_out / "results").glob("*/*/*.json")]
    assert len(manifests) == 2 * len(IDS)  # both readouts
    assert sorted(m["readout"] for m in manifests) == ["per_bin"] * len(IDS) + ["shared"] * len(IDS)
    assert not any("AlphaGridWarning" in w for m in manifests for w in m["warnings"]), manifests
    assert "AlphaGridWarning" not in (demo_out / "warnings.txt").read_text()
    zoo = json.loads((demo_out / "zoo.json").read_text())
    assert zoo["config"]["mapping"]["ridge_log10_alphas"] == [-2, 10]


def test_demo_writes_every_output(demo_out):
    zoo = json.loads((demo_out / "zoo.json").read_text())
    assert [m["id"] for m in zoo["config"]["models"]] == IDS
    assert zoo["config"]["splits"]["n_folds"] == 5  # the quick overrides were applied
    scores = _scores(demo_out)
    for name in IDS:
        for region in ("V4", "IT"):
            ds = scores[name][region]
            assert set(ds.region.values.astype(str)) == {region}
            assert ds.ceiled.dims == ("neuroid", "time_bin") and ds.sizes["time_bin"] == 19
    report = demo_out / "report" / "synthetic" / "per_bin"
    shared = _scores(demo_out, "shared")
    assert shared[IDS[0]]["IT"].attrs["shared_across_bins"] and (demo_out / "report" / "synthetic" / "shared" /
                                                                 "report.html").is_file()
    rows = list(csv.DictReader((report / "per_bin_scores.csv").open()))
    assert len(rows) == len(IDS) * 2 * 19
    paired = list(csv.DictReader((report / "comparison" / "per_bin.csv").open()))
    assert len(paired) == (len(IDS) - 1) * 2 * 19
    assert {r["control"] for r in paired} == set(IDS[1:]) and {r["model"] for r in paired} == {IDS[0]}
    board = list(csv.DictReader((report / "leaderboard.csv").open()))
    assert len(board) == len(IDS) * 2 * 3  # models x regions x windows (early, late, all)
    assert (report / "leaderboard.md").read_text().startswith("| rank | label |")
    captions = json.loads((report / "figures" / "captions.json").read_text())
    assert {"timecourse.png", "leaderboard.png", "neural.png", f"maps_{IDS[0]}.png", "readouts.png"} <= set(captions)
    assert {f"layers_{m}.png" for m in IDS} <= set(captions)
    for name in captions:
        assert (report / "figures" / name).stat().st_size > 10_000
    summary_text = (report / "summary.txt").read_text()
    assert "median ceiled score" in summary_text and "significant clusters" in summary_text
    provenance = json.loads((report / "provenance.json").read_text())
    assert [m["id"] for m in provenance["models"]] == IDS
    assert all(len(m["weights_sha256"]) == 64 for m in provenance["models"])
    assert provenance["splits"]["fingerprint"] == scores[IDS[0]]["V4"].attrs["splits"]["fingerprint"]
    assert len(provenance["dataset"]["sha256"]) == 64 and provenance["versions"]["torch"]
    html = (report / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(captions)
    assert provenance["dataset"]["sha256"] in html


def test_demo_scores_are_sane(demo_out):
    scores = _scores(demo_out)
    rnn, unrolled = scores["convrnn_small_rgc"]["IT"], scores["convrnn_small_rgc_unrolled"]["IT"]
    med = rnn.median_ceiled.values
    reliable_bins = rnn.n_reliable.values > 0
    assert np.isfinite(med[reliable_bins]).all()
    assert np.nanmax(med) < 1.5 and np.nanmean(med[reliable_bins]) > 0.05  # trained features predict IT
    # 60 ms after the image is gone the control without recurrence sees only gray: it predicts
    # nothing (r exactly 0 at every site), while the ConvRNN's state still carries the image
    late = rnn.time_bin_start.values >= 170
    assert np.nanmax(np.abs(unrolled.median_ceiled.values[late])) < 1e-6
    assert np.nanmean(med[late]) > 0.05
    c = compare_models(rnn, unrolled, n_permutations=500, n_bootstrap=200)
    d = c.per_bin
    # a contrast with a control that predicts nothing is trivially "significant": flagged, not tested
    assert d["zero_control"][late].all() and not d["significant_cluster"][late].any()
    assert not d["zero_control"][~late & reliable_bins].all()


def test_comparison_refuses_different_splits(demo_out):
    a = _scores(demo_out)["convrnn_small_rgc"]["V4"]
    b = a.copy()
    b.attrs = {**a.attrs, "splits": {**a.attrs["splits"], "fingerprint": "other"}}
    with pytest.raises(ValueError, match="same splits"):
        compare_models(a, b)


def test_compare_reads_the_demos_results_folder(demo_out, capsys):
    # `brainfit compare` on a folder the zoo pipeline wrote (the demo's): the same pairs, its own tables
    capsys.readouterr()
    assert main(["compare", str(demo_out), "--readout", "per_bin", "--baseline", "ff_small_wider_rgc",
                 "--n-permutations", "100",
                 "--n-bootstrap", "20", "--out", str(demo_out / "cmp"), "--no-report"]) == 0
    rows = list(csv.DictReader((demo_out / "cmp" / "comparison" / "per_bin.csv").open()))
    assert {(r["model"], r["control"]) for r in rows} == {(m, "ff_small_wider_rgc") for m in IDS[:2]}
    assert "ConvRNN (RGC) vs feedforward, wider (matched params), IT" in capsys.readouterr().out


def test_demo_zoo_report_gives_the_same_report_without_the_hook(demo_out, tmp_path):
    # the demo config is an ordinary zoo config: `brainfit zoo report` on it reads the same results
    import shutil

    from brainfit.zoo.report import write_zoo_report

    shutil.copytree(demo_out, tmp_path / "z", ignore=shutil.ignore_patterns("report"))
    result = write_zoo_report(ZooConfig.from_yaml(ROOT / DEFAULT_CONFIG, quick=True, out=tmp_path / "z"))
    board = result["leaderboard"]
    again = board[board["readout"] == "per_bin"].set_index(["model", "region", "window"])["score"]
    first = (csv.DictReader((demo_out / "report" / "synthetic" / "per_bin" / "leaderboard.csv").open()))
    for r in first:
        assert again.loc[(r["model"], r["region"], r["window"])] == pytest.approx(float(r["score"]), abs=1e-12)
