"""Time-resolved decoding: accuracy per bin against its permutation null, significant bins, onset.

Takes the Dataset of :func:`brainfit.neural.decode_time_resolved` (this module imports nothing
from :mod:`brainfit.neural`: it reads the variables and attrs named below).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from brainfit.assembly import TIME_BIN
from brainfit.plots._base import _axes, _bin_centres

__all__ = ["plot_decoding_timecourse"]

_NEEDED = ("accuracy", "null_low", "null_high", "significant")


def plot_decoding_timecourse(result: xr.Dataset, *, ax: Any = None, label: str | None = None) -> Any:
    """Decoding accuracy per time bin with the null band, chance, significant bins and the onset.

    Parameters
    ----------
    result : Dataset
        From :func:`brainfit.neural.decode_time_resolved`: variables ``accuracy``, ``null_low``,
        ``null_high``, ``significant`` (dim ``time_bin``), coords ``time_bin_start``/``time_bin_end``,
        attrs ``chance`` and ``onset_ms`` (NaN: no onset).
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label of the accuracy line (default: ``"<label attr> accuracy"``).

    Returns
    -------
    matplotlib Axes
        At the bin centres (ms): the accuracy line (``ax.lines[0]``); a grey band (fill_between)
        from ``null_low`` to ``null_high``; a dotted horizontal chance line; one marker per
        significant bin (a line labelled ``"significant (corrected)"``, markers only, drawn near
        the bottom of the axes at the bins' centres); a dashed vertical line at ``onset_ms``
        (labelled ``"onset <ms> ms"``) when there is an onset.

    Raises
    ------
    ValueError
        When ``result`` is not a Dataset, lacks one of the variables or coords above, or the
        ``chance`` attr.
    """
    if not isinstance(result, xr.Dataset):
        raise ValueError(f"result must be the Dataset of decode_time_resolved, got {type(result).__name__}")
    missing = [v for v in _NEEDED if v not in result]
    if missing:
        raise ValueError(f"result has no variable(s) {missing} (pass the Dataset decode_time_resolved returns)")
    if "chance" not in result.attrs:
        raise ValueError("result has no 'chance' attr (pass the Dataset decode_time_resolved returns)")
    for v in _NEEDED:
        if result[v].dims != (TIME_BIN,):
            raise ValueError(f"result[{v!r}] must have the single dim {TIME_BIN!r}, got {result[v].dims}")
    t = _bin_centres(result, "result")
    acc = np.asarray(result["accuracy"].values, float)
    sig = np.asarray(result["significant"].values, bool)
    ax = _axes(ax, (5.5, 3.5))
    what = result.attrs.get("label", "")
    ax.plot(t, acc, marker="o", ms=3, color="C0", label=label or f"{what} accuracy".strip())
    ax.fill_between(t, result["null_low"].values, result["null_high"].values, color="0.6", alpha=0.3, lw=0,
                    label="permutation null (per bin)")
    threshold = result.attrs.get("threshold_corrected")
    if threshold is not None and np.isfinite(threshold):  # what the significance markers are decided against
        ax.axhline(float(threshold), color="0.45", ls="--", lw=0.8, label="corrected threshold")
    chance = float(result.attrs["chance"])
    ax.axhline(chance, color="0.3", ls=":", lw=1, label=f"chance {chance:.3g}")
    if sig.any():
        ax.plot(t[sig], np.full(int(sig.sum()), 0.04), ls="none", marker="s", ms=4, color="C3",
                transform=ax.get_xaxis_transform(), label="significant (corrected)")
    onset = float(result.attrs.get("onset_ms", np.nan))
    if np.isfinite(onset):
        ax.axvline(onset, color="C3", ls="--", lw=1, label=f"onset {onset:g} ms")
    ax.set_xlabel("time after stimulus onset (ms)")
    ax.set_ylabel("decoding accuracy")
    region = result.attrs.get("region")
    source = "" if not region else " from all neuroids" if region == "all" else f" from {region}"
    held_out = {"trials": ", held-out trials", "stimuli": ", held-out stimuli"}.get(result.attrs.get("generalize"), "")
    if what or source:
        ax.set_title(f"decoding {what}{source}{held_out}".replace("  ", " "), fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return ax
