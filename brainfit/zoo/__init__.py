"""Batch runs over model zoos: a YAML config of models x datasets, run as tasks on a Dask cluster (a
local one by default) or in this process, resumable and tolerant of lost workers, then reported
through :mod:`brainfit.report`. The only part of brainfit that knows Dask (:mod:`brainfit.zoo.run`).
"""

from brainfit.zoo.config import (
    DEFAULT_TEMPORAL_MAPS,
    CompareSettings,
    DatasetSpec,
    MappingSettings,
    ModelSpec,
    SplitSettings,
    ZooConfig,
)
from brainfit.zoo.plan import (
    ExtractTask,
    FitTask,
    Plan,
    ZooPlanError,
    build_model,
    plan_zoo,
)
from brainfit.zoo.results import RESULT_COLUMNS, load_results, read_results_folder, results_table
from brainfit.zoo.run import (
    ZooRunError,
    default_workers,
    local_cluster,
    run_zoo,
    thread_env,
)

__all__ = [
    "DEFAULT_TEMPORAL_MAPS",
    "RESULT_COLUMNS",
    "CompareSettings",
    "DatasetSpec",
    "ExtractTask",
    "FitTask",
    "MappingSettings",
    "ModelSpec",
    "Plan",
    "SplitSettings",
    "ZooConfig",
    "ZooPlanError",
    "ZooRunError",
    "build_model",
    "default_workers",
    "load_results",
    "read_results_folder",
    "local_cluster",
    "plan_zoo",
    "results_table",
    "run_zoo",
    "thread_env",
]
