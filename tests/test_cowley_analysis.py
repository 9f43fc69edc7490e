"""The Cowley V4 analysis: a zoo config (sessions as datasets) checked before any work, and a small
run on real data through the script's cross-session table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from brainfit._config import ConfigError

SCRIPT = Path(__file__).resolve().parents[1] / "analyses" / "cowley_v4" / "run.py"
CONFIG = SCRIPT.parent / "cowley_v4.yaml"


def _have_data() -> bool:
    from brainfit.data import data_root

    root = data_root()
    return root is not None and (root / "cowley2023_v4").is_dir() and (root / "pretrained_cifar_resnets").is_dir()


needs_data = pytest.mark.skipif(not _have_data(), reason="real data not found: cowley2023_v4 and "
                                                         "pretrained_cifar_resnets under the data root")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("cowley_v4_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@needs_data
def test_shipped_config_is_valid_and_expands_every_session(script):
    from brainfit.data import cowley2023_sessions
    from brainfit.models import list_models

    config = script.load_config(CONFIG)
    assert {m.model for m in config.models} <= set(list_models())
    assert any(m.weights == "random" for m in config.models) and config.splits.n_folds == 5
    assert [d.kwargs["session"] for d in config.datasets] == cowley2023_sessions()
    assert [d.id for d in config.datasets] == [f"cowley_v4-{s}" for s in cowley2023_sessions()]
    assert all(m.n_steps == 10 for m in config.models if m.model.startswith("convrnn"))
    assert script.load_config(CONFIG, sessions=["210305"]).datasets[0].kwargs == {"window_ms": [0, 100],
                                                                                 "session": "210305"}


def test_bad_config_names_every_problem(script, tmp_path):
    d = yaml.safe_load(CONFIG.read_text())
    d["splits"] = {"n_folds": 1}
    d["mapping"] = {**d["mapping"], "projection_width": "wide", "ridge_log10_alphas": [3, 1]}
    d["compare"]["contrasts"] = d["compare"]["contrasts"] + [["convrnn_rgc", "nope"]]
    d["datasets"][0]["sessions"] = "some"
    d["models"] = d["models"] + [d["models"][0]]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError) as err:
        script.load_config(path)
    msg = str(err.value)
    for part in ("splits.n_folds=1", "mapping.projection_width='wide'", "model ids ['convrnn_rgc'] are given more "
                 "than once", "[convrnn_rgc, nope] names unknown model id(s) ['nope']", "datasets[0].sessions='some'",
                 "mapping.ridge_log10_alphas=[3, 1]"):
        assert part in msg, (part, msg)


@pytest.mark.slow
@pytest.mark.shared_data
@needs_data
def test_small_run_on_a_repeat_averaged_session(script, tmp_path):
    d = yaml.safe_load(CONFIG.read_text())
    d["models"] = [m for m in d["models"] if m["id"] in ("resnet20", "resnet20_untrained")]
    d["compare"].update(contrasts=[["resnet20", "resnet20_untrained"]], n_bootstrap=50, n_permutations=100)
    d["mapping"].update(n_bootstrap=50, projection_width=256)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    assert script.main(["--config", str(path), "--out", str(out), "--sessions", "210305"]) == 0
    board = pd.read_csv(out / "leaderboard.csv")
    assert set(board["metric"]) == {"r"} and board["score"].notna().all()
    assert (out / "report" / "cowley_v4-210305" / "report.html").is_file()
    trained = board.set_index("model").loc["resnet20", "score"]
    assert trained > board.set_index("model").loc["resnet20_untrained", "score"]
    assert set(pd.read_csv(out / "per_layer.csv")["model"]) == {"resnet20", "resnet20_untrained"}
    # a rerun computes nothing (resume per fit)
    assert script.main(["--config", str(path), "--out", str(out), "--sessions", "210305"]) == 0
