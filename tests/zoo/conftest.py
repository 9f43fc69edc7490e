"""Fixtures of the zoo tests: the small zoo run once in this process (the reference)."""

from __future__ import annotations

import pytest
from zoo_world import zoo

from brainfit.zoo import run_zoo


@pytest.fixture(scope="session")
def serial(tmp_path_factory):
    """The reference: the zoo run in this process, one task after the other: ``(out, summary, events)``."""
    out = tmp_path_factory.mktemp("serial")
    events = []
    summary = run_zoo(zoo(out), workers=0, on_event=events.append)
    return out, summary, events
