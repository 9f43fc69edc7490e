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

__all__ = ["DatasetInfo", "register_dataset", "load_dataset", "list_datasets", "dataset_info", "dataset_sessions"]


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its loader and what it needs."""

    name: str
    loader: Callable[..., Any]
    description: str
    needs_data_root: bool
    folder: str | None = None
    sessions: Callable[[], list[str]] | None = None


_DATASETS: Registry[DatasetInfo] = Registry("dataset", n_close=3, cutoff=0.4)


def register_dataset(name: str, *, description: str, needs_data_root: bool = False, folder: str | None = None,
                     sessions: Callable[[], list[str]] | None = None) -> Callable[[Callable[..., Any]],
                                                                                  Callable[..., Any]]:
    """Decorator registering a loader ``f(**kw) -> (StimulusSet | None, DataArray)`` under ``name``.

    ``sessions``: for data recorded in sessions, a function returning the sessions present (the
    loader then takes ``session=``); what ``sessions: all`` in a zoo config expands to.
    """
    return _DATASETS.decorator(name, lambda fn: DatasetInfo(name, fn, description, needs_data_root, folder,
                                                            sessions))


def dataset_sessions(name: str) -> list[str]:
    """The sessions of dataset ``name`` present under the data root.

    Raises
    ------
    KeyError
        For an unknown name (listing close matches).
    ValueError
        For a dataset that is not recorded in sessions.
    FileNotFoundError
        When its data are not under the data root.
    """
    info = dataset_info(name)
    if info.sessions is None:
        raise ValueError(f"dataset {name!r} is not recorded in sessions (give its loader options in kwargs)")
    return list(info.sessions())


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
