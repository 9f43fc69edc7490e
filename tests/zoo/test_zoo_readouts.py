"""A zoo fitted under both readouts: one fit task per (model, dataset, readout), the per-bin results
identical to a per-bin-only zoo's, a report per readout with the readouts side by side, and result
readers that refuse to mix readouts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from zoo_world import zoo

from brainfit._config import ConfigError
from brainfit.cli import main
from brainfit.zoo import load_results, plan_zoo, read_results_folder, run_zoo
from brainfit.zoo.report import write_zoo_report

MAPPING = {"projection_width": 48, "n_bootstrap": 10, "ridge_log10_alphas": [-2, 6]}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    out = tmp_path_factory.mktemp("both")
    config = zoo(out, mapping={**MAPPING, "readout": "both"})
    summary = run_zoo(config, workers=0)
    return out, config, summary


def test_both_readouts_are_separate_fits_and_per_bin_matches_a_per_bin_zoo(both, serial):
    out, config, summary = both
    assert summary["total"] == 6 and summary["computed"] == 6  # 3 models x 2 readouts
    table = summary["table"]
    assert sorted(set(table["readout"])) == ["per_bin", "shared"] and len(table) == 12
    plan = plan_zoo(config, write=False)
    with pytest.raises(ValueError, match="name one"):
        load_results(plan)
    per_bin, shared = load_results(plan, readout="per_bin"), load_results(plan, readout="shared")
    reference = load_results(plan_zoo(zoo(serial[0]), write=False))
    assert per_bin.keys() == reference.keys() == shared.keys()
    for k, ds in per_bin.items():
        np.testing.assert_allclose(ds["median_ceiled"].values, reference[k]["median_ceiled"].values, rtol=1e-6,
                                   err_msg=str(k))
        assert ds.attrs["readout"] == "per_bin" and shared[k].attrs["readout"] == "shared"
        assert shared[k].attrs["shared_across_bins"] and not ds.attrs["shared_across_bins"]
        assert not np.allclose(ds["median_r"].values, shared[k]["median_r"].values)
    manifests = [json.loads(p.read_text()) for p in (out / "results" / "synthetic" / "gru").glob("*.json")]
    assert sorted(m["readout"] for m in manifests) == ["per_bin", "shared"]


def test_the_report_shows_each_readout_and_both_side_by_side(both):
    out, config, _ = both
    result = write_zoo_report(config)
    assert sorted(result["reports"]) == ["synthetic/per_bin", "synthetic/shared"]
    for readout in ("per_bin", "shared"):
        folder = out / "report" / "synthetic" / readout
        assert (folder / "report.html").is_file()
        captions = json.loads((folder / "figures" / "captions.json").read_text())
        assert "readouts.png" in captions and (folder / "figures" / "readouts.png").stat().st_size > 0
        assert (folder / "summary.txt").read_text().startswith(f"readout: {readout.replace('_', ' ')}")
        assert json.loads((folder / "provenance.json").read_text())["settings"]["readout"] == readout
        assert set(pd.read_csv(folder / "zoo_results.csv")["readout"]) == {readout}
    board = pd.read_csv(out / "report" / "leaderboard.csv")
    assert set(board["readout"]) == {"per_bin", "shared"}


def test_readers_refuse_to_mix_readouts(both, capsys):
    out, _, _ = both
    with pytest.raises(ValueError, match="several readouts"):
        read_results_folder(out)
    found = read_results_folder(out, readout="shared")
    assert found["readout"] == "shared"
    assert all(ds.attrs["readout"] == "shared" for by in found["scores"].values() for ds in by.values())
    assert main(["compare", str(out), "--baseline", "gru", "--no-report", "--n-permutations", "20",
                 "--n-bootstrap", "10"]) != 0
    assert "several readouts" in capsys.readouterr().err
    assert main(["compare", str(out), "--readout", "shared", "--baseline", "gru", "--out", str(out / "cmp"),
                 "--no-report", "--n-permutations", "20", "--n-bootstrap", "10"]) == 0
    assert "shared" in (out / "cmp" / "summary.txt").read_text().splitlines()[0]


def test_a_bad_readout_names_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="mapping.readout.*'per_bin', 'shared', 'both'"):
        zoo(tmp_path, mapping={"readout": "per-bin"})
