"""Shared fixtures: tiny synthetic assemblies, the data root, thread limits for a 2-core machine."""

from __future__ import annotations

import os

import pytest
import torch

# Tests run on small CPUs; keep torch from oversubscribing cores.
torch.set_num_threads(min(2, os.cpu_count() or 1))
