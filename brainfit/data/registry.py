"""The dataset registry: loaders register themselves with :func:`register_dataset`.

``load_dataset(name, **kw) -> (StimulusSet or None, neural DataArray)``. Real recordings are
read from the data root (:mod:`brainfit.paths`); the embedded default, ``synthetic``, needs no
data at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from brainfit._registry import Registry, check_kwargs

__all__ = ["DatasetInfo", "register_dataset", "load_dataset", "list_datasets", "dataset_info"]


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its loader and what it needs."""

    name: str
    loader: Callable[..., Any]
    description: str
    needs_data_root: bool
    folder: str | None = None


_DATASETS: Registry[DatasetInfo] = Registry("dataset", n_close=3, cutoff=0.4)


def register_dataset(name: str, *, description: str, needs_data_root: bool = False,
                     folder: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a loader ``f(**kw) -> (StimulusSet | None, DataArray)`` under ``name``."""
    return _DATASETS.decorator(name, lambda fn: DatasetInfo(name, fn, description, needs_data_root, folder))


def dataset_info(name: str) -> DatasetInfo:
    """Registry entry of ``name``; an unknown name raises ``KeyError`` listing close matches."""
    return _DATASETS.get(name)


def list_datasets(pattern: str = "*") -> list[str]:
    """Names of registered datasets matching a shell-style ``pattern``."""
    return _DATASETS.names(pattern)


def load_dataset(name: str, **kwargs: Any) -> Any:
    """Load a registered dataset: ``(StimulusSet or None, neural DataArray)``.

    Unknown names raise ``KeyError`` listing close matches; options the loader does not take
    raise ``ValueError`` naming them and the ones it does.
    """
    info = dataset_info(name)
    check_kwargs(info.loader, kwargs, f"dataset {name!r}")
    return info.loader(**kwargs)
