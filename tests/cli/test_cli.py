import subprocess
import sys

import pytest

from brainfit import __version__
from brainfit.cli import main, parse_overrides


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"brainfit {__version__}"


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "brainfit.cli", "datasets", "list"], capture_output=True, text=True,
                         check=True).stdout
    assert "synthetic" in out and "cowley2023_v4" in out and "zhang2011_it" in out


def test_datasets_show_synthetic(capsys):
    assert main(["datasets", "show", "synthetic", "--set", "images_per_object=1", "n_v4=4", "n_it=6"]) == 0
    out = capsys.readouterr().out
    assert "dims: {'presentation': 576, 'neuroid': 10, 'time_bin': 19}" in out
    assert "neuroids per region: IT=6, V4=4" in out
    assert "time bins: 19 from 70 to 260 ms (width 10 ms)" in out
    assert "median split-half reliability" in out and "V4:" in out and "IT:" in out


def test_unknown_dataset_is_a_clean_error(capsys):
    assert main(["datasets", "show", "synthetc"]) == 2
    assert "did you mean ['synthetic']" in capsys.readouterr().err


def test_models_list(capsys):
    assert main(["models", "list", "convrnn_small_rgc*"]) == 0
    out = capsys.readouterr().out
    assert "convrnn_small_rgc " in out and "yes" in out
    assert "convrnn_small_rgc_unrolled" in out


def test_parse_overrides():
    assert parse_overrides(["a=1", "b=x", "c=[1, 2]", "d=0.5"]) == {"a": 1, "b": "x", "c": [1, 2], "d": 0.5}
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_overrides(["novalue"])
