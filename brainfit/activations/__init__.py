"""Time-resolved activation extraction with bounded memory and a content-addressed cache.

:func:`extract` runs a model over a :class:`~brainfit.stimuli.StimulusSet` batch by batch and
returns ``DataArray(presentation x neuroid x time_step)`` with neuroid coords ``layer``,
``unit``, ``region`` and ``arrival_step`` (first step at which the layer's output exists; the
values before it are zeros).

Memory stays flat in the number of stimuli: layer outputs are captured through
:mod:`brainfit.models.capture` and reduced as soon as they are produced (spatial pooling, then a
seeded random projection or PCA to a fixed width; :mod:`.reduce`), each batch is written to an
HDF5/netCDF file, and the result is opened lazily from that file.

The cache file (:mod:`.cache`) is named by a key over everything that determines the numbers: a
hash of the model's weights and buffers, its architecture, the stimulus fingerprint (ids and image
bytes), the preprocessing, the layers, the reduction, the schedule and the brainfit version. A
file is written as ``<key>.partial.nc`` and renamed when complete; an interrupted extraction
resumes from its last completed batch; a damaged file is detected, removed and recomputed with a
warning.

Modules: :mod:`.reduce` (pooling, random projection, PCA), :mod:`.cache` (key, file format,
damage detection), :mod:`.extraction` (``extract`` and the batch loop), :mod:`.maps`
(:func:`layer_maps`: one layer's unreduced channel maps for one image at every step, for figures).
"""

from brainfit.activations.cache import architecture_hash, default_cache_dir, open_activations, weights_hash
from brainfit.activations.extraction import extract
from brainfit.activations.maps import layer_maps
from brainfit.activations.reduce import PCAProjection, RandomProjection, Reducer

__all__ = ["RandomProjection", "PCAProjection", "extract", "weights_hash", "architecture_hash", "open_activations",
           "default_cache_dir", "Reducer", "layer_maps"]
