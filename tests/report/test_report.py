"""The HTML report of a results folder (brainfit.report) and the `brainfit report` command."""

from __future__ import annotations

import base64
import json
import platform
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from report_world import (
    CAPTIONS,
    FIGURE_ORDER,
    FINGERPRINT,
    NASTY_LABEL,
    WEIGHTS_SHA,
    Page,
    build_results,
    draw_png,
    small_assembly,
)

from brainfit._io import write_netcdf
from brainfit.cli import main
from brainfit.report import dataset_sha256, provenance, render_report, write_report

SECTIONS = ["Summary", "Leaderboard", "Figures", "Statistics tables", "Score files", "Settings", "Provenance"]
DASH = "\u2014"  # how a missing number reads


# ----------------------------------------------------------------------------- the full page


def test_every_figure_is_embedded_byte_for_byte_in_caption_order(results_dir):
    page = Page(render_report(results_dir))
    imgs = page.elements("img")
    assert [a["data-file"] for a in imgs] == [f"figures/{n}" for n in FIGURE_ORDER]
    for a, name in zip(imgs, FIGURE_ORDER):
        prefix = "data:image/png;base64,"
        assert a["src"].startswith(prefix)
        assert base64.b64decode(a["src"][len(prefix):], validate=True) == (results_dir / "figures" / name).read_bytes()
        assert a["alt"] == CAPTIONS.get(name, f"figures/{name}")
    captions = page.texts["figcaption"]
    assert captions[0].startswith("Figure 1.") and CAPTIONS["b_curve.png"] in captions[0]
    assert captions[1].startswith("Figure 2.") and "Red bars" in captions[1]
    assert captions[2].startswith("Figure 3.") and "figures/c_extra.png" in captions[2]


def test_sections_come_in_order_and_the_lede_counts(results_dir):
    page = Page(render_report(results_dir, title="Run <1>"))
    assert page.texts["h2"] == SECTIONS
    assert page.texts["title"] == ["Run <1>"] and page.texts["h1"] == ["Run <1>"]
    lede = page.texts["p"][0]
    assert "dataset synthetic (960 stimuli; 192 neuroids; V4, IT)" in lede
    assert f"2 models: {NASTY_LABEL}, feedforward" in lede and "3 figures" in lede


def test_leaderboard_rows_with_three_decimals(results_dir):
    rows = Page(render_report(results_dir)).table("leaderboard.csv")["rows"]
    assert rows[0] == ["model", "region", "window", "score", "ci_low", "ci_high", "p", "n_neuroids"]
    assert rows[1] == ["convrnn", "V4", "70-170", "0.423", "0.401", "0.444", "3.0e-05", "64"]
    assert rows[2] == ["convrnn", "IT", "70-170", "0.313", "0.290", "0.335", "0.012", "128"]
    assert rows[3] == [NASTY_LABEL, "V4", "170-260", "0.500", "0.478", "0.522", "1.000", "64"]
    assert rows[4] == [NASTY_LABEL, "IT", "170-260", DASH, DASH, DASH, DASH, "128"]
    assert len(rows) == 5


def test_statistics_tables_small_shown_large_collapsed(results_dir):
    page = Page(render_report(results_dir))
    per_bin = page.table("comparison/per_bin.csv")
    assert not per_bin["in_details"]
    assert per_bin["rows"][1:] == [["70", "0.123", "0.001"], ["80", "-0.057", "0.500"], ["90", "0.000", "0.900"]]
    clusters = page.table("comparison/clusters.csv")
    assert clusters["in_details"] and len(clusters["rows"]) == 41
    assert "40 rows \u00d7 2 columns (click to expand)" in page.texts["summary"]
    assert page.table("per_bin_scores.csv")["rows"][1] == ["convrnn", "0.250"]
    assert [t for t in page.texts["h3"] if t.endswith(".csv")] == ["comparison/clusters.csv",
                                                                   "comparison/per_bin.csv", "per_bin_scores.csv"]
    assert any("comparison/README.txt" in p for p in page.texts["p"])


def test_provenance_and_settings_values(results_dir):
    import numpy

    prov = json.loads((results_dir / "provenance.json").read_text())
    page = Page(render_report(results_dir))
    pairs = dict(page.pairs)
    assert pairs["numpy"] == numpy.__version__ and pairs["python"] == platform.python_version()
    assert pairs["sha256"] == prov["dataset"]["sha256"] and len(pairs["sha256"]) == 64
    assert pairs["fingerprint"] == FINGERPRINT
    assert pairs["command"] == "brainfit demo --config analyses/demo/demo.yaml"
    assert pairs["created"] == prov["created"]
    assert pairs["alphas"] == "0.01, 1.0, 10000000000.0" and pairs["n_permutations"] == "1000"
    assert pairs["early"] == "70, 170"
    assert pairs["note"] == "kept <as> given"  # an unknown key, under "Other"
    assert "Other" in page.texts["h3"]
    models = [t for t in page.tables if t["rows"] and t["rows"][0][:4] == ["name", "label", "weights",
                                                                           "weights_sha256"]]
    (models,) = models
    header, first, second = models["rows"][:3]
    assert first[1] == NASTY_LABEL and first[3] == WEIGHTS_SHA and first[4] == "123456"
    schedule = first[header.index("trained_schedule")]
    assert "n_steps" in schedule and "26" in schedule and "on_steps" in schedule
    assert second[header.index("trained_schedule")] == DASH and second[header.index("weights_sha256")] == DASH


def test_text_is_escaped_and_the_page_is_self_contained(results_dir):
    text = render_report(results_dir)
    assert text.isascii()
    assert NASTY_LABEL not in text and "&lt;b&gt;&amp;" in text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'alt="Per-bin &lt;predictivity&gt; &amp; &quot;CI&quot;"' in text
    assert text.count("<script") == 1  # only the image-counting one
    page = Page(text)
    assert not page.elements("link") and not page.elements("iframe")
    for tag, attrs in page.starts:
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith(("data:", "#")), (tag, attrs[key][:60])
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)


def test_score_files_are_listed_with_key_attrs_and_a_damaged_one_is_a_row(results_dir):
    ds = small_assembly().to_dataset(name="r")
    ds.attrs.update(mapping="RidgeMapping", splits={"n_folds": 10, "fingerprint": FINGERPRINT},
                    temporal_map={"kind": "one_to_one"}, brainfit_version="0.1.0")
    write_netcdf(ds, results_dir / "scores" / "m_IT.nc")
    (results_dir / "scores" / "broken.nc").write_bytes(b"not netcdf at all")
    page = Page(render_report(results_dir))
    (table,) = [t for t in page.tables if t["rows"] and t["rows"][0][0] == "file"]
    header, rows = table["rows"][0], {r[0]: r for r in table["rows"][1:]}
    assert set(rows) == {"scores/broken.nc", "scores/m_IT.nc"}
    good = dict(zip(header, rows["scores/m_IT.nc"]))
    assert good["sizes"] == "presentation=6, neuroid=4, time_bin=3"
    assert good["splits"] == FINGERPRINT and good["temporal_map"] == "one_to_one" and good["mapping"] == "RidgeMapping"
    assert dict(zip(header, rows["scores/broken.nc"]))["problem"].startswith("unreadable")


# ----------------------------------------------------------------------------- writing, partial and bad folders


def test_write_report_default_path_is_atomic_and_matches_render(results_dir):
    path = write_report(results_dir)
    assert path == results_dir / "report.html"
    assert path.read_text() == render_report(results_dir)  # report.html itself is not an input
    assert sorted(p.name for p in results_dir.iterdir() if p.name.startswith(".")) == []  # no temp file left
    out = write_report(results_dir, results_dir.parent / "elsewhere" / "r.html", title="T")
    assert out.is_file() and Page(out.read_text()).texts["title"] == ["T"]


def test_a_folder_with_only_a_summary_renders_with_notes(tmp_path):
    (tmp_path / "summary.txt").write_text("just this\n")
    page = Page(render_report(tmp_path))
    assert page.texts["h2"] == SECTIONS and page.texts["pre"] == ["just this"]
    assert "dataset and models not recorded (no provenance.json)" in page.texts["p"][0]
    for missing in ("no leaderboard.csv or leaderboard.md", "no figures (figures/*.png)", "no provenance.json",
                    "no score files (scores/*.nc)"):
        assert missing in page.texts["p"]
    assert page.elements("img") == []


def test_leaderboard_md_and_top_level_figures(tmp_path):
    (tmp_path / "leaderboard.md").write_text("| model | score |\n|---|---|\n| a | 0.5 |\n")
    draw_png(tmp_path / "timecourse.png", "curve")
    page = Page(render_report(tmp_path))
    assert page.texts["pre"] == ["| model | score |\n|---|---|\n| a | 0.5 |"]
    assert [a["data-file"] for a in page.elements("img")] == ["timecourse.png"]


def test_damaged_parts_become_notes_not_errors(tmp_path):
    (tmp_path / "provenance.json").write_text("{not json")
    (tmp_path / "leaderboard.csv").write_text("")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "captions.json").write_text(json.dumps({"gone.png": "a figure that is not there"}))
    draw_png(tmp_path / "figures" / "here.png", "bars")
    (tmp_path / "comparison").mkdir()
    (tmp_path / "comparison" / "per_bin.csv").write_bytes(b'a,b\n1,"2\n')
    page = Page(render_report(tmp_path))
    notes = " ".join(page.texts["p"])
    assert "provenance.json is not valid JSON" in notes
    assert "leaderboard.csv could not be read" in notes
    assert "figures/captions.json names 'gone.png', which is not in figures/" in notes
    assert "per_bin.csv could not be read" in notes
    assert [a["data-file"] for a in page.elements("img")] == ["figures/here.png"]


def test_a_provenance_that_is_not_an_object_is_noted(tmp_path):
    (tmp_path / "provenance.json").write_text("[1, 2]")
    page = Page(render_report(tmp_path))
    assert "provenance.json holds a JSON list, not an object; ignored" in page.texts["p"]


def test_missing_empty_and_unrecognised_folders_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="results folder not found: .*nope"):
        render_report(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="file.txt is not a folder"):
        render_report(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"nothing to report; expected any of provenance.json, summary.txt, "
                                         r"leaderboard.csv, .*figures/\*.png.*scores/\*.nc"):
        write_report(tmp_path / "empty")
    assert not (tmp_path / "empty" / "report.html").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.docx").write_text("x")
    (tmp_path / "other" / "figures").mkdir()
    with pytest.raises(ValueError, match="nothing to report"):
        render_report(tmp_path / "other")


# ----------------------------------------------------------------------------- helpers for results writers


def test_provenance_fills_created_and_versions():
    import numpy
    import scipy

    prov = provenance(command="x", versions={"extra": "1.2", "numpy": "pinned"}, models=[])
    assert datetime.fromisoformat(prov["created"]).tzinfo is not None
    v = prov["versions"]
    assert set(v) >= {"brainfit", "torch", "numpy", "xarray", "scipy", "python", "platform", "extra"}
    assert v["scipy"] == scipy.__version__ and v["numpy"] == "pinned" and v["extra"] == "1.2"
    assert v["python"] == platform.python_version() and v["platform"] == platform.platform()
    assert prov["command"] == "x" and prov["models"] == []
    assert provenance()["versions"]["numpy"] == numpy.__version__
    json.dumps(prov)
    with pytest.raises(ValueError, match="'versions' must be a mapping"):
        provenance(versions=["numpy"])


def test_dataset_sha256_changes_with_values_ids_and_order():
    a = small_assembly()
    h = dataset_sha256(a)
    assert len(h) == 64 and h == dataset_sha256(a.copy(deep=True))
    b = a.copy(deep=True)
    b.values[0, 0, 0] += 1e-12
    assert dataset_sha256(b) != h
    assert dataset_sha256(a, [f"x{i}" for i in range(6)]) != h
    assert dataset_sha256(a.isel(presentation=[1, 0, 2, 3, 4, 5])) != h
    assert dataset_sha256(a.drop_vars("stimulus_id"), a.stimulus_id.values) == h
    with pytest.raises(ValueError, match="no 'stimulus_id' coord"):
        dataset_sha256(a.drop_vars("stimulus_id"))
    with pytest.raises(ValueError, match="5 stimulus ids for 6 presentations"):
        dataset_sha256(a, ["x"] * 5)
    with pytest.raises(ValueError, match="expected an xarray.DataArray"):
        dataset_sha256(np.zeros(3))


# ----------------------------------------------------------------------------- the command


def test_cli_report_writes_the_page(results_dir, capsys):
    assert main(["report", str(results_dir)]) == 0
    assert capsys.readouterr().out == f"{results_dir / 'report.html'}\n"
    assert len(Page((results_dir / "report.html").read_text()).elements("img")) == 3
    out = results_dir.parent / "custom.html"
    assert main(["report", str(results_dir), "--out", str(out), "--title", "My run"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert Page(out.read_text()).texts["title"] == ["My run"]


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_cli_report_bad_folder_is_exit_2_with_one_line(tmp_path, capsys, kind):
    folder = tmp_path / "nope"
    if kind == "empty":
        folder.mkdir()
    assert main(["report", str(folder)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brainfit: error: ")
    assert ("results folder not found" if kind == "missing" else "nothing to report; expected any of") in lines[0]


def test_build_results_helper_writes_real_files(tmp_path):
    root = build_results(tmp_path / "r")
    assert (root / "figures" / "a_bars.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(pd.read_csv(root / "leaderboard.csv").columns)[:3] == ["model", "region", "window"]
