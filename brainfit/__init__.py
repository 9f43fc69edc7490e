"""brainfit: time-resolved comparison of recurrent and feedforward vision models with the
primate ventral stream.

The data flow is one-directional (see README.md): stimuli -> model activations
(presentation x neuroid x time_step) -> temporal map -> cross-validated mapping per time bin ->
scores against noise ceilings -> recurrent-vs-feedforward statistics.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
