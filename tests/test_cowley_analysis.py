"""The Cowley V4 analysis script: its config is checked before any work; a small run on real data."""

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


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("cowley_v4_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_shipped_config_is_valid_and_names_every_model(script):
    from brainfit.models import list_models

    config = script.Config.load(CONFIG)
    assert {m.name for m in config.models} <= set(list_models())
    assert any(m.weights == "random" for m in config.models) and config.n_folds == 5
    assert all(set(p) <= {m.key for m in config.models} for p in config.pairs)


def test_bad_config_names_every_problem(script, tmp_path):
    d = yaml.safe_load(CONFIG.read_text())
    d.update(n_folds=1, projection_width="wide", pairs=[["convrnn_rgc", "nope"]], window_ms=[100, 0],
             sessions="some", ridge_log10_alphas=[3, 1])
    d["models"] = d["models"] + [d["models"][0]]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError) as err:
        script.Config.load(path)
    msg = str(err.value)
    for part in ("n_folds=1", "projection_width='wide'", "unique keys", "['convrnn_rgc', 'nope']", "window_ms=[100, 0]",
                 "sessions='some'", "ridge_log10_alphas=[3, 1]"):
        assert part in msg, (part, msg)


@pytest.mark.slow
@pytest.mark.shared_data
def test_small_run_on_a_repeat_averaged_session(script, tmp_path):
    from brainfit.data import data_root

    root = data_root()
    if root is None or not (root / "cowley2023_v4").is_dir() or not (root / "pretrained_cifar_resnets").is_dir():
        pytest.skip("real data not found: cowley2023_v4 and pretrained_cifar_resnets under the data root")
    d = yaml.safe_load(CONFIG.read_text())
    d["models"] = [m for m in d["models"] if m["key"] in ("resnet20", "resnet20_untrained")]
    d.update(pairs=[["resnet20", "resnet20_untrained"]], n_bootstrap=50, n_permutations=100, projection_width=256)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(d))
    assert script.main(["--config", str(path), "--out", str(tmp_path / "out"), "--sessions", "210305"]) == 0
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert set(board["metric"]) == {"r"} and board["score"].notna().all()
    assert (tmp_path / "out" / "210305" / "report.html").is_file()
    trained = board.set_index("model").loc["resnet20", "score"]
    assert trained > board.set_index("model").loc["resnet20_untrained", "score"]
