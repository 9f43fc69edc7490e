"""The significance rule: sites and stimuli are both random factors. A difference that every site
shows because of two stimuli (all sites see the same stimuli) passes the sign-flip test over sites
but not the stimulus bootstrap, so it is not called significant; a difference spread over the
stimuli passes both. Bins where a model predicts nothing are flagged and not tested."""

from __future__ import annotations

import numpy as np

from brainfit.assembly import neural_assembly
from brainfit.compare import SIGNIFICANCE_RULE, compare_models
from brainfit.mapping import make_splits
from brainfit.scoring import score_predictions

N_STIM, N_SITES, REPS = 40, 30, 4
STARTS = np.array([70.0, 80.0, 90.0])


def world(seed=0):
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((N_STIM, N_SITES, len(STARTS)))
    ids = np.array([f"s{i:02d}" for i in range(N_STIM)])
    values = np.repeat(signal, REPS, axis=0) + 0.3 * rng.standard_normal((N_STIM * REPS, N_SITES, len(STARTS)))
    neural = neural_assembly(values, stimulus_id=np.repeat(ids, REPS), repetition=np.tile(np.arange(REPS), N_STIM),
                             neuroid_id=[f"n{j}" for j in range(N_SITES)], time_bin_start=STARTS,
                             time_bin_end=STARTS + 10, region="IT")
    return ids, signal, neural, rng


def scores(pred, ids, neural, splits):
    da = neural.isel(presentation=slice(0, N_STIM)).copy(data=pred)
    da = da.assign_coords(stimulus_id=("presentation", ids)).drop_vars("repetition")
    return score_predictions(da, neural, splits=splits, n_bootstrap=0, keep_predictions=True)


def test_an_effect_of_two_stimuli_passes_the_site_test_but_not_the_rule():
    ids, signal, neural, rng = world()
    splits = make_splits(neural, n_folds=2, seed=0)
    b = signal + 1.0 * rng.standard_normal(signal.shape)
    a = b.copy()
    two = [3, 17]
    a[two] = signal[two]  # a is b, corrected on two stimuli only: every site gains from the same two
    c = compare_models(scores(a, ids, neural, splits), scores(b, ids, neural, splits), n_permutations=1000,
                       n_bootstrap=500)
    assert c.settings["significance_rule"] == SIGNIFICANCE_RULE
    assert c.per_bin["significant_cluster_sites"].all()  # every site higher: the site test is sure
    assert not c.per_bin["ci_excludes_zero"].all()
    assert not c.clusters["significant"].any() and not c.per_bin["significant_cluster"].any()


def test_an_effect_over_the_stimuli_passes_both():
    ids, signal, neural, rng = world(1)
    splits = make_splits(neural, n_folds=2, seed=0)
    b = signal + 1.0 * rng.standard_normal(signal.shape)
    a = signal + 0.5 * rng.standard_normal(signal.shape)
    c = compare_models(scores(a, ids, neural, splits), scores(b, ids, neural, splits), n_permutations=1000,
                       n_bootstrap=500)
    assert c.per_bin["significant_cluster"].all() and c.per_bin["ci_excludes_zero"].all()
    assert c.clusters["significant"].all() and (c.clusters["sign"] > 0).all()


def test_a_model_that_predicts_nothing_in_a_bin_is_flagged_and_not_tested():
    ids, signal, neural, rng = world(2)
    splits = make_splits(neural, n_folds=2, seed=0)
    a = signal + 0.5 * rng.standard_normal(signal.shape)
    b = signal + 1.0 * rng.standard_normal(signal.shape)
    b[:, :, 2] = 1.0  # the control's features no longer depend on the stimulus in the last bin
    c = compare_models(scores(a, ids, neural, splits), scores(b, ids, neural, splits), n_permutations=1000,
                       n_bootstrap=200)
    pb = c.per_bin
    assert pb["zero_control"].tolist() == [False, False, True] and not pb["zero_model"].any()
    assert pb["n"].iloc[2] == 0 and not pb["significant_cluster"].iloc[2] and np.isnan(pb["p"].iloc[2])
    assert pb["significant_cluster"].iloc[:2].all()
