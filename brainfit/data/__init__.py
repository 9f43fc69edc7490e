"""Datasets: ``load_dataset(name, **kw) -> (StimulusSet, NeuralAssembly)``.

The registry lives in :mod:`brainfit.data.registry`; each loader module registers itself there
and is imported here, so every dataset is listed once ``brainfit.data`` is imported. Real
recordings are read from the data root (``BRAINFIT_DATA``, see :mod:`brainfit.paths`); the
embedded default, ``synthetic``, needs no data at all. :data:`CATEGORIES` names the synthetic
world's object categories (its rendering lives in the private ``_shapes`` and ``_ground_truth``).
"""

from __future__ import annotations

from brainfit.data import arrays, brainio, cowley2023, nwb, synthetic, zhang2011  # noqa: F401  (registration on import)
from brainfit.data._shapes import CATEGORIES
from brainfit.data.arrays import from_arrays, from_files
from brainfit.data.brainio import (
    load_brainio,
    load_brainio_scores,
    read_brainio_assembly,
    read_brainio_stimuli,
    write_brainio,
    write_brainio_scores,
)
from brainfit.data.cowley2023 import cowley2023_sessions
from brainfit.data.nwb import load_nwb
from brainfit.data.registry import (
    DatasetInfo,
    dataset_info,
    dataset_sessions,
    list_datasets,
    load_dataset,
    register_dataset,
)
from brainfit.paths import data_root, require_data_root

__all__ = ["DatasetInfo", "register_dataset", "load_dataset", "list_datasets", "dataset_info", "dataset_sessions",
           "data_root", "require_data_root", "from_arrays", "from_files", "load_brainio", "load_brainio_scores",
           "read_brainio_assembly", "read_brainio_stimuli", "write_brainio", "write_brainio_scores",
           "cowley2023_sessions", "load_nwb", "CATEGORIES"]
