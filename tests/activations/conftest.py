"""Fixtures of the activation tests: ten seeded random images and the tiny recurrent model."""

import numpy as np
import pytest
import torch

from brainfit.stimuli import StimulusSet
from tiny_models import Tiny


@pytest.fixture
def stimuli():
    rng = np.random.default_rng(0)
    return StimulusSet.from_array(rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8),
                                  metadata={"category": list("ababababab")})


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return Tiny()
