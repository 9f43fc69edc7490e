"""Pairing: what makes two score Datasets comparable, and the paired arrays a comparison works on.

Every comparison is paired: both score Datasets (per region, one readout per neuroid, e.g. the
layer chosen on training folds, from :func:`brainfit.scoring.score_predictions`) must come from
the same splits (their fingerprint), hold the same neuroids in the same order and the same time
bins, and -- when they carry out-of-fold predictions -- the same stimuli with the same responses.
:func:`check_paired` refuses anything else and names what differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.stats import false_discovery_control

from brainfit.assembly import NEUROID_ID, STIMULUS_ID, TIME_BIN, TIME_BIN_END, TIME_BIN_START
from brainfit.scoring import has_ceiling

__all__ = ["check_paired", "check_scores", "fdr_bh", "METRICS", "resolve_metric"]

#: Score variables a comparison can run on: ceiled score (r^2 / ceiling) and raw Pearson r.
METRICS = ("ceiled", "r")


def resolve_metric(metric: str, scores: Any) -> str:
    """The metric a comparison runs on: ``"auto"`` is ``"ceiled"`` when every score Dataset of
    ``scores`` (``{model: {region: Dataset}}``) has a ceiling, else ``"r"`` (data without single
    trials have none); ``"ceiled"`` and ``"r"`` stand. The one place ``auto`` is decided."""
    if metric == "auto":
        return "ceiled" if all(has_ceiling(ds) for by in scores.values() for ds in by.values()) else "r"
    if metric not in METRICS:
        raise ValueError(f"metric must be 'auto', 'ceiled' or 'r', got {metric!r}")
    return metric


def check_scores(ds: xr.Dataset, name: str = "scores") -> None:
    """Raise ``ValueError`` unless ``ds`` is a per-neuroid score Dataset with one readout.

    It needs ``r``, ``ceiled`` and ``reliable`` over (neuroid, time_bin) and the bin coords; a
    ``layer`` dim (a :func:`~brainfit.scoring.fit_and_score` output) must be resolved first.
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"{name} must be a score xarray.Dataset, got {type(ds).__name__}")
    missing = [v for v in ("r", "ceiled", "reliable") if v not in ds.data_vars]
    if missing:
        raise ValueError(f"{name} is not a score Dataset: missing variable(s) {missing} "
                         f"(has {sorted(map(str, ds.data_vars))[:8]})")
    for v in ("r", "ceiled"):
        if set(ds[v].dims) != {"neuroid", TIME_BIN}:
            extra = sorted(set(ds[v].dims) - {"neuroid", TIME_BIN})
            raise ValueError(f"{name}[{v!r}] has dims {tuple(ds[v].dims)}; comparisons need one readout per neuroid "
                             f"(neuroid x time_bin){': select one ' + extra[0] if extra else ''} -- e.g. score "
                             "the selected layer's predictions with score_predictions, or ds.sel(layer=...)")
    for c in (TIME_BIN_START, TIME_BIN_END):
        if c not in ds.coords:
            raise ValueError(f"{name} has no {c!r} coord")


def _splits_fingerprint(ds: xr.Dataset) -> str | None:
    splits = ds.attrs.get("splits")
    return splits.get("fingerprint") if isinstance(splits, dict) else None


def check_paired(a: xr.Dataset, b: xr.Dataset, names: Sequence[str] = ("a", "b")) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` were scored on the same splits, neuroids, bins
    (and, when both carry predictions, the same stimuli and responses); the message names what differs."""
    na, nb = names
    check_scores(a, na)
    check_scores(b, nb)
    fa, fb = _splits_fingerprint(a), _splits_fingerprint(b)
    if fa is None or fb is None or fa != fb:
        raise ValueError(f"paired comparisons need both models scored on the same splits; split fingerprints: "
                         f"{na} {fa!r}, {nb} {fb!r} -- pass the same Splits object (or splits file) to every fit")
    ids_a = np.asarray(a.coords[NEUROID_ID].values).astype(str) if NEUROID_ID in a.coords else None
    ids_b = np.asarray(b.coords[NEUROID_ID].values).astype(str) if NEUROID_ID in b.coords else None
    if ids_a is None or ids_b is None or not np.array_equal(ids_a, ids_b):
        detail = ""
        if ids_a is not None and ids_b is not None:
            only_a = sorted(map(str, set(ids_a) - set(ids_b)))
            only_b = sorted(map(str, set(ids_b) - set(ids_a)))
            detail = (f"; only in {na}: {only_a[:3]}, only in {nb}: {only_b[:3]}" if only_a or only_b
                      else "; same ids in a different order")
        raise ValueError(f"paired comparisons need both score sets on the same neuroids in the same order "
                         f"({na}: {0 if ids_a is None else len(ids_a)}, {nb}: {0 if ids_b is None else len(ids_b)} "
                         f"neuroid ids{detail})")
    for c in (TIME_BIN_START, TIME_BIN_END):
        va, vb = np.asarray(a.coords[c].values, float), np.asarray(b.coords[c].values, float)
        if va.shape != vb.shape or not np.allclose(va, vb):
            raise ValueError(f"paired comparisons need the same time bins: {c} of {na} {va.tolist()} vs "
                             f"{nb} {vb.tolist()}")
    for key in ("r_within_folds", "reliability_threshold", "convention", "ceiling_source"):
        va, vb = a.attrs.get(key), b.attrs.get(key)
        if va != vb:
            raise ValueError(f"{na} and {nb} were scored with different settings: {key} {va!r} vs {vb!r}; "
                             "score both with the same ScoringConfig")
    if "ceiling" in a and "ceiling" in b and not np.allclose(
            a["ceiling"].transpose("neuroid", TIME_BIN).values, b["ceiling"].transpose("neuroid", TIME_BIN).values,
            rtol=1e-6, atol=1e-9, equal_nan=True):
        raise ValueError(f"{na} and {nb} were divided by different noise ceilings (other ceiling seed, splits or "
                         "data): paired ceiled scores need one ceiling; score both with the same ScoringConfig")
    if has_predictions(a) and has_predictions(b):
        sa = np.asarray(a.coords[STIMULUS_ID].values).astype(str)
        sb = np.asarray(b.coords[STIMULUS_ID].values).astype(str)
        if not np.array_equal(sa, sb):
            raise ValueError(f"paired comparisons need the same stimuli in the same order: {na} has {len(sa)}, "
                             f"{nb} has {len(sb)}, {len(set(sa) ^ set(sb))} differ")
        if not np.allclose(a["response"].values, b["response"].values, equal_nan=True):
            raise ValueError(f"{na} and {nb} were scored against different neural responses (same stimuli and "
                             "neuroids, different values): compare models fitted to the same data")


def has_predictions(ds: xr.Dataset) -> bool:
    """Whether ``ds`` carries out-of-fold predictions and responses (``keep_predictions=True``)."""
    return "prediction" in ds.data_vars and "response" in ds.data_vars and STIMULUS_ID in ds.coords


def fdr_bh(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaNs (untested bins) stay NaN and are not in the family."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = false_discovery_control(p[ok], method="bh")
    return out


@dataclass(frozen=True)
class PairedArrays:
    """The arrays of one paired comparison (neuroid x time_bin), for one metric.

    ``mask`` marks the neuroid-bins in the comparison: reliable in both and finite in both.
    """

    a: np.ndarray
    b: np.ndarray
    mask: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def diff(self) -> np.ndarray:
        """``a - b`` where ``mask``, 0 elsewhere."""
        return np.where(self.mask, self.a - self.b, 0.0)


def paired_arrays(a: xr.Dataset, b: xr.Dataset, metric: str) -> PairedArrays:
    """``metric`` of ``a`` and ``b`` as (neuroid, time_bin) arrays with the joint mask (after :func:`check_paired`)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    va = a[metric].transpose("neuroid", TIME_BIN).values.astype(np.float64)
    vb = b[metric].transpose("neuroid", TIME_BIN).values.astype(np.float64)
    rel = (a["reliable"].transpose("neuroid", TIME_BIN).values.astype(bool)
           & b["reliable"].transpose("neuroid", TIME_BIN).values.astype(bool))
    mask = rel & np.isfinite(va) & np.isfinite(vb)
    return PairedArrays(va, vb, mask, np.asarray(a.coords[TIME_BIN_START].values, float),
                        np.asarray(a.coords[TIME_BIN_END].values, float))
