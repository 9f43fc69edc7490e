"""Where brainfit reads and writes: the data root, the weights folder and the cache folder.

Each is an environment variable with a default, resolved here and nowhere else:

========================  ==========================================================================
``BRAINFIT_DATA``         data root holding real recordings and shared assets (default:
                          ``../shared/data`` beside the project, when that folder exists; else none)
``BRAINFIT_WEIGHTS``      folder of trained weights loaded by ``create_model(name, pretrained=True)``
                          (default: the mini-zoo shipped inside the package, ``brainfit/weights``)
``BRAINFIT_CACHE``        cache folder (default ``~/.cache/brainfit``); activations are cached in its
                          ``activations/`` subfolder
========================  ==========================================================================

An explicit path passed to a function always wins over the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "WEIGHTS_ENV", "CACHE_ENV", "data_root", "require_data_root", "weights_dir", "cache_dir",
           "activation_cache_dir"]

DATA_ENV = "BRAINFIT_DATA"
WEIGHTS_ENV = "BRAINFIT_WEIGHTS"
CACHE_ENV = "BRAINFIT_CACHE"

_PACKAGE = Path(__file__).resolve().parent
# brainfit/ -> project root -> its parent, which holds shared/data in a development checkout
_DEFAULT_DATA_ROOT = _PACKAGE.parent.parent / "shared" / "data"


def data_root(path: str | os.PathLike | None = None) -> Path | None:
    """The folder holding real recordings, or None when there is none.

    Order: an explicit ``path``; ``BRAINFIT_DATA``; ``../shared/data`` beside the project when it
    exists.
    """
    if path is not None:
        return Path(path)
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return _DEFAULT_DATA_ROOT if _DEFAULT_DATA_ROOT.is_dir() else None


def require_data_root(folder: str, path: str | os.PathLike | None = None) -> Path:
    """``data_root(path) / folder``; raises FileNotFoundError saying how to provide it."""
    root = data_root(path)
    if root is None:
        raise FileNotFoundError(
            f"no data root: set {DATA_ENV} (or pass data_root=) to the folder that holds {folder!r}"
        )
    target = root / folder
    if not target.exists():
        raise FileNotFoundError(f"{folder!r} not found under the data root {root} (set {DATA_ENV} to change it)")
    return target


def weights_dir(path: str | os.PathLike | None = None) -> Path:
    """Folder of trained weights: ``path``, else ``BRAINFIT_WEIGHTS``, else the shipped mini-zoo."""
    if path is not None:
        return Path(path)
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env) if env else _PACKAGE / "weights"


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Cache folder: ``path``, else ``BRAINFIT_CACHE``, else ``~/.cache/brainfit``."""
    if path is not None:
        return Path(path)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "brainfit"


def activation_cache_dir() -> Path:
    """Default folder of the activation cache: ``cache_dir() / "activations"``."""
    return cache_dir() / "activations"
