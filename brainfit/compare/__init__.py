"""Comparing models scored on the same splits, stimuli and neuroids.

Modules: :mod:`~brainfit.compare.paired` (what makes two score Datasets a pair, BH control),
:mod:`~brainfit.compare.permutation` (sign-flip permutation tests per bin and over clusters of
bins), :mod:`~brainfit.compare.resample` (bootstrap over stimuli and over neuroids),
:mod:`~brainfit.compare.contrast` (:func:`compare_models`, :func:`compare_pairs`) and
:mod:`~brainfit.compare.tables` (per-bin tables, the leaderboard, Markdown).
"""

from brainfit.compare.contrast import SIGNIFICANCE_RULE, Comparison, ComparisonSettings, compare_models, compare_pairs
from brainfit.compare.paired import METRICS, check_paired, check_scores, fdr_bh, has_predictions, resolve_metric
from brainfit.compare.permutation import PermutationResult, find_clusters, sign_flip_test, sign_patterns
from brainfit.compare.resample import Resamples, neuroid_resampled_medians, resampled_medians, stimulus_weights
from brainfit.compare.tables import (
    DEFAULT_WINDOWS,
    default_windows,
    leaderboard,
    per_bin_table,
    to_markdown,
    window_bins,
)

__all__ = [
    "DEFAULT_WINDOWS", "METRICS", "SIGNIFICANCE_RULE", "Comparison", "ComparisonSettings", "PermutationResult",
    "Resamples",
    "check_paired", "check_scores", "compare_models", "compare_pairs", "default_windows", "fdr_bh", "find_clusters",
    "has_predictions", "leaderboard", "neuroid_resampled_medians", "per_bin_table", "resolve_metric", "resampled_medians",
    "sign_flip_test", "sign_patterns", "stimulus_weights", "to_markdown", "window_bins",
]
