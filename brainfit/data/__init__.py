"""Dataset registry: ``load_dataset(name, **kw) -> (StimulusSet, NeuralAssembly)``.

Loaders register themselves with :func:`register_dataset`. Real recordings are read from a data
root: the ``BRAINFIT_DATA`` environment variable, else ``../shared/data`` next to the project
when that folder exists. The embedded default, ``synthetic``, needs no data at all.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DatasetInfo", "register_dataset", "load_dataset", "list_datasets", "dataset_info",
           "data_root", "require_data_root"]

_REGISTRY: dict[str, DatasetInfo] = {}

# The project root is two levels above this file's package (brainfit/data/ -> repo root).
_DEFAULT_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its loader and what it needs."""

    name: str
    loader: Callable[..., Any]
    description: str
    needs_data_root: bool
    folder: str | None = None


def data_root(path: str | os.PathLike | None = None) -> Path | None:
    """The folder holding real recordings, or None when there is none.

    Order: an explicit ``path``; the ``BRAINFIT_DATA`` environment variable; ``../shared/data``
    beside the project when it exists.
    """
    if path is not None:
        return Path(path)
    env = os.environ.get("BRAINFIT_DATA")
    if env:
        return Path(env)
    return _DEFAULT_ROOT if _DEFAULT_ROOT.is_dir() else None


def require_data_root(folder: str, path: str | os.PathLike | None = None) -> Path:
    """``data_root(path) / folder``; raises FileNotFoundError explaining how to provide it."""
    root = data_root(path)
    if root is None:
        raise FileNotFoundError(
            f"no data root: set BRAINFIT_DATA (or pass data_root=) to the folder that holds {folder!r}"
        )
    target = root / folder
    if not target.exists():
        raise FileNotFoundError(f"{folder!r} not found under the data root {root} (set BRAINFIT_DATA to change it)")
    return target


def register_dataset(name: str, *, description: str, needs_data_root: bool = False,
                     folder: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a loader ``f(**kw) -> (StimulusSet | None, DataArray)`` under ``name``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered")
        _REGISTRY[name] = DatasetInfo(name, fn, description, needs_data_root, folder)
        return fn

    return deco


def _unknown(name: str) -> KeyError:
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
    hint = f"; did you mean {close}?" if close else ""
    return KeyError(f"unknown dataset {name!r}{hint} Known datasets: {sorted(_REGISTRY)}")


def dataset_info(name: str) -> DatasetInfo:
    """Registry entry of ``name``; unknown names raise listing the known ones."""
    if name not in _REGISTRY:
        raise _unknown(name)
    return _REGISTRY[name]


def list_datasets(pattern: str = "*") -> list[str]:
    """Names of registered datasets matching a shell-style ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def load_dataset(name: str, **kwargs: Any) -> Any:
    """Load a registered dataset: ``(StimulusSet or None, neural DataArray)``."""
    return dataset_info(name).loader(**kwargs)


# Registration happens on import of the loader modules (names never trigger imports).
from brainfit.data import cowley2023 as _cowley2023  # noqa: E402,F401
from brainfit.data import synthetic as _synthetic  # noqa: E402,F401
from brainfit.data import zhang2011 as _zhang2011  # noqa: E402,F401
