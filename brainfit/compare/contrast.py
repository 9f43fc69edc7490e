"""Paired contrasts of two models per time bin: differences with CIs, tests, effect sizes.

:func:`compare_models` answers "is model a better than model b in this bin, by how much, and is
it real?" for one region: per bin the difference of the median scores (with bootstrap CIs over
stimuli and over neuroids), the effect sizes (median paired difference, fraction of neuroids
higher, standardised paired effect ``d_z``), a sign-flip permutation ``p`` per bin with
Benjamini-Hochberg control over bins, and a cluster-based permutation test over contiguous bins
(:mod:`brainfit.compare.permutation`). :func:`compare_pairs` runs it for many (model, control)
pairs and regions into tidy tables.

Sites are not the only random factor: every site sees the same stimuli. So "significant" (the
``significant_cluster`` column and a cluster's ``significant``) needs both the sign-flip test
over sites and the stimulus-bootstrap CI of the difference to exclude 0 (:data:`SIGNIFICANCE_RULE`;
the site test alone is ``significant_cluster_sites``). Bins where either model predicts nothing
(every site's r exactly 0, or predictions constant within every test fold up to float32 rounding)
are flagged (``zero_model``, ``zero_control``) and not tested.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from brainfit.compare.paired import check_paired, fdr_bh, has_predictions, paired_arrays
from brainfit.compare.permutation import sign_flip_test
from brainfit.compare.resample import (
    Resamples,
    neuroid_resampled_medians,
    percentile_ci,
    resampled_medians,
    stimulus_weights,
)
from brainfit.scoring import DEFAULT_N_BOOTSTRAP, DEFAULT_N_PERMUTATIONS, has_ceiling, median_over

__all__ = ["SIGNIFICANCE_RULE", "Comparison", "ComparisonSettings", "compare_models", "compare_pairs"]


@dataclass(frozen=True)
class ComparisonSettings:
    """Settings of a comparison (recorded with its tables).

    ``metric``: the score the tests run on (``"ceiled"`` or ``"r"``); ``alpha``: the level for
    the ``significant_*`` columns; ``cluster_alpha``: the per-bin threshold that forms clusters;
    ``tail``: 0 two-sided, 1 ``a > b``, -1 ``a < b``.
    """

    metric: str = "ceiled"
    n_permutations: int = DEFAULT_N_PERMUTATIONS
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP
    ci: float = 0.95
    alpha: float = 0.05
    cluster_alpha: float = 0.05
    tail: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.metric not in ("ceiled", "r"):
            problems.append(f"metric must be 'ceiled' or 'r', got {self.metric!r}")
        for name in ("n_permutations", "n_bootstrap"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (1 if name == "n_permutations" else 0):
                problems.append(f"{name} must be an int >= {1 if name == 'n_permutations' else 0}, got {v!r}")
        for name in ("ci", "alpha", "cluster_alpha"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v < 1.0:
                problems.append(f"{name} must lie in (0, 1), got {v!r}")
        if self.tail not in (0, 1, -1) or isinstance(self.tail, bool):
            problems.append(f"tail must be 0, 1 or -1, got {self.tail!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            problems.append(f"seed must be an int >= 0, got {self.seed!r}")
        if problems:
            raise ValueError("invalid comparison settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare_models`: ``per_bin`` (one row per time bin) and ``clusters``
    (one row per cluster of contiguous bins), with the settings used."""

    per_bin: pd.DataFrame
    clusters: pd.DataFrame
    settings: dict = field(default_factory=dict)


_CLUSTER_COLUMNS = ["cluster", "start_ms", "end_ms", "first_bin", "last_bin", "sign", "mass", "p",
                    "significant_sites", "ci_excludes_zero", "significant"]

#: What ``significant`` means in every table and figure (docs/design.md, "Model comparison").
SIGNIFICANCE_RULE = ("an effect within a cluster of contiguous bins, significant when the sign-flip cluster test over "
                     "sites gives p < alpha AND the stimulus-bootstrap CI of the difference (per bin, and of the "
                     "cluster's mean) excludes 0 on the same side: sites and stimuli are both random factors")


def _predicts_nothing(ds: xr.Dataset) -> np.ndarray:
    """(time_bin,) True where the model predicts nothing at any site: every finite r exactly 0, or,
    with stored predictions, predictions that within every test fold do not vary over its stimuli
    beyond float32 rounding (identical features give a constant up to ~1e-7 of its size, which the
    within-fold standardisation of r would turn into noise of either sign)."""
    r = np.asarray(ds["r"].transpose("neuroid", "time_bin").values, dtype=np.float64)
    finite = np.isfinite(r)
    zero = finite.any(axis=0) & np.where(finite, r == 0, True).all(axis=0)
    if "prediction" in ds and "test_fold" in ds.coords:
        pred = np.asarray(ds["prediction"].transpose("presentation", "neuroid", "time_bin").values, dtype=np.float64)
        fold = np.asarray(ds.coords["test_fold"].values)
        flat = np.ones(pred.shape[1:], dtype=bool)
        for k in np.unique(fold):
            part = pred[fold == k]
            flat &= part.std(axis=0) <= 1e-5 * (np.abs(part).max(axis=0) + 1e-12)
        zero |= flat.all(axis=0)
    return zero


def compare_models(a: xr.Dataset, b: xr.Dataset, settings: ComparisonSettings | None = None, *,
                   resamples: Resamples | None = None, **overrides: Any) -> Comparison:
    """Paired comparison of model ``a`` against model ``b`` per time bin (one region).

    Parameters
    ----------
    a, b : Dataset
        Per-neuroid score Datasets (neuroid x time_bin, one readout each) from the same splits,
        neuroids and bins (:func:`~brainfit.compare.paired.check_paired`). With out-of-fold
        predictions (``keep_predictions=True``) the differences also get stimulus-bootstrap CIs.
    settings : ComparisonSettings, optional
    resamples : Resamples, optional
        Holds each model's stimulus resamples (and neuroid-bootstrap medians) across calls, so a
        model in several comparisons is resampled once (:class:`~brainfit.compare.resample.Resamples`);
        without it both models are resampled in this call.
    **overrides
        :class:`ComparisonSettings` fields.

    Returns
    -------
    Comparison
        ``per_bin`` columns: ``time_bin_start``, ``time_bin_end``, ``n`` (neuroids in the
        comparison: reliable in both, finite), ``median_a``, ``median_b``, ``diff`` (``median_a -
        median_b`` of the metric), ``ci_low``/``ci_high`` (stimulus bootstrap of ``diff``; NaN
        without predictions), ``ci_low_neuroids``/``ci_high_neuroids``, ``diff_r`` with
        ``ci_low_r``/``ci_high_r`` (raw r, stimulus bootstrap), ``median_paired_diff``,
        ``frac_higher`` (fraction of neuroids with a > b), ``dz`` (mean / sd of the paired
        differences), ``t``, ``p`` (sign-flip permutation), ``p_bh`` and ``significant_bh``
        (Benjamini-Hochberg over bins), ``cluster``, ``p_cluster``, ``significant_cluster``.
        The tests (and a cluster's ``sign``) follow ``t``, the mean paired difference over
        sites; ``diff`` is the difference of the medians: in a bin with a skewed distribution
        of differences the two can disagree in sign, and both are reported.
        ``clusters``: ``cluster``, ``start_ms``, ``end_ms``, ``first_bin``, ``last_bin``,
        ``sign``, ``mass``, ``p``, ``significant``.
    """
    s = ComparisonSettings(**{**(settings.to_dict() if settings else {}), **overrides})
    check_paired(a, b)
    if s.metric == "ceiled" and not (has_ceiling(a) and has_ceiling(b)):
        raise ValueError("these scores have no ceiling (data without single trials), so their ceiled scores are NaN: "
                         "compare raw r (metric='r')")
    pa = paired_arrays(a, b, s.metric)
    T = len(pa.starts)
    # a model that predicts nothing at all in a bin (its features are the same for every stimulus,
    # e.g. an unrolled control after the image is gone: _predicts_nothing) makes any contrast
    # with it trivially "significant": such bins are flagged and left out of the tests
    zero = {name: _predicts_nothing(ds) for name, ds in (("a", a), ("b", b))}
    untested = zero["a"] | zero["b"]
    if untested.any():
        pa = dataclasses.replace(pa, mask=pa.mask & ~untested[None, :])
    med_a = median_over(pa.a, pa.mask, axis=0)
    med_b = median_over(pa.b, pa.mask, axis=0)
    d = pa.a - pa.b
    dm = np.where(pa.mask, d, np.nan)
    n = pa.mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bins without neuroids give NaN, silently
        med_pd = np.nanmedian(dm, axis=0)
        frac = np.nansum(dm > 0, axis=0) / np.where(n > 0, n, np.nan)
        sd = np.nanstd(dm, axis=0, ddof=1)
        dz = np.nanmean(dm, axis=0) / np.where(sd > 0, sd, np.nan)
    nan = np.full(T, np.nan)
    ci_lo = ci_hi = ci_lo_r = ci_hi_r = nan
    diff_r = median_over(a["r"].transpose("neuroid", "time_bin").values, pa.mask, axis=0) - \
        median_over(b["r"].transpose("neuroid", "time_bin").values, pa.mask, axis=0)
    if s.n_bootstrap > 0 and has_predictions(a) and has_predictions(b):
        if resamples is None:
            w = stimulus_weights(a.sizes["presentation"], s.n_bootstrap, s.seed)
            ra, rb = resampled_medians(a, w, pa.mask), resampled_medians(b, w, pa.mask)
        else:
            ra, rb = (resamples.medians(x, pa.mask, n_bootstrap=s.n_bootstrap, seed=s.seed) for x in (a, b))
        boot_diff = ra[s.metric] - rb[s.metric]
        ci_lo, ci_hi = percentile_ci(boot_diff, s.ci)
        ci_lo_r, ci_hi_r = percentile_ci(ra["r"] - rb["r"], s.ci)
    else:
        boot_diff = None
    nci_lo = nci_hi = nan
    if s.n_bootstrap > 0:
        if resamples is None:
            boot = (neuroid_resampled_medians(pa.a, pa.mask, s.n_bootstrap, s.seed)
                    - neuroid_resampled_medians(pa.b, pa.mask, s.n_bootstrap, s.seed))
        else:  # the same arrays: pa.a and pa.b are a[metric] and b[metric] as float64
            boot = (resamples.neuroid_medians(a, s.metric, pa.mask, n_bootstrap=s.n_bootstrap, seed=s.seed)
                    - resamples.neuroid_medians(b, s.metric, pa.mask, n_bootstrap=s.n_bootstrap, seed=s.seed))
        nci_lo, nci_hi = percentile_ci(boot, s.ci)
    test = sign_flip_test(d, pa.mask, n_permutations=s.n_permutations, cluster_alpha=s.cluster_alpha,
                          tail=s.tail, seed=s.seed)
    p_bh = fdr_bh(test.p)
    sites_cluster = np.nan_to_num(test.p_cluster, nan=1.0) < s.alpha
    # the significance rule: sites AND stimuli (docs/design.md): a bin is significant when it lies in a
    # cluster the sign-flip test over sites finds AND the stimulus-bootstrap CI of the difference
    # excludes 0 on the cluster's side; a cluster, when its p < alpha AND the CI of its mean
    # difference over its bins (the same resamples) excludes 0 on its side
    with np.errstate(invalid="ignore"):
        side = np.sign(test.t)
        ci_ok = ((side > 0) & (ci_lo > 0)) | ((side < 0) & (ci_hi < 0)) if boot_diff is not None \
            else np.ones(T, dtype=bool)
    cluster_ok = {}
    for i, c in enumerate(test.clusters):
        if boot_diff is None:
            cluster_ok[i] = True
            continue
        lo, hi = percentile_ci(np.nanmean(boot_diff[:, c["start"]:c["stop"]], axis=1, keepdims=True), s.ci)
        cluster_ok[i] = bool((c["sign"] > 0 and lo[0] > 0) or (c["sign"] < 0 and hi[0] < 0))
    in_ok_cluster = np.array([int(k) >= 0 and cluster_ok[int(k)] for k in test.cluster], dtype=bool)
    per_bin = pd.DataFrame({
        "time_bin_start": pa.starts, "time_bin_end": pa.ends, "n": n.astype(int),
        "median_a": med_a, "median_b": med_b, "diff": med_a - med_b, "ci_low": ci_lo, "ci_high": ci_hi,
        "ci_low_neuroids": nci_lo, "ci_high_neuroids": nci_hi,
        "diff_r": diff_r, "ci_low_r": ci_lo_r, "ci_high_r": ci_hi_r,
        "median_paired_diff": med_pd, "frac_higher": frac, "dz": dz,
        "t": test.t, "p": test.p, "p_bh": p_bh, "significant_bh": np.nan_to_num(p_bh, nan=1.0) < s.alpha,
        "zero_model": zero["a"], "zero_control": zero["b"],
        "cluster": test.cluster, "p_cluster": test.p_cluster,
        "significant_cluster_sites": sites_cluster, "ci_excludes_zero": ci_ok & (side != 0),
        "significant_cluster": sites_cluster & in_ok_cluster & ci_ok,
    })
    clusters = pd.DataFrame([{
        "cluster": i, "start_ms": float(pa.starts[c["start"]]), "end_ms": float(pa.ends[c["stop"] - 1]),
        "first_bin": c["start"], "last_bin": c["stop"] - 1, "sign": c["sign"], "mass": c["mass"], "p": c["p"],
        "significant_sites": c["p"] < s.alpha, "ci_excludes_zero": cluster_ok[i],
        "significant": bool(c["p"] < s.alpha and cluster_ok[i])} for i, c in enumerate(test.clusters)],
        columns=_CLUSTER_COLUMNS)
    over_stimuli = boot_diff is not None
    info = {**s.to_dict(), "exact_permutations": test.exact, "n_sign_patterns": test.n_permutations,
            "ci_over_stimuli": over_stimuli,
            "significance_rule": (SIGNIFICANCE_RULE if over_stimuli else
                                  "sign-flip cluster test over sites only (no stored predictions to resample "
                                  "stimuli from)")}
    return Comparison(per_bin, clusters, info)


def compare_pairs(scores: Mapping[str, Mapping[str, xr.Dataset]], pairs: Sequence[tuple[str, str]],
                  regions: Sequence[str] | None = None, settings: ComparisonSettings | None = None, *,
                  resamples: Resamples | None = None, **overrides: Any) -> Comparison:
    """:func:`compare_models` for every ``(model, control)`` pair and region, as tidy tables.

    Parameters
    ----------
    scores : mapping ``model -> {region -> Dataset}``
    pairs : sequence of ``(model, control)``
        Each difference is ``model - control``.
    regions : sequence of str, optional
        Default: every region of each pair's model.
    resamples : Resamples, optional
        Passed to every :func:`compare_models`: a model in several pairs is then resampled once
        (:class:`~brainfit.compare.resample.Resamples`; pass the same one to a
        :func:`~brainfit.compare.leaderboard` of these scores). Without it every pair resamples
        both of its models.

    Returns
    -------
    Comparison whose tables have leading columns ``model``, ``control``, ``region``. Every
    (pair, region) is its own family of bins for the BH and cluster corrections.
    """
    if not pairs:
        raise ValueError("nothing to compare: give at least one (model, control) pair")
    frames, cframes = [], []
    info: dict = {}
    for model, control in pairs:
        for name in (model, control):
            if name not in scores:
                raise ValueError(f"model {name!r} is not among the scores {sorted(scores)}")
        if model == control:
            raise ValueError(f"cannot compare model {model!r} with itself")
        for region in (regions if regions is not None else list(scores[model])):
            for name in (model, control):
                if region not in scores[name]:
                    raise ValueError(f"model {name!r} has no scores for region {region!r} "
                                     f"(has {sorted(scores[name])})")
            c = compare_models(scores[model][region], scores[control][region], settings, resamples=resamples,
                               **overrides)
            lead = {"model": model, "control": control, "region": region}
            frames.append(c.per_bin.assign(**lead)[list(lead) + list(c.per_bin.columns)])
            cframes.append(c.clusters.assign(**lead)[list(lead) + list(c.clusters.columns)])
            info = {**c.settings, "exact_permutations": bool(info.get("exact_permutations", True)
                                                              and c.settings["exact_permutations"])}
    return Comparison(pd.concat(frames, ignore_index=True), pd.concat(cframes, ignore_index=True), info)
