"""environment.yml (conda) and pyproject.toml (pip) declare the same dependencies."""

import re
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
# pip distribution name -> conda package name, where they differ
CONDA_NAME = {"torch": "pytorch"}


def _split(req: str) -> tuple[str, str]:
    """``"scikit-learn>=1.3"`` -> ``("scikit-learn", ">=1.3")`` (name lower-cased)."""
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", req)
    assert m, req
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["pytorch", "conda-forge"]
    conda = dict(_split(d) for d in env["dependencies"] if isinstance(d, str))
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_section == [{"pip": ["-e ."]}]  # brainfit itself, from the checkout

    wanted = project["dependencies"] + project["optional-dependencies"]["test"] \
        + project["optional-dependencies"]["cluster"]
    expected = {CONDA_NAME.get(name, name): spec for name, spec in map(_split, wanted)}
    expected["python"] = project["requires-python"]
    expected["pip"] = ""
    assert conda == expected
