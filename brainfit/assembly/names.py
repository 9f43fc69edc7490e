"""Names of the dims and coords of brainfit's data model (they match Brain-Score/BrainIO's)."""

__all__ = ["PRESENTATION", "NEUROID", "TIME_BIN", "TIME_STEP", "STIMULUS_ID", "REPETITION", "NEUROID_ID", "REGION",
           "LAYER", "UNIT", "TIME_BIN_START", "TIME_BIN_END", "NEURAL_DIMS", "ACTIVATION_DIMS"]

PRESENTATION = "presentation"
NEUROID = "neuroid"
TIME_BIN = "time_bin"
TIME_STEP = "time_step"
STIMULUS_ID = "stimulus_id"
REPETITION = "repetition"
NEUROID_ID = "neuroid_id"
REGION = "region"
LAYER = "layer"
UNIT = "unit"
TIME_BIN_START = "time_bin_start"
TIME_BIN_END = "time_bin_end"

NEURAL_DIMS = (PRESENTATION, NEUROID, TIME_BIN)
ACTIVATION_DIMS = (PRESENTATION, NEUROID, TIME_STEP)
