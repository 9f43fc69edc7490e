"""Helpers of the bad-input suite: a snapshot of a folder, to assert that nothing was left behind."""

from __future__ import annotations

from pathlib import Path

import pytest


def files_under(folder: Path) -> set[str]:
    """Relative paths of every file under ``folder`` (empty when it does not exist)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@pytest.fixture
def nothing_left(tmp_path):
    """``check(folder)`` asserts that ``folder`` holds no file (or does not exist)."""

    def check(folder: Path | None = None) -> None:
        left = files_under(folder or tmp_path)
        assert not left, f"files left behind: {sorted(left)}"

    return check
