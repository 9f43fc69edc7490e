"""The data model: names of dims and coords, constructors, validators and helpers.

Everything is a plain :class:`xarray.DataArray` (no subclass, no MultiIndex):

* neural assemblies have dims ``("presentation", "neuroid", "time_bin")``; ``presentation``
  carries ``stimulus_id`` (str), optionally ``repetition`` (int, single trials) and stimulus
  metadata; ``neuroid`` carries ``neuroid_id`` and usually ``region``/``animal``/``session``;
  ``time_bin`` carries ``time_bin_start``/``time_bin_end`` in ms after stimulus onset.
* activation assemblies have dims ``("presentation", "neuroid", "time_step")``; ``neuroid``
  carries ``layer``, ``unit`` and (when assigned) ``region``; ``time_step`` is an integer coord.

The names match Brain-Score/BrainIO assemblies so their data can be read without renaming.
Data are always matched by coordinate (``stimulus_id``, ``time_bin_*``), never by position.
Every validator raises :class:`ValueError` naming the missing dim/coord, the non-finite values or
the mismatched ids; bad input never yields a number.
"""

from brainfit.assembly.build import activation_assembly, make_time_bins, neural_assembly
from brainfit.assembly.names import (
    ACTIVATION_DIMS, LAYER, NEURAL_DIMS, NEUROID, NEUROID_ID, PRESENTATION, REGION, REPETITION, STIMULUS_ID,
    TIME_BIN, TIME_BIN_END, TIME_BIN_START, TIME_STEP, UNIT,
)
from brainfit.assembly.ops import align, average_repetitions, load_assembly, reorder_to, save_assembly, select_region
from brainfit.assembly.validate import (
    has_repetitions, is_activations, is_neural, short_list, stimulus_ids, validate_activations, validate_neural,
)

__all__ = [
    "PRESENTATION", "NEUROID", "TIME_BIN", "TIME_STEP",
    "STIMULUS_ID", "REPETITION", "NEUROID_ID", "REGION", "LAYER", "UNIT",
    "TIME_BIN_START", "TIME_BIN_END", "NEURAL_DIMS", "ACTIVATION_DIMS",
    "make_time_bins", "neural_assembly", "activation_assembly",
    "validate_neural", "validate_activations", "has_repetitions", "is_neural", "is_activations",
    "average_repetitions", "select_region", "align", "reorder_to", "stimulus_ids",
    "save_assembly", "load_assembly", "short_list",
]
