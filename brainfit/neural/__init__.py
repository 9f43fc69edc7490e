"""Model-free analyses of neural assemblies: split-half reliability, PSTHs, time-resolved decoding.

They take a neural assembly (``presentation x neuroid x time_bin``, docs/design.md) and return an
:class:`xarray.Dataset`; figures live in :mod:`brainfit.plots`, which takes these Datasets.

Modules: :mod:`~brainfit.neural.reliability` (:func:`split_half_reliability`, per neuroid and bin,
with region summaries; the split halves are :func:`brainfit.scoring.split_half_ceiling`'s),
:mod:`~brainfit.neural.psth` (:func:`psth`, mean rate per group, region and bin, SEM over
neuroids), :mod:`~brainfit.neural.decoding` (:func:`decode_time_resolved`, cross-validated
classifier per bin, permutation test with max-statistic control over bins, onset).
"""

from brainfit.neural.decoding import decode_time_resolved, decoding_onset
from brainfit.neural.psth import psth
from brainfit.neural.reliability import region_summary, split_half_reliability

__all__ = ["decode_time_resolved", "decoding_onset", "psth", "region_summary", "split_half_reliability"]
