"""``brainfit fit`` -> ``brainfit compare`` -> ``brainfit report`` end to end on a small synthetic set."""

from __future__ import annotations

import csv
import json

import pytest

from brainfit.cli import main
from brainfit.scoring import load_scores

DATA = ["--dataset", "synthetic", "--dataset-set", "images_per_object=2", "n_v4=8", "n_it=16"]
FAST = ["--n-folds", "4", "--projection-width", "64", "--n-bootstrap", "50", "--quiet"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    cache = str(out / "cache")
    assert main(["fit", "--model", "ff_small_wider_rgc", "--pretrained", *DATA, *FAST, "--layers", "conv3", "conv4",
                 "--label", "feedforward", "--out", str(out), "--cache-dir", cache]) == 0
    assert main(["fit", "--model", "ff_small_wider_rgc", "--random-init", "--name", "ff_untrained", *DATA, *FAST,
                 "--layers", "conv3", "conv4", "--out", str(out), "--cache-dir", cache]) == 0
    return out


def test_fit_writes_paired_results_in_the_zoo_layout(fitted, capsys):
    from brainfit.zoo import read_results_folder

    found = read_results_folder(fitted)
    assert found["dataset"] == "synthetic" and sorted(found["scores"]) == ["ff_small_wider_rgc", "ff_untrained"]
    assert sorted(found["fits"]) == ["ff_small_wider_rgc", "ff_untrained"]
    assert all(sorted(by) == ["IT", "V4"] for by in found["scores"].values())
    a, b = found["scores"]["ff_small_wider_rgc"]["IT"], found["scores"]["ff_untrained"]["IT"]
    assert a.attrs["splits"]["fingerprint"] == b.attrs["splits"]["fingerprint"]  # both fits drew the same folds
    assert a.attrs["model"]["label"] == "feedforward" and a.attrs["model"]["temporal_map"]["kind"] == "constant"
    assert b.attrs["model"]["weights"] == "random" and a.attrs["region"] == "IT"
    assert a["prediction"].dims == ("presentation", "neuroid", "time_bin") and "response" in a
    assert len(a.attrs["dataset"]["sha256"]) == 64
    assert any((fitted / "cache").iterdir())  # --cache-dir holds the activations


def test_compare_and_report(fitted, capsys):
    capsys.readouterr()
    assert main(["compare", str(fitted), "--baseline", "ff_untrained", "--n-permutations", "200",
                 "--n-bootstrap", "100", "--window", "early=70:150", "late=150:"]) == 0
    printed = capsys.readouterr().out
    assert "feedforward vs ff_untrained, IT" in printed and f"report: {fitted / 'report.html'}" in printed
    rows = list(csv.DictReader((fitted / "comparison" / "per_bin.csv").open()))
    assert {(r["model"], r["control"]) for r in rows} == {("ff_small_wider_rgc", "ff_untrained")}
    board = list(csv.DictReader((fitted / "leaderboard.csv").open()))
    assert {r["window"] for r in board} == {"early", "late"}
    prov = json.loads((fitted / "provenance.json").read_text())
    assert prov["command"].startswith("brainfit compare") and len(prov["models"]) == 2
    assert (fitted / "figures" / "layers_ff_small_wider_rgc.png").exists()
    assert main(["report", str(fitted), "--out", str(fitted / "again.html")]) == 0
    assert (fitted / "again.html").read_text().count("data:image/png;base64,") >= 3


def test_bad_input_is_named(fitted, tmp_path, capsys):
    capsys.readouterr()
    assert main(["compare", str(fitted), "--baseline", "nope"]) == 2
    assert "--baseline 'nope' is not among the scored models" in capsys.readouterr().err
    assert main(["compare", str(fitted), "--baseline", "ff_untrained", "--window", "early"]) == 2
    assert "expected NAME=START:END" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "absent"), "--baseline", "x"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["fit", "--model", "ff_small_wider_rgc", *DATA, *FAST, "--regions", "V1",
                 "--out", str(tmp_path / "x")]) == 2
    assert "region(s) ['V1'] not in the data; regions present: ['IT', 'V4']" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing half-written
    assert main(["fit", "--model", "ff_small_wider_rgc", *DATA, *FAST, "--layers", "conv9",
                 "--out", str(tmp_path / "x")]) == 2
    assert "layer(s) ['conv9'] not in the model" in capsys.readouterr().err
    assert main(["fit", "--model", "ff_small_wider_rgc", *DATA, *FAST, "--splits", str(tmp_path / "nope.json"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "nope.json" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["compare", str(fitted), "--baseline", "ff_untrained", "--regions", "V1",
                 "--out", str(tmp_path / "c0")]) == 2
    assert "has no scores for region(s) ['V1']" in capsys.readouterr().err
    # a model fitted on other splits cannot be paired
    other = tmp_path / "other"
    assert main(["fit", "--model", "ff_small_wider_rgc", "--name", "ff_other", *DATA, *FAST, "--splits-seed", "3",
                 "--layers", "conv4", "--out", str(other)]) == 0
    capsys.readouterr()
    assert main(["compare", str(fitted), str(other), "--baseline", "ff_untrained", "--out", str(tmp_path / "c")]) == 2
    assert "same splits" in capsys.readouterr().err
