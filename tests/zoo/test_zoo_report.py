"""``brainfit zoo report``: leaderboard, per-timestep curves, contrasts and the HTML report of a finished
zoo (checked in a real headless browser), a refused or partial report of an unfinished one, and the
``brainfit zoo`` commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from zoo_world import zoo

from brainfit.cli import main
from brainfit.zoo import ZooConfig, plan_zoo
from brainfit.zoo.report import ZooIncompleteError, write_zoo_report


@pytest.fixture
def finished(serial, tmp_path):
    """A copy of the finished reference zoo (reports write into it)."""
    shutil.copytree(serial[0], tmp_path / "z")
    return tmp_path / "z"


def figures_loaded(page: Path, profile: Path) -> tuple[int, int]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium binary on PATH ('chromium' or 'chromium-browser'; Debian: apt-get install chromium)")
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    body = re.search(r"<body[^>]*>", done.stdout).group(0)
    total = re.search(r'data-figures-total="(\d+)"', body)
    assert total, f"the page's load handler did not run: {body}"
    return int(total.group(1)), int(re.search(r'data-figures-loaded="(\d+)"', body).group(1))


def test_report_of_a_finished_zoo(finished, tmp_path):
    events = []
    result = write_zoo_report(zoo(finished, compare={"contrasts": [["convrnn_small_rgc", "ff_small_wider_rgc"]],
                                                     "n_permutations": 50, "n_bootstrap": 20}),
                              on_event=events.append)
    folder = finished / "report" / "synthetic"
    assert result["reports"] == {"synthetic": folder / "report.html"} and result["missing"] == []
    board = pd.read_csv(finished / "report" / "leaderboard.csv")
    assert set(board["model"]) == {"convrnn_small_rgc", "ff_small_wider_rgc", "gru"}
    assert set(board["region"]) == {"IT", "V4"} and (board["metric"] == "ceiled").all()
    per_bin = pd.read_csv(folder / "comparison" / "per_bin.csv")
    assert set(zip(per_bin["model"], per_bin["control"])) == {("convrnn_small_rgc", "ff_small_wider_rgc")}
    figures = sorted(p.name for p in (folder / "figures").glob("*.png"))
    assert {"timecourse.png", "leaderboard.png", "neural.png", "layers_gru.png"} <= set(figures)
    assert pd.read_csv(folder / "zoo_results.csv").shape[0] == 6
    html = (folder / "report.html").read_text()
    assert "brainfit zoo tiny: synthetic" in html and "convrnn_small_rgc" in html
    total, loaded = figures_loaded(folder / "report.html", tmp_path / "profile")
    assert total == loaded == len(figures)
    assert events[-1]["event"] == "report" and events[-1]["contrasts"] == 1


def test_an_unfinished_zoo_is_refused_or_reported_in_part(finished):
    plan = plan_zoo(zoo(finished), write=False)
    wider = next(f for f in plan.fits if f.model.id == "ff_small_wider_rgc")
    wider.paths()["manifest"].unlink()
    with pytest.raises(ZooIncompleteError, match=r"1 fit\(s\) of zoo 'tiny' have not finished.*"
                                                 r"ff_small_wider_rgc / synthetic.*--partial"):
        write_zoo_report(zoo(finished))
    result = write_zoo_report(zoo(finished), partial=True)
    board = result["leaderboard"]
    assert set(board["model"]) == {"convrnn_small_rgc", "gru"}  # a model without its result is left out
    summary = (finished / "report" / "synthetic" / "summary.txt").read_text()
    assert "Not in this report (unfinished): 1 fit(s): ff_small_wider_rgc / synthetic" in summary
    assert "contrasts left out: convrnn_small_rgc - ff_small_wider_rgc" in summary


def test_zoo_commands(finished, tmp_path, capsys):
    config = tmp_path / "zoo.yaml"
    config.write_text(yaml.safe_dump(zoo(finished).to_dict() | {"models": [
        "convrnn_small_rgc", "ff_small_wider_rgc",
        {"model": "convrnn_small_custom", "id": "gru", "weights": "random", "kwargs": {"cell": "gru"}}]}))
    assert main(["zoo", "status", str(config)]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 fits finished" in out and "recurrent" in out and "feedforward" in out
    assert main(["zoo", "run", str(config), "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "0 fit(s) computed, 3 already finished" in out
    assert main(["zoo", "report", str(config)]) == 0
    assert "report (synthetic: 3 models, 1 contrasts)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nout: o\ndatasets: [synthetic]\nmodels: [{model: ff_small, sed: 1}]\n")
    assert main(["zoo", "run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "models[0]: unknown setting(s) ['sed']" in err and not (Path("o")).exists()


def test_zoo_run_in_a_fresh_process_on_two_workers(tmp_path):
    """The console command end to end: a local Dask cluster of 2 workers, the live count printed."""
    config = tmp_path / "zoo.yaml"
    config.write_text(yaml.safe_dump({
        "name": "cli", "out": str(tmp_path / "out"),
        "datasets": [{"name": "synthetic", "kwargs": {"images_per_object": 2, "n_v4": 8, "n_it": 8}}],
        # the same network under two ids: two tasks, two results (one content key, but never one Dask task)
        "models": ["ff_small_wider_rgc", {"model": "ff_small_wider_rgc", "id": "wider_again", "label": "again"}],
        "layers": ["conv5"],
        "mapping": {"projection_width": 32, "n_bootstrap": 0}, "splits": {"n_folds": 3}}))
    done = subprocess.run([sys.executable, "-m", "brainfit.cli", "zoo", "run", str(config), "--workers", "2",
                           "--dashboard-address", ":0"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "dask: 2 worker(s); dashboard:" in done.stdout
    assert re.search(r"\[2/2\] fitted \w+ / synthetic \(", done.stdout), done.stdout
    assert "INFO distributed" not in done.stderr  # Dask's connection chatter stays out of the output
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert table.shape[0] == 4 and not table.duplicated(["model", "region"]).any()
    again = table.set_index(["model", "region"])
    assert (again.loc["wider_again", "mean_r"] == again.loc["ff_small_wider_rgc", "mean_r"]).all()
    # the keys are the same in another process: this one finds every fit finished
    assert plan_zoo(ZooConfig.from_yaml(config), write=False).pending() == []


def test_many_contrasts_get_a_figure_each_and_none_give_a_leaderboard_only(finished):
    pairs = [["convrnn_small_rgc", "ff_small_wider_rgc"], ["convrnn_small_rgc", "gru"], ["gru", "ff_small_wider_rgc"],
             ["ff_small_wider_rgc", "convrnn_small_rgc"]]
    folder = finished / "report" / "synthetic"
    write_zoo_report(zoo(finished, compare={"contrasts": pairs, "n_permutations": 50, "n_bootstrap": 20,
                                            "heatmaps": False}))
    captions = yaml.safe_load((folder / "figures" / "captions.json").read_text())
    assert [f"timecourse_contrast_{k:02d}.png" for k in range(1, 5)] == [c for c in captions if "contrast_" in c]
    assert "Contrast 2: convrnn_small_rgc - gru" in captions["timecourse_contrast_02.png"]
    assert "one figure each" in captions["timecourse.png"]
    shutil.rmtree(folder)
    write_zoo_report(zoo(finished, compare={"n_bootstrap": 20, "heatmaps": False}))
    assert not (folder / "comparison" / "per_bin.csv").exists()
    assert "paired contrasts: none requested" in (folder / "summary.txt").read_text()
    assert pd.read_csv(folder / "leaderboard.csv").shape[0] == 3 * 2 * 3  # models x regions x windows
