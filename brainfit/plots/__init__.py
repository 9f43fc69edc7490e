"""Figures. Every plotting function takes ``ax=`` (a new figure when omitted) and returns the axes;
the grid/panel functions take ``fig=`` or make their own figure and return the Figure.

Matplotlib is imported lazily so that the rest of brainfit never needs a display; the ``Agg``
backend is selected only when no backend has been chosen yet. Bad input raises ``ValueError``
naming what is wrong, before anything is drawn where possible.

Modules: :mod:`.timecourse` (per-bin predictivity curves with significance rows, task accuracy
per step), :mod:`.layers` (layer x bin heatmap, best/selected layer per bin), :mod:`.leaderboard`
(model dot plot with CIs), :mod:`.neural` (PSTH, split-half reliability), :mod:`.decoding`
(time-resolved decoding accuracy with its permutation null and onset), :mod:`.maps` (channel
maps over time steps, training snapshots over iterations), :mod:`._base` (lazy pyplot,
:func:`save_figure`, shared checks).
"""

from brainfit.plots._base import _pyplot as pyplot
from brainfit.plots._base import save_figure
from brainfit.plots.decoding import plot_decoding_timecourse
from brainfit.plots.layers import plot_layer_heatmap, plot_selected_layer
from brainfit.plots.leaderboard import LEADERBOARD_COLUMNS, plot_leaderboard
from brainfit.plots.maps import plot_channel_maps, plot_snapshot_maps
from brainfit.plots.neural import plot_psth, plot_reliability
from brainfit.plots.timecourse import plot_step_accuracy, plot_timecourse, timecourse_panels

__all__ = [
    "LEADERBOARD_COLUMNS",
    "plot_channel_maps",
    "plot_decoding_timecourse",
    "plot_layer_heatmap",
    "plot_leaderboard",
    "plot_psth",
    "plot_reliability",
    "plot_selected_layer",
    "plot_snapshot_maps",
    "plot_step_accuracy",
    "plot_timecourse",
    "pyplot",
    "save_figure",
    "timecourse_panels",
]
