"""A tiny array backend so the ridge solvers run unchanged on numpy or torch (CPU or CUDA).

Only the operations whose spelling differs between numpy and torch live here; the solvers use
``@``, ``*``, ``/``, ``.T``, ``.sum(0)`` and indexing, which both libraries share.

Why two backends: on CPU, numpy's ``X @ X.T`` is dispatched to a symmetric rank-k update (half
the flops of a general product) and ``scipy.linalg.eigh(driver="evd")`` is the fastest symmetric
eigensolver available, so numpy is the CPU default; torch is used for CUDA devices.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch
from threadpoolctl import ThreadpoolController

from brainfit.device import resolve_device

__all__ = ["Backend", "get_backend", "resolve_dtype"]

_DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype: str | np.dtype | type | torch.dtype) -> np.dtype:
    """Normalise ``"float32"``/``"float64"`` (or the numpy/torch dtype objects) to a numpy dtype."""
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).replace("torch.", "")
    try:
        np_dtype = np.dtype(dtype)
    except TypeError as err:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from err
    if np_dtype.name not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return np_dtype


#: Largest symmetric matrix whose eigendecomposition runs on one BLAS thread (:func:`_serial_blas`).
SERIAL_EIGH_MAX = 1500

_blas_lock = threading.Lock()
_blas_state: dict[str, Any] = {"controller": None, "depth": 0, "saved": []}


@contextlib.contextmanager
def _serial_blas(n: int) -> Iterator[None]:
    """One BLAS thread for the eigendecomposition of an ``n x n`` matrix up to :data:`SERIAL_EIGH_MAX`.

    Why: scipy and numpy wheels each bundle their own OpenBLAS with its own thread pool, and a
    pool's threads keep spinning for a while after each call. The eigensolver (scipy's pool)
    runs between the fits' matrix products (numpy's pool), so with every pool at the core count
    the two fight for the cores. Measured on 2 cores, ``eigh`` of X'X followed by the products of
    a fit, per matrix (2 threads -> 1 thread): 512: 79 -> 51 ms, 1000: 255 -> 189 ms, but 2000:
    1037 -> 1337 ms, 3200: 3.5 -> 6.5 s (large ones need the threads). ``fit_and_score`` on the
    demo's 512-feature layers ran 2.3x faster (benchmarks/bench_pipeline.py). The limit covers
    the BLAS bundled with scipy only (limiting numpy's pool too, and restoring it after every
    call, measured 1.5x slower), and nothing when scipy shares numpy's BLAS. The limit holds for
    the whole process while any such call runs: concurrent calls (fits in several threads) share
    it, the first sets it and the last restores the count found by the first.
    """
    if n > SERIAL_EIGH_MAX:
        yield
        return
    with _blas_lock:
        st = _blas_state
        if st["controller"] is None:
            st["controller"] = _scipy_blas_controller()
        if st["depth"] == 0:
            libs = st["controller"].lib_controllers
            st["saved"] = [lib.num_threads for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
        st["depth"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            st["depth"] -= 1
            if st["depth"] == 0:
                for lib, count in zip(st["controller"].lib_controllers, st["saved"], strict=True):
                    lib.set_num_threads(count)


def _scipy_blas_controller() -> ThreadpoolController:
    """The BLAS library that scipy's wheel bundles (in ``scipy.libs`` or inside the package), or
    none: a BLAS that scipy shares with numpy (a conda install) has one pool and nothing to fight."""
    blas = ThreadpoolController().select(user_api="blas")
    here = Path(scipy.__file__).resolve().parent
    own = [lib.filepath for lib in blas.lib_controllers
           if Path(lib.filepath).resolve().parent.name == "scipy.libs" or here in Path(lib.filepath).resolve().parents]
    return blas.select(filepath=own)


class Backend:
    """Array operations for one library, dtype and device.

    Parameters
    ----------
    name : {"numpy", "torch"}
    dtype : numpy dtype (float32 or float64)
    device : torch.device
        Always CPU for numpy.
    """

    def __init__(self, name: str, dtype: np.dtype, device: torch.device):
        self.name = name
        self.dtype = dtype
        self.device = device
        self.torch_dtype = torch.float32 if dtype == np.float32 else torch.float64

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, dtype={self.dtype.name}, device={self.device})"

    # ------------------------------------------------------------------ conversion
    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Array of this backend (same dtype as ``self.dtype`` unless ``dtype`` is given)."""
        if self.name == "numpy":
            if isinstance(x, torch.Tensor):
                x = x.detach().cpu().numpy()
            return np.asarray(x, dtype=self.dtype if dtype is None else dtype)
        tdtype = self.torch_dtype if dtype is None else dtype
        if isinstance(x, torch.Tensor):
            return x.to(device=self.device, dtype=tdtype)
        return torch.as_tensor(np.asarray(x), device=self.device).to(tdtype)

    def index(self, idx: np.ndarray) -> Any:
        """Integer index array usable for fancy indexing in this backend."""
        if self.name == "numpy":
            return np.asarray(idx, dtype=np.intp)
        return torch.as_tensor(np.asarray(idx, dtype=np.int64), device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    # ------------------------------------------------------------------ creation
    def empty(self, shape: tuple[int, ...]) -> Any:
        if self.name == "numpy":
            return np.empty(shape, dtype=self.dtype)
        return torch.empty(shape, dtype=self.torch_dtype, device=self.device)

    def zeros(self, shape: tuple[int, ...]) -> Any:
        if self.name == "numpy":
            return np.zeros(shape, dtype=self.dtype)
        return torch.zeros(shape, dtype=self.torch_dtype, device=self.device)

    def full(self, shape: tuple[int, ...], value: float) -> Any:
        if self.name == "numpy":
            return np.full(shape, value, dtype=self.dtype)
        return torch.full(shape, value, dtype=self.torch_dtype, device=self.device)

    # ------------------------------------------------------------------ arithmetic
    def mean0(self, x: Any) -> Any:
        """Column means accumulated in float64 (avoids float32 drift over thousands of rows),
        returned in the working dtype."""
        if self.name == "numpy":
            return x.mean(axis=0, dtype=np.float64).astype(self.dtype)
        return x.mean(dim=0, dtype=torch.float64).to(self.torch_dtype)

    def gram(self, a: Any) -> Any:
        """``a @ a.T``. numpy/OpenBLAS turns this into a symmetric rank-k update (half the flops)."""
        return a @ a.T

    def eigh(self, a: Any, overwrite: bool = False) -> tuple[Any, Any]:
        """Eigenvalues (ascending) and eigenvectors of a symmetric matrix.

        Raises
        ------
        ValueError
            When the eigensolver fails (non-finite entries or no convergence), naming the matrix
            size and dtype, instead of a raw ``LinAlgError``.
        """
        try:
            if self.name == "numpy":
                # "evd" (divide and conquer) is ~2x faster than numpy.linalg.eigh here and much faster
                # than scipy's default "evr" when all eigenvectors are needed.
                with _serial_blas(a.shape[0]):
                    return scipy.linalg.eigh(a, driver="evd", overwrite_a=overwrite, check_finite=False)
            return torch.linalg.eigh(a)
        except (np.linalg.LinAlgError, torch.linalg.LinAlgError) as err:
            n = tuple(a.shape)
            raise ValueError(
                f"ridge: the eigendecomposition of a {n[0]} x {n[1]} {self.dtype.name} matrix (X'X or XX') failed "
                f"({err}); the features are likely degenerate or far from unit scale: standardise them, or use "
                "dtype='float64'") from err

    def clamp_min(self, x: Any, value: float) -> Any:
        if self.name == "numpy":
            return np.maximum(x, value)
        return torch.clamp(x, min=value)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if self.name == "numpy":
            return np.where(cond, a, b)
        return torch.where(cond, a, b)

    def copy(self, x: Any) -> Any:
        return x.copy() if self.name == "numpy" else x.clone()

    def isfinite_all(self, x: Any) -> bool:
        if self.name == "numpy":
            return bool(np.isfinite(x).all())
        return bool(torch.isfinite(x).all().item())


def get_backend(backend: str = "auto", dtype: Any = "float32", device: str | torch.device | None = None) -> Backend:
    """Choose the array backend.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch"}
        ``"auto"``: torch when the resolved device is CUDA, numpy otherwise.
    dtype : {"float32", "float64"}
    device : str, torch.device or None
        Resolved with :func:`brainfit.device.resolve_device` (CPU unless asked otherwise).
    """
    np_dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    if backend not in ("auto", "numpy", "torch"):
        raise ValueError(f"backend must be 'auto', 'numpy' or 'torch', got {backend!r}")
    if backend == "auto":
        backend = "torch" if dev.type != "cpu" else "numpy"
    if backend == "numpy" and dev.type != "cpu":
        raise ValueError(f"the numpy backend runs on CPU only, but device {dev} was requested; use backend='torch'")
    return Backend(backend, np_dtype, dev)
