"""Reductions of one layer's output to a fixed number of features: spatial pooling, then a seeded
random projection or a PCA basis fitted on a seeded subset of the stimuli.

Every reduction acts on a batch (B, C, H, W) (or (B, d)) of one layer at one time step and
returns (B, F); the same matrix serves every time step of a layer, so changes over time are
preserved. The settings (:meth:`Reducer.key`) enter the activation cache key.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from brainfit.stimuli import StimulusSet

__all__ = ["RandomProjection", "PCAProjection", "Reducer"]

# One batch of reduced features: layer -> one (B, F) tensor per time step (None before arrival).
LayerFeatures = dict[str, list["torch.Tensor | None"]]


@dataclass(frozen=True)
class RandomProjection:
    """Seeded random projection of each layer to ``width`` features (Johnson-Lindenstrauss).

    The same matrix is used at every time step of a layer, so temporal changes are preserved.

    Parameters
    ----------
    width : int
        Output features per layer (layers already at most this wide are kept as they are
        unless ``always`` is True).
    kind : {"sparse", "gaussian"}
        ``"sparse"``: very sparse projection (Li, Hastie & Church 2006) with density
        ``1/sqrt(d)``, entries ``±sqrt(sqrt(d)/width)``; ``"gaussian"``: N(0, 1/width) entries.
        Both preserve inner products in expectation.
    seed : int
    always : bool
        Project even layers narrower than ``width``.
    """

    width: int = 1000
    kind: str = "sparse"
    seed: int = 0
    always: bool = False

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"projection width must be >= 1, got {self.width}")
        if self.kind not in ("sparse", "gaussian"):
            raise ValueError(f"projection kind must be 'sparse' or 'gaussian', got {self.kind!r}")

    def matrix(self, layer: str, d: int, device: torch.device) -> Any:
        """Projection matrix of ``layer`` for ``d`` input features.

        Returns
        -------
        torch.Tensor or None
            ``"gaussian"``: a dense (d, width) tensor; ``"sparse"``: a (width, d) CSR sparse tensor
            ``P^T`` (output ``j`` sums ``k ~ sqrt(d)`` signed inputs); None when the layer is kept
            as it is. A pure function of ``(seed, layer, d)``.
        """
        m = self._shared_matrix(layer, d, device)
        shared = m is not None and m.layout == torch.sparse_csr and m.device.type == "cpu"
        return m.to(device, copy=True) if shared else m  # elsewhere .to(device) already copied it

    def _shared_matrix(self, layer: str, d: int, device: torch.device) -> Any:
        """:meth:`matrix` without the copy: a sparse one is shared by every caller in this process
        (:func:`_sparse_matrix`), so it must not be modified (what :class:`Reducer` uses)."""
        if d <= self.width and not self.always:
            return None
        if self.kind == "gaussian":  # dense (d x width): too large to keep around
            g = torch.Generator().manual_seed(_matrix_seed(self.seed, layer, d))
            return (torch.randn(d, self.width, generator=g) / np.sqrt(self.width)).to(device)
        return _sparse_matrix(self.width, self.seed, layer, d).to(device)

    @staticmethod
    def apply(m: Any, x: torch.Tensor) -> torch.Tensor:
        """Project a batch (B, d) with a matrix from :meth:`matrix` -> (B, width).

        The sparse product is a weighted sum of ``k`` gathered input features per output, done as
        an ``embedding_bag`` over the features of ``x`` (measured 2x faster than the CSR product on
        CPU); its result is returned as a transposed view of a ``(width, B)`` tensor.
        """
        if m.layout == torch.sparse_csr:  # the CSR row pointers are the bags' offsets
            return nn.functional.embedding_bag(m.col_indices(), x.T.contiguous(), m.crow_indices()[:-1],
                                               per_sample_weights=m.values(), mode="sum").T
        return x @ m


def _matrix_seed(seed: int, layer: str, d: int) -> int:
    return int(hashlib.sha256(f"{seed}:{layer}:{d}".encode()).hexdigest()[:12], 16)


@functools.lru_cache(maxsize=64)
def _sparse_matrix(width: int, seed: int, layer: str, d: int) -> torch.Tensor:
    """The sparse :meth:`RandomProjection.matrix` on the CPU, kept for the next extraction in this
    process (drawing the five layers' matrices of a small ConvRNN takes 0.24 s, and a zoo or a demo
    projects many models with the same layers and seed; each is ~12 bytes x width x sqrt(d)).
    Shared: never modified."""
    g = torch.Generator().manual_seed(_matrix_seed(seed, layer, d))
    s = np.sqrt(d)
    k = max(1, int(round(d / s)))
    # k distinct input features per output, each with a random sign; magnitude sqrt(s/width)
    # makes E[P P^T] = I (each input feature is used ~width/s times).
    rows = torch.topk(torch.rand(width, d, generator=g), k, dim=1, sorted=False).indices \
        if d * width <= 50_000_000 \
        else torch.stack([torch.randperm(d, generator=g)[:k] for _ in range(width)])
    signs = torch.randint(0, 2, (width, k), generator=g).float() * 2 - 1
    rows, order = torch.sort(rows, dim=1)  # CSR wants sorted column indices per row
    vals = torch.gather(signs, 1, order) * np.sqrt(s / width)
    crow = torch.arange(0, width * k + 1, k, dtype=torch.int64)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product we use is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, rows.reshape(-1).to(torch.int64), vals.reshape(-1).float(),
                                       size=(width, d))


@dataclass(frozen=True)
class PCAProjection:
    """PCA to ``n_components`` per layer, fitted on a seeded subset of stimuli.

    The basis is fitted on ``n_fit`` stimuli (drawn with ``seed``) at up to ``max_fit_steps``
    time steps spread over the unroll, then applied to every stimulus and step.
    """

    n_components: int = 500
    n_fit: int = 256
    seed: int = 0
    max_fit_steps: int = 4

    def __post_init__(self) -> None:
        if self.n_components < 1 or self.n_fit < 2:
            raise ValueError("PCAProjection needs n_components >= 1 and n_fit >= 2")


class Reducer:
    """Spatial pooling then projection of one layer's output (B, C, H, W) -> (B, F).

    Parameters
    ----------
    pooling : None, "avg", "max" or int
        Spatial reduction (int k: adaptive average pool to k x k; None: flatten).
    projection : RandomProjection, PCAProjection or None
    device : torch.device
        Where projection matrices live (the device the layer outputs are on).

    Attributes
    ----------
    pca : dict layer -> (mean (d,), components (d, k))
        PCA bases, filled by :func:`_fit_pca` before a :class:`PCAProjection` can be applied.
    """

    def __init__(self, pooling: str | int | None, projection: RandomProjection | PCAProjection | None,
                 device: torch.device):
        if pooling not in (None, "avg", "max") and not (isinstance(pooling, int) and pooling >= 1):
            raise ValueError("pooling must be None, 'avg', 'max' or a positive int (adaptive avg grid), "
                             f"got {pooling!r}")
        self.pooling = pooling
        self.projection = projection
        self.device = device
        self._mats: dict[str, Any] = {}
        self.pca: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial pooling of (B, C, H, W) (or any (B, ...)) -> (B, d); (B, d) passes through."""
        if x.dim() == 2:
            return x
        if self.pooling == "avg":
            x = x.mean(dim=tuple(range(2, x.dim())))
        elif self.pooling == "max":
            x = x.amax(dim=tuple(range(2, x.dim())))
        elif isinstance(self.pooling, int) and x.dim() == 4:
            x = nn.functional.adaptive_avg_pool2d(x, self.pooling)
        return x.flatten(1)

    def __call__(self, layer: str, x: torch.Tensor) -> torch.Tensor:
        """Reduce one output of ``layer``: (B, ...) -> float32 (B, F).

        The result never shares memory with ``x``: features are written to disk while the model
        runs on, and a model may reuse or update its output tensors in place.
        """
        out = self._reduce(layer, x)
        return out.clone() if out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() else out

    def _reduce(self, layer: str, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x.float())
        p = self.projection
        if isinstance(p, RandomProjection):
            if layer not in self._mats:
                self._mats[layer] = p._shared_matrix(layer, x.shape[1], x.device)
            m = self._mats[layer]
            if m is not None:
                return RandomProjection.apply(m, x)
        if isinstance(p, PCAProjection):
            if layer not in self.pca:
                raise RuntimeError(f"PCA basis for layer {layer!r} has not been fitted")
            mean, comps = self.pca[layer]
            return (x - mean) @ comps
        return x

    def key(self) -> dict:
        """The reduction settings as they enter the cache key (JSON-serialisable).

        A sparse random projection also records how its product is summed (``"product":
        "embedding_bag"``): the sum order changed from the CSR product of earlier versions, which
        moves the last bits of the features, and a key promises the same numbers bit for bit.
        """
        proj = None if self.projection is None else {"type": type(self.projection).__name__, **asdict(self.projection)}
        if isinstance(self.projection, RandomProjection) and self.projection.kind == "sparse":
            proj["product"] = "embedding_bag"
        return {"pooling": self.pooling, "projection": proj}


def _pca_fit_subset(p: PCAProjection, stimuli: StimulusSet) -> StimulusSet:
    """The ``min(n_fit, N)`` stimuli, drawn with ``p.seed``, that a PCA basis is fitted on (in set order)."""
    rng = np.random.default_rng(p.seed)
    n_fit = min(p.n_fit, len(stimuli))
    pick = np.sort(rng.choice(len(stimuli), n_fit, replace=False))
    return stimuli.subset(list(np.asarray(stimuli.stimulus_ids)[pick]))


def _fit_pca(reducer: Reducer, names: Sequence[str], batches: Iterable[LayerFeatures]) -> None:
    """Fit ``reducer``'s PCA basis of every layer in ``names`` and store it in ``reducer.pca``.

    Parameters
    ----------
    reducer : Reducer
        Its ``projection`` is the :class:`PCAProjection` to fit.
    names : sequence of str
        Layers to fit.
    batches : iterable of dict layer -> list of (B, d) tensors or None
        Pooled, unprojected features of the fit stimuli (:func:`_pca_fit_subset`), one list entry
        per time step, None before the layer's arrival. Of each layer's valid steps, up to
        ``max_fit_steps`` evenly spread ones are used.
    """
    p = reducer.projection
    if not isinstance(p, PCAProjection):
        raise TypeError(f"_fit_pca needs a PCAProjection, got {type(p).__name__}")
    collected: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    for feats in batches:
        for name in names:
            valid = [t for t, f in enumerate(feats[name]) if f is not None]
            pick = np.unique(np.linspace(0, len(valid) - 1, min(p.max_fit_steps, len(valid))).round().astype(int))
            collected[name].extend(feats[name][valid[i]] for i in pick)
    for name, chunks in collected.items():
        data = torch.cat(chunks).double()
        mean = data.mean(0)
        k = min(p.n_components, data.shape[0] - 1, data.shape[1])
        _, _, v = torch.linalg.svd(data - mean, full_matrices=False)
        reducer.pca[name] = (mean.float(), v[:k].T.float().contiguous())
