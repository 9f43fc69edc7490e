"""Scores: correlations, split-half noise ceilings, ceiled scores, layer selection, fit_and_score.

Modules, one concept each: :mod:`~brainfit.scoring.correlation` (``r`` within folds, alignment by
coordinate), :mod:`~brainfit.scoring.ceiling` (split-half ceilings, ceiled scores),
:mod:`~brainfit.scoring.bootstrap` (stimulus bootstrap of the per-bin medians, :func:`median_over`),
:mod:`~brainfit.scoring.selection` (nested layer selection), :mod:`~brainfit.scoring.features`
(activations to per-bin features), :mod:`~brainfit.scoring.results` (score Dataset, settings
attrs, :func:`save_scores`/:func:`load_scores`), :mod:`~brainfit.scoring.config`
(:class:`ScoringConfig`, the settings shared by both entry points) and
:mod:`~brainfit.scoring.pipeline` (:func:`fit_and_score`, :func:`score_predictions`).

Conventions (docs/design.md, "Science conventions"; every one is a parameter)
-----------------------------------------------------------------------------
Raw score
    Pearson ``r`` between out-of-fold predictions and the trial-averaged responses over stimuli,
    per neuroid and time bin, computed *within test folds*: predictions and responses are
    standardised (centred and scaled to unit variance) within each test fold and then correlated
    over all stimuli, which equals the fold-size-weighted mean of the per-fold correlations.
    Why not one correlation of the raw pooled out-of-fold predictions: (1) each fold's predictions
    carry that fold's training mean, which is anticorrelated with the test fold's mean, and (2)
    with alphas chosen per fold, a fold whose training data show a stronger spurious relation gets
    a smaller alpha and larger predictions -- precisely when its own test data run against that
    relation. Both make pooled ``r`` *negative* for a model that knows nothing (about -0.1 in our
    null simulations with 192 stimuli and 10 folds); a correlation within each fold is invariant to
    each fold's offset and scale, so it is unbiased (Brain-Score averages per-fold correlations for
    the same reason). A fold where the predictions (or responses) are constant contributes 0.
    ``r`` is NaN where the responses are constant in every fold. A within-fold ``r`` needs
    ``ScoringConfig.min_fold_stimuli`` (10) stimuli per test fold -- on fewer points ``r`` is too
    noisy and biased toward 0 -- and smaller folds are an error naming the remedies: fewer folds,
    or ``r_over="pooled"`` (one ``r`` over all stimuli, biased down by the fold offsets described
    above; see :class:`ScoringConfig`). The attr ``r_within_folds`` records which was computed.
Ceiling
    The Spearman-Brown-corrected split-half reliability of the trial-averaged responses: for each
    of ``n_splits`` random splits, every stimulus's trials are shuffled and split into two halves
    of ``h = floor(n_reps / 2)`` trials (an odd trial out is left out of that split); the Pearson
    ``r_half`` between the two half-averages over stimuli is averaged over splits and corrected
    once, ``ceiling = k r / (1 + (k - 1) r)`` (Spearman 1910; Brown 1910). ``k`` is the ratio of
    the noise variance of a half-average to that of the full average,
    ``k = mean_s(1 / h_s) / mean_s(1 / n_s)`` over stimuli ``s``; with equal, even repetition
    counts ``k = 2``. The splits are seeded and defined on ``(stimulus_id, repetition)``, so the
    result does not depend on the order of presentations. Fewer than 10 stimuli with >= 2
    repetitions warn (``RuntimeWarning``: the split-half ``r`` over them is too noisy to divide
    scores by), fewer than 3 are an error. A precomputed ``ceiling=`` is matched to the data by
    ``neuroid_id`` and time bins, like every assembly; missing, extra or differing ones are errors;
    one value per neuroid (dims ``neuroid``) applies to every bin. Data without single trials and
    no given ceiling get none: ``ceiling`` and the ceiled fields are NaN (never a made-up
    ceiling), ``r`` is scored as usual, every neuroid counts in the medians of ``r``, and the
    attrs say so (``ceiling_source="none"``, ``ceiling_note``).
Ceiled score
    ``ceiled = sign(r) * r**2 / ceiling``: the fraction of the *explainable* variance that the
    model explains. Why ``r**2 / ceiling`` and never ``/ ceiling**2``: the reliability of the
    averaged data (a correlation between two parallel measurements) already estimates a squared
    correlation -- the fraction of their variance that is stimulus-driven -- so it is the largest
    ``r**2`` any model can reach against these data (a noise-free "true" response reaches it in
    expectation). Dividing ``r**2`` by it puts both on the variance scale once; squaring the
    ceiling again, or dividing ``r`` by the ceiling, mixes scales and inflates scores (peers'
    ceiled scores above 1 came from that). The sign keeps anticorrelated predictions negative,
    so a model unrelated to the stimuli scores ~0, not ``E[r**2] > 0``. Neuroid-bins with
    ``ceiling <= 0`` get NaN. Ceiled scores are not clipped: values above 1 happen by chance
    when the ceiling is itself noisy, and are reported as they are.
Reliability threshold
    Neuroid-bins with ``ceiling < reliability_threshold`` are flagged ``reliable=False``. They
    keep their per-neuroid values, and summaries report them separately (count, median ``r``)
    instead of dropping them silently. Medians over neuroids use the reliable ones.
Confidence intervals
    Percentile bootstrap over stimuli: each resample draws stimuli with replacement and recomputes
    ``r``, the ceiling (from ``n_bootstrap_splits`` of the split halves) and the median ceiled
    score per time bin. The same resamples are used for every layer, so layers are paired. With
    ``r_over="pooled"`` each resample's ``r`` is the pooled ``r`` over its stimuli.
Layer selection
    Nested, on training stimuli only: for each outer fold, every layer is scored on that fold's
    training set alone, the layer with the highest median score over the region's neuroids
    (averaged over time bins) is picked per region, and the outer test fold is predicted by that
    layer. The training-set score is the within-fold ``r`` on inner folds (:meth:`Splits.inner`;
    any mapping) or, for ridge with LOO alpha selection, the exact LOO R^2 that the outer fit
    already computed (so selection costs no extra fits).
"""

from brainfit.scoring.bootstrap import median_over
from brainfit.scoring.ceiling import (
    CEILING_CONVENTION,
    NO_CEILING_NOTE,
    CeilingEstimate,
    ceiled_score,
    estimate_ceiling,
    has_ceiling,
    split_half_ceiling,
    split_half_masks,
)
from brainfit.scoring.config import DEFAULT_N_BOOTSTRAP, DEFAULT_N_PERMUTATIONS, ScoringConfig
from brainfit.scoring.correlation import correlate, pearson_r, standardize_within_folds, weighted_pearson
from brainfit.scoring.pipeline import fit_and_score, score_predictions
from brainfit.scoring.regions import score_by_region
from brainfit.scoring.results import load_scores, save_scores

__all__ = [
    "CEILING_CONVENTION",
    "DEFAULT_N_BOOTSTRAP",
    "DEFAULT_N_PERMUTATIONS",
    "NO_CEILING_NOTE",
    "CeilingEstimate",
    "ScoringConfig",
    "ceiled_score",
    "correlate",
    "estimate_ceiling",
    "fit_and_score",
    "has_ceiling",
    "load_scores",
    "median_over",
    "pearson_r",
    "save_scores",
    "score_by_region",
    "score_predictions",
    "split_half_ceiling",
    "split_half_masks",
    "standardize_within_folds",
    "weighted_pearson",
]
