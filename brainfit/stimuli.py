"""Stimulus sets: ids, a metadata table, and images from a folder, a zip or an array.

A :class:`StimulusSet` pairs each ``stimulus_id`` with one image and a row of metadata
(``category``, ``object_name``, ``variation``...). Images are decoded on demand and turned into
normalised float batches by a deterministic :class:`Preprocessing` (antialiased resize, then
per-channel normalisation), so the same stimulus always yields the same tensor.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

from brainfit.assembly import STIMULUS_ID

__all__ = ["Preprocessing", "StimulusSet", "IMAGE_EXTENSIONS", "decode_image", "images_to_tensor", "is_image_name"]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def is_image_name(name: str | os.PathLike) -> bool:
    """True for an image file or zip member name; False for other files and for the hidden ones.

    Hidden names are skipped: a path component starting with ``.`` (``.DS_Store``, the
    AppleDouble ``._img0.jpg`` files macOS writes next to every file) or a ``__MACOSX`` folder
    (where macOS zips keep them), which carry an image extension but hold no image.
    """
    parts = [p for p in str(name).replace("\\", "/").split("/") if p]
    if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return os.path.splitext(parts[-1])[1].lower() in IMAGE_EXTENSIONS

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}


@dataclass(frozen=True)
class Preprocessing:
    """Deterministic image preprocessing: RGB, antialiased resize, scale to [0, 1], normalise.

    Parameters
    ----------
    size : int or None
        Output side length in pixels (square); ``None`` keeps the native size (all images of a
        batch must then share it).
    mean, std : tuple of 3 floats
        Per-channel normalisation applied after scaling to [0, 1]. A normalised zero is the mean
        gray shown after stimulus offset.
    interpolation : {"bilinear", "bicubic", "lanczos", "box", "nearest"}
        PIL resampling filter; PIL widens the filter when shrinking, which antialiases.
    """

    size: int | None = None
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if self.size is not None and (int(self.size) != self.size or self.size < 1):
            raise ValueError(f"Preprocessing.size must be a positive integer or None, got {self.size!r}")
        if self.interpolation not in _RESAMPLE:
            raise ValueError(f"unknown interpolation {self.interpolation!r}; choose from {sorted(_RESAMPLE)}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("Preprocessing.mean and .std need 3 values (RGB)")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Preprocessing.std must be > 0, got {self.std}")
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def to_dict(self) -> dict[str, Any]:
        """Settings as a plain dict (for configs and cache keys)."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    def resize(self, image: np.ndarray) -> np.ndarray:
        """Resize one uint8 HxWx3 image to ``size`` (no-op when ``size`` is None or equal)."""
        if self.size is None or image.shape[:2] == (self.size, self.size):
            return image
        pil = Image.fromarray(image)
        return np.asarray(pil.resize((self.size, self.size), resample=_RESAMPLE[self.interpolation]))

    def to_tensor(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Stack uint8 HxWx3 images into a normalised float32 tensor of shape (B, 3, H, W)."""
        return images_to_tensor(np.stack([self.resize(im) for im in images]), self.mean, self.std)


def images_to_tensor(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The one uint8 -> tensor conversion: (B, H, W, 3) uint8 -> (B, 3, H, W) float32, scaled to
    [0, 1] and normalised per channel, ``(x - mean) / std``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    m = torch.tensor(tuple(mean), dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(tuple(std), dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub_(m).div_(s).contiguous()


# ----------------------------------------------------------------------------- image sources


def decode_image(data: bytes | str | os.PathLike, label: str) -> np.ndarray:
    """The one image decoder: bytes or a file -> uint8 (H, W, 3) RGB; ``label`` names the image in errors."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
            im.load()
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"image file not found: {label}") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot decode image {label}: {err}") from err


class _ArraySource:
    kind = "array"

    def __init__(self, images: np.ndarray):
        images = np.asarray(images)
        if images.ndim == 3:
            images = np.repeat(images[..., None], 3, axis=-1)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"image array must have shape (N, H, W, 3) or (N, H, W), got {images.shape}")
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        if images.dtype != np.uint8:
            if images.dtype.kind != "f":
                raise ValueError(f"image array must be uint8 or float in [0, 1], got dtype {images.dtype}")
            if not np.all(np.isfinite(images)):
                raise ValueError("image array contains NaN or inf")
            if images.min() < 0 or images.max() > 1:
                raise ValueError(f"float image array must lie in [0, 1], got range [{images.min():g}, {images.max():g}]")
            images = np.round(images * 255).astype(np.uint8)
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def load(self, i: int) -> np.ndarray:
        return self.images[i]

    def label(self, i: int) -> str:
        return f"array[{i}]"

    def digest(self, h: Any, i: int) -> None:
        h.update(self.images[i].tobytes())

    def subset(self, idx: np.ndarray) -> _ArraySource:
        return _ArraySource(self.images[idx])


class _FileSource:
    kind = "folder"

    def __init__(self, paths: Sequence[str | os.PathLike]):
        self.paths = [Path(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> np.ndarray:
        return decode_image(self.paths[i], str(self.paths[i]))

    def label(self, i: int) -> str:
        return str(self.paths[i])

    def digest(self, h: Any, i: int) -> None:
        try:
            h.update(self.paths[i].read_bytes())
        except FileNotFoundError as err:
            raise FileNotFoundError(f"image file not found: {self.paths[i]}") from err

    def subset(self, idx: np.ndarray) -> _FileSource:
        return _FileSource([self.paths[i] for i in idx])


class _ZipSource:
    """Images read straight from a zip archive (no extraction); one handle per process."""

    kind = "zip"

    def __init__(self, path: str | os.PathLike, members: Sequence[str]):
        self.path = Path(path)
        self.members = list(members)
        self._zip: zipfile.ZipFile | None = None
        self._pid: int | None = None

    def __getstate__(self) -> dict:  # picklable for worker processes (handles are not)
        return {"path": self.path, "members": self.members, "_zip": None, "_pid": None}

    def _handle(self) -> zipfile.ZipFile:
        if self._zip is None or self._pid != os.getpid():
            self._zip = zipfile.ZipFile(self.path)
            self._pid = os.getpid()
        return self._zip

    def __len__(self) -> int:
        return len(self.members)

    def _read(self, i: int) -> bytes:
        try:
            return self._handle().read(self.members[i])
        except KeyError as err:
            raise FileNotFoundError(f"member {self.members[i]!r} not found in {self.path}") from err
        except (zipfile.BadZipFile, OSError) as err:
            raise ValueError(f"cannot read member {self.members[i]!r} of {self.path}: {err}") from err

    def load(self, i: int) -> np.ndarray:
        return decode_image(self._read(i), self.label(i))

    def label(self, i: int) -> str:
        return f"{self.path}:{self.members[i]}"

    def digest(self, h: Any, i: int) -> None:
        h.update(self._read(i))

    def subset(self, idx: np.ndarray) -> _ZipSource:
        return _ZipSource(self.path, [self.members[i] for i in idx])


# ----------------------------------------------------------------------------- stimulus set


class StimulusSet:
    """Stimulus ids, their metadata and their images.

    Parameters
    ----------
    stimulus_ids : sequence of str
        Unique ids, one per image, in image order.
    source : image source
        Built by :meth:`from_folder`, :meth:`from_zip` or :meth:`from_array`; use those.
    metadata : DataFrame or mapping of column -> values, optional
        One row per stimulus, in the same order (a ``stimulus_id`` column, if present, must match).
    name : str
        Short name (used in summaries and cache keys).
    """

    def __init__(self, stimulus_ids: Sequence[str], source: Any, metadata: pd.DataFrame | Mapping | None = None,
                 *, name: str = "stimuli"):
        ids = np.asarray([str(s) for s in stimulus_ids], dtype=object)
        if len(ids) != len(source):
            raise ValueError(f"{len(ids)} stimulus ids for {len(source)} images")
        if len(ids) == 0:
            raise ValueError("a StimulusSet needs at least one stimulus")
        dup = sorted(s for s, c in Counter(ids).items() if c > 1)
        if dup:
            raise ValueError(f"duplicate stimulus ids: {dup[:5]}")
        meta = pd.DataFrame(metadata if metadata is not None else {}).reset_index(drop=True)
        if len(meta.columns) and len(meta) != len(ids):
            raise ValueError(f"metadata has {len(meta)} rows for {len(ids)} stimuli")
        if STIMULUS_ID in meta.columns:
            if not np.array_equal(meta[STIMULUS_ID].astype(str).to_numpy(), ids.astype(str)):
                raise ValueError("metadata column 'stimulus_id' does not match the stimulus ids (order matters)")
            meta = meta.drop(columns=[STIMULUS_ID])
        meta.insert(0, STIMULUS_ID, ids)
        self.metadata: pd.DataFrame = meta
        self.source = source
        self.name = name
        self._fingerprint: str | None = None

    # -------------------------------------------------------------- constructors
    @classmethod
    def from_array(cls, images: np.ndarray, stimulus_ids: Sequence[str] | None = None,
                   metadata: pd.DataFrame | Mapping | None = None, *, name: str = "array") -> StimulusSet:
        """Images from an array (N, H, W, 3) uint8, or float in [0, 1]."""
        src = _ArraySource(images)
        ids = stimulus_ids if stimulus_ids is not None else [f"{name}_{i:05d}" for i in range(len(src))]
        return cls(ids, src, metadata, name=name)

    @classmethod
    def from_folder(cls, root: str | os.PathLike, *, metadata: pd.DataFrame | None = None,
                    filename_column: str = "filename", recursive: bool = False, name: str | None = None) -> StimulusSet:
        """Images from a folder.

        Without ``metadata``, every image file in ``root`` (sorted) becomes a stimulus whose id is the
        path relative to ``root`` without extension. With ``metadata``, it needs ``stimulus_id`` and
        ``filename_column`` (path relative to ``root``) columns; missing files raise, naming them.
        """
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"stimulus folder not found: {root}")
        if metadata is None:
            pattern = "**/*" if recursive else "*"
            files = sorted(p for p in root.glob(pattern) if is_image_name(p.relative_to(root)) and p.is_file())
            if not files:
                raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {root}")
            ids = [str(p.relative_to(root).with_suffix("")) for p in files]
            return cls(ids, _FileSource(files), None, name=name or root.name)
        for col in (STIMULUS_ID, filename_column):
            if col not in metadata.columns:
                raise ValueError(f"metadata needs a {col!r} column")
        files = [root / str(f) for f in metadata[filename_column]]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} image file(s) listed in metadata are missing, e.g. {missing[:3]}")
        return cls(metadata[STIMULUS_ID].astype(str).tolist(), _FileSource(files), metadata.reset_index(drop=True),
                   name=name or root.name)

    @classmethod
    def from_zip(cls, path: str | os.PathLike, *, members: Sequence[str] | None = None,
                 stimulus_ids: Sequence[str] | None = None, metadata: pd.DataFrame | None = None,
                 name: str | None = None) -> StimulusSet:
        """Images read directly from a zip archive (no extraction).

        Without ``members``, every image member (sorted by name) is used and its id is the member
        path without extension.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"stimulus zip not found: {path}")
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile as err:
            raise ValueError(f"not a valid zip archive: {path}: {err}") from err
        if members is None:
            members = sorted(n for n in names if is_image_name(n))
            if not members:
                raise ValueError(f"no image members in {path}")
        else:
            known = set(names)
            missing = [m for m in members if m not in known]
            if missing:
                raise FileNotFoundError(f"{len(missing)} member(s) not found in {path}, e.g. {missing[:3]}")
        ids = stimulus_ids if stimulus_ids is not None else [os.path.splitext(m)[0] for m in members]
        return cls(ids, _ZipSource(path, members), metadata, name=name or path.stem)

    # -------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.metadata)

    def __repr__(self) -> str:
        cols = [c for c in self.metadata.columns if c != STIMULUS_ID]
        return f"StimulusSet(name={self.name!r}, n={len(self)}, source={self.source.kind}, metadata={cols})"

    @property
    def stimulus_ids(self) -> np.ndarray:
        """Ids in image order, as an object array of str."""
        return self.metadata[STIMULUS_ID].to_numpy()

    def index_of(self, ids: Sequence[str]) -> np.ndarray:
        """Positions of ``ids``; raises naming the unknown ones."""
        pos = {s: i for i, s in enumerate(self.stimulus_ids)}
        missing = [s for s in ids if s not in pos]
        if missing:
            raise KeyError(f"{len(missing)} stimulus id(s) not in {self.name!r}, e.g. {missing[:5]}")
        return np.array([pos[s] for s in ids], dtype=int)

    def load_image(self, i: int | str) -> np.ndarray:
        """One image as uint8 (H, W, 3); ``i`` is a position or a stimulus id."""
        if isinstance(i, str):
            i = int(self.index_of([i])[0])
        return self.source.load(int(i))

    def images(self, indices: Sequence[int] | None = None, size: int | None = None) -> np.ndarray:
        """Stack images as uint8 (N, H, W, 3), optionally resized to ``size`` (antialiased)."""
        prep = Preprocessing(size=size)
        idx = range(len(self)) if indices is None else indices
        return np.stack([prep.resize(self.source.load(int(i))) for i in idx])

    def subset(self, ids: Sequence[str]) -> StimulusSet:
        """A new StimulusSet with ``ids`` in the given order."""
        idx = self.index_of([str(s) for s in ids])
        return StimulusSet(self.stimulus_ids[idx], self.source.subset(idx), self.metadata.iloc[idx].reset_index(drop=True),
                           name=self.name)

    def batches(self, batch_size: int = 64, preprocessing: Preprocessing | None = None,
                start: int = 0) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Iterate over ``(stimulus_ids, images)`` with images a float32 tensor (B, 3, H, W).

        ``start`` skips the first stimuli (used to resume an interrupted extraction).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        prep = preprocessing or Preprocessing()
        ids = self.stimulus_ids
        for lo in range(start, len(self), batch_size):
            hi = min(lo + batch_size, len(self))
            yield ids[lo:hi], prep.to_tensor([self.source.load(i) for i in range(lo, hi)])

    def fingerprint(self) -> str:
        """SHA-256 over ids and image bytes: changes when any id or image changes (cache keys)."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for i, sid in enumerate(self.stimulus_ids):
                h.update(str(sid).encode() + b"\0")
                self.source.digest(h, i)
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def presentation_coords(self) -> dict[str, np.ndarray]:
        """Metadata columns (excluding ``stimulus_id``) as presentation coords for assemblies."""
        out = {}
        for col in self.metadata.columns:
            if col == STIMULUS_ID:
                continue
            vals = self.metadata[col].to_numpy()
            out[col] = vals.astype(object) if vals.dtype.kind in "OUS" else vals
        return out
