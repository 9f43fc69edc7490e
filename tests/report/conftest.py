"""Fixtures of the report tests: a results folder with every part (see report_world.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_world import build_results


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return build_results(tmp_path / "run1")
