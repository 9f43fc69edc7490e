"""Image-classification data for task training: folders, zips and the synthetic object set.

Everything is held in memory as uint8 arrays (CIFAR-10's 60,000 32 px images take 184 MB) and
turned into float batches on the fly, so an epoch's order and augmentation depend only on
``(seed, epoch)``: a resumed run sees exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from brainfit.stimuli import Preprocessing, decode_image, is_image_name

__all__ = ["ClassificationData", "load_image_folder", "load_image_zip", "load_synthetic_objects",
           "load_classification_data", "train_val_split", "augment_batch", "epoch_batches"]

log = logging.getLogger(__name__)

# CIFAR-10 statistics on [0, 1] RGB; used as the default normalisation for 32 px training.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass
class ClassificationData:
    """Images and integer labels.

    Attributes
    ----------
    images : uint8 array (N, H, W, 3)
    labels : int64 array (N,)
    classes : list of str
        ``classes[label]`` is the class name.
    source : str
        Where the data came from (for configs and logs).
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    source: str

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {self.images.dtype} {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"labels must lie in 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> ClassificationData:
        return ClassificationData(self.images[idx], self.labels[idx], self.classes, self.source)


def _decode(data: bytes, label: str, size: int | None) -> np.ndarray:
    arr = decode_image(data, label)
    return Preprocessing(size=size).resize(arr) if size else arr


def _stack(images: list[np.ndarray], labels: list[int], classes: list[str], source: str) -> ClassificationData:
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"images in {source} have different sizes {sorted(shapes)[:3]}; pass image_size= to resize")
    return ClassificationData(np.stack(images), np.asarray(labels, dtype=np.int64), classes, source)


def load_image_folder(root: str | os.PathLike, *, image_size: int | None = None, progress: bool = True) -> ClassificationData:
    """A folder with one subfolder per class (``root/<class>/<image>``); classes sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir()
                     if p.is_dir() and not p.name.startswith(".") and p.name != "__MACOSX")
    if not classes:
        raise ValueError(f"{root} has no class subfolders")
    images, labels = [], []
    files = [(c, p) for c, name in enumerate(classes) for p in sorted((root / name).iterdir())
             if is_image_name(p.name) and p.is_file()]
    if not files:
        raise ValueError(f"no images in the class subfolders of {root}")
    for label, path in tqdm(files, desc=f"decoding {root.name}", disable=not progress, leave=False):
        images.append(_decode(path.read_bytes(), str(path), image_size))
        labels.append(label)
    return _stack(images, labels, classes, str(root))


def load_image_zip(path: str | os.PathLike, *, split: str | None = None, image_size: int | None = None,
                   progress: bool = True) -> ClassificationData:
    """A zip of class folders, read without extraction.

    Members are ``[<prefix>/][<split>/]<class>/<image>``; with ``split`` (e.g. ``"train"``) only
    members under a ``<split>/`` folder are used. The shared CIFAR-10 JPEG zip reads directly:
    ``load_image_zip(".../cifar10_jpeg.zip", split="test")``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image zip not found: {path}")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(f"not a valid zip archive: {path}: {err}") from err
    with zf:
        entries = []
        for name in zf.namelist():
            parts = name.split("/")
            if len(parts) < 2 or not is_image_name(name):
                continue
            if split is not None:
                if split not in parts[:-2]:
                    continue
            entries.append((parts[-2], name))
        if not entries:
            where = f" under a {split!r} folder" if split else ""
            raise ValueError(f"no images in class folders{where} in {path}")
        classes = sorted({c for c, _ in entries})
        index = {c: i for i, c in enumerate(classes)}
        entries.sort(key=lambda e: (index[e[0]], e[1]))
        images, labels = [], []
        for cls, name in tqdm(entries, desc=f"decoding {path.name}" + (f":{split}" if split else ""),
                              disable=not progress, leave=False):
            images.append(_decode(zf.read(name), f"{path}:{name}", image_size))
            labels.append(index[cls])
    return _stack(images, labels, classes, f"{path}" + (f":{split}" if split else ""))


def load_synthetic_objects(*, images_per_object: int = 60, seed: int = 100, label: str = "category",
                           image_size: int | None = None, network_seed: int = 1234) -> ClassificationData:
    """The synthetic object world as a classification task (labels: ``category`` or ``object_name``).

    Uses a different ``seed`` from the recordings' default (0) so training and test images differ.
    """
    from brainfit.data import CATEGORIES
    from brainfit.data.synthetic import make_design, make_objects, render_images

    if label not in ("category", "object_name"):
        raise ValueError(f"label must be 'category' or 'object_name', got {label!r}")
    objects = make_objects(len(CATEGORIES), 4, network_seed)
    design = make_design(objects, images_per_object, seed=[seed, 11])
    images = render_images(objects, design, 64)
    if image_size and image_size != 64:
        images = np.stack([Preprocessing(size=image_size).resize(im) for im in images])
    names = [row[label] for row in design]
    classes = list(CATEGORIES) if label == "category" else [o.name for o in objects]
    labels = [classes.index(n) for n in names]
    return ClassificationData(images, np.asarray(labels, dtype=np.int64), classes, f"synthetic:{label}")


def load_classification_data(spec: str, *, split: str | None = None, image_size: int | None = None,
                             progress: bool = True) -> ClassificationData:
    """Load data from a spec: a folder, a ``.zip``, or ``synthetic[:category|:object_name]``."""
    if spec.startswith("synthetic"):
        label = spec.split(":", 1)[1] if ":" in spec else "category"
        seed = 100 if split in (None, "train") else 200
        return load_synthetic_objects(label=label, seed=seed, image_size=image_size)
    path = Path(spec)
    if path.suffix.lower() == ".zip":
        return load_image_zip(path, split=split, image_size=image_size, progress=progress)
    if split is not None and (path / split).is_dir():
        path = path / split
    return load_image_folder(path, image_size=image_size, progress=progress)


def train_val_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split: indices ``(train, val)``, each sorted."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng([seed, 7])
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n_val = int(round(val_fraction * len(idx)))
        val.append(rng.permutation(idx)[:n_val])
    val_idx = np.sort(np.concatenate(val)) if val else np.array([], dtype=int)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx, val_idx


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``, i.e. mean gray after normalisation) and horizontal flip.

    ``x`` is a normalised float batch (B, C, H, W); the randomness comes only from ``generator``.
    """
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    offs = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator)
    flips = torch.rand(b, generator=generator) < 0.5
    rows = (offs[:, 0, None] + torch.arange(h)[None, :])  # (B, H)
    cols = (offs[:, 1, None] + torch.arange(w)[None, :])  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    idx_b = torch.arange(b)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx_b, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, *, shuffle: bool = True,
                  drop_last: bool = True) -> list[np.ndarray]:
    """Index batches of one epoch, a pure function of ``(seed, epoch)``."""
    order = np.random.default_rng([seed, 13, epoch]).permutation(n) if shuffle else np.arange(n)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]


