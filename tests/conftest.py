"""Shared fixtures: tiny synthetic assemblies, the data root, thread limits for a 2-core machine."""

from __future__ import annotations

import os

import pytest
import torch

# Tests run on small CPUs; keep torch from oversubscribing cores.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def synthetic_default():
    """The default synthetic dataset (generated once per test session)."""
    from brainfit.data import load_dataset

    return load_dataset("synthetic")


@pytest.fixture(scope="session")
def synthetic_small():
    """A small synthetic dataset (2 images per object and level, 4 repetitions)."""
    from brainfit.data import load_dataset

    return load_dataset("synthetic", images_per_object=2, n_repetitions=4, n_v4=16, n_it=24)
