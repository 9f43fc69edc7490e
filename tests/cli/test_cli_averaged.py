"""Bring-your-own repeat-averaged data end to end: files on disk -> ``brainfit fit`` -> ``brainfit compare``.

No single trials, so no ceiling: the fit prints raw r, the score files say so, and ``compare``
switches to raw r (the leaderboard's ``metric`` column), ceiled scores staying NaN.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from brainfit.assembly import average_repetitions, select_region
from brainfit.cli import main
from brainfit.zoo import read_results_folder
from brainfit.data import load_dataset

FAST = ["--n-folds", "4", "--projection-width", "64", "--n-bootstrap", "50", "--quiet", "--layers", "conv3", "conv4"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The small synthetic set's IT responses, averaged over repetitions and one 100 ms window, as
    a .npy file, a metadata CSV and a folder of PNG images."""
    root = tmp_path_factory.mktemp("byo")
    stimuli, neural = load_dataset("synthetic", images_per_object=2, n_v4=8, n_it=16)
    avg = average_repetitions(select_region(neural, "IT"))
    window = avg.isel(time_bin=slice(3, 13)).mean("time_bin")  # 100-200 ms
    np.save(root / "responses.npy", window.values.astype(np.float32))
    with (root / "meta.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stimulus_id", "category"])
        w.writerows(zip(window.coords["stimulus_id"].values, window.coords["category"].values))
    (root / "images").mkdir()
    for sid in window.coords["stimulus_id"].values:
        Image.fromarray(stimuli.load_image(str(sid))).save(root / "images" / f"{sid}.png")
    return root


def test_fit_and_compare_repeat_averaged_files(files, capsys):
    data = ["--dataset", "files", "--dataset-set", f"responses={files / 'responses.npy'}",
            f"metadata={files / 'meta.csv'}", f"images={files / 'images'}", "region=IT", "time_bin_start=100",
            "time_bin_end=200"]
    out = files / "out"
    assert main(["fit", "--model", "ff_small_wider_rgc", "--pretrained", *data, *FAST, "--out", str(out)]) == 0
    assert main(["fit", "--model", "ff_small_wider_rgc", "--random-init", "--name", "untrained", *data, *FAST,
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "IT: median raw r (no ceiling: no single trials)" in printed
    ds = read_results_folder(out)["scores"]["ff_small_wider_rgc"]["IT"]
    assert ds.attrs["ceiling_source"] == "none" and np.isnan(ds["ceiled"].values).all()
    assert float(ds["median_r"].values[0]) > 0.3 and ds["reliable"].values.all()
    assert main(["compare", str(out), "--baseline", "untrained", "--n-permutations", "100", "--n-bootstrap", "50",
                 "--window", "window=100:200"]) == 0
    board = {r["model"]: r for r in csv.DictReader((out / "leaderboard.csv").open())}
    assert {r["metric"] for r in board.values()} == {"r"}
    assert float(board["ff_small_wider_rgc"]["score"]) == pytest.approx(float(ds["median_r"].values[0]), abs=1e-6)
    rows = list(csv.DictReader((out / "comparison" / "per_bin.csv").open()))
    assert len(rows) == 1 and rows[0]["p"] != ""
    assert "median raw r over all sites (no ceiling" in (out / "summary.txt").read_text()
    assert (out / "report.html").is_file()
    # asking for ceiled scores of data without a ceiling is refused, naming the remedy
    assert main(["compare", str(out), "--baseline", "untrained", "--metric", "ceiled", "--n-permutations", "100",
                 "--window", "window=100:200"]) == 2
    assert "have no ceiling (data without single trials)" in capsys.readouterr().err
