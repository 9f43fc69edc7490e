"""Mappings from model features to neural responses: array solvers, estimators, CV splits.

Layers (plain array functions first, thin classes on top):

* :mod:`brainfit.mapping._solvers` -- ridge on arrays (numpy/torch), one eigendecomposition per
  training set for every alpha and target, exact leave-one-out alpha selection (the maths);
* :mod:`brainfit.mapping._alpha_grid` -- the penalty against the features' scale: exact
  power-of-two rescaling of far-from-unit features, and :class:`AlphaGridWarning` when the
  chosen alphas sit at an edge of the grid;
* :mod:`brainfit.mapping._ridge_folds` -- out-of-fold ridge predictions from one kernel shared by
  every fold, and fold validation;
* :mod:`brainfit.mapping.pls` -- PLS regression (scikit-learn's ``PLSRegression``) as in Brain-Score;
* :mod:`brainfit.mapping.estimators` -- :class:`RidgeMapping`, :class:`PLSMapping`;
* :mod:`brainfit.mapping.cv` -- :class:`CrossValidatedFit` (one feature matrix, many target
  sets and folds, one ridge kernel) and :func:`cross_validated_predictions`;
* :mod:`brainfit.mapping.splits` -- :class:`Splits`, K folds over stimulus ids (scikit-learn's
  ``StratifiedKFold``/``KFold`` on sorted ids), saved as JSON.
"""

from brainfit.mapping._alpha_grid import AlphaEdges, AlphaGridWarning, alpha_edges
from brainfit.mapping._ridge_folds import ridge_cv_predictions
from brainfit.mapping._solvers import DEFAULT_ALPHAS, RidgeResult, ridge_cv
from brainfit.mapping.cv import CrossValidatedFit, cross_validated_predictions
from brainfit.mapping.estimators import PLSMapping, RidgeMapping
from brainfit.mapping.pls import PLSResult, pls_fit, pls_predict
from brainfit.mapping.splits import Splits, make_splits

__all__ = [
    "DEFAULT_ALPHAS",
    "AlphaEdges",
    "AlphaGridWarning",
    "CrossValidatedFit",
    "PLSMapping",
    "PLSResult",
    "RidgeMapping",
    "RidgeResult",
    "Splits",
    "alpha_edges",
    "cross_validated_predictions",
    "make_splits",
    "pls_fit",
    "pls_predict",
    "ridge_cv",
    "ridge_cv_predictions",
]
