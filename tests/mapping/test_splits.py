"""Splits: scikit-learn (stratified) K folds over sorted stimulus ids, saved by id, nested folds."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from brainfit.mapping import Splits, make_splits


def test_splits_deterministic_order_invariant_and_balanced():
    ids = [f"img{i:03d}" for i in range(103)]
    cats = [f"c{i % 4}" for i in range(103)]
    a = Splits.kfold(ids, n_folds=10, seed=7, strata=cats, stratify="category")
    perm = np.random.default_rng(0).permutation(103)
    b = Splits.kfold(np.array(ids)[perm], n_folds=10, seed=7, strata=np.array(cats)[perm], stratify="category")
    assert a == b
    assert a != Splits.kfold(ids, n_folds=10, seed=8, strata=cats)
    sizes = np.bincount(a.folds)
    assert sizes.max() - sizes.min() <= 1
    fold_of = dict(zip(a.stimulus_ids, a.folds))
    for c in set(cats):  # every category spread over the folds (26 members -> 2 or 3 per fold)
        per_fold = np.bincount([fold_of[i] for i, cc in zip(ids, cats) if cc == c], minlength=10)
        assert per_fold.min() >= 2 and per_fold.max() <= 3
    folds = a.indices(ids)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(103))


def test_splits_save_load_by_stimulus_id(tmp_path):
    ids = [f"img{i}" for i in range(30)]
    sp = Splits.kfold(ids, n_folds=5, seed=2, strata=[i % 3 for i in range(30)])
    path = sp.save(tmp_path / "splits.json")
    d = json.loads(path.read_text())
    assert d["folds"]["img7"] == int(dict(zip(sp.stimulus_ids, sp.folds))["img7"])
    loaded = Splits.load(path)
    assert loaded == sp and loaded.fingerprint == sp.fingerprint
    jumbled = list(reversed(ids))  # positions differ, ids decide the folds
    for (tr1, te1), (tr2, te2) in zip(sp.indices(ids), loaded.indices(jumbled)):
        assert set(np.array(ids)[te1]) == set(np.array(jumbled)[te2])


def test_splits_mismatch_is_an_error():
    sp = Splits.kfold([f"s{i}" for i in range(20)], n_folds=4)
    with pytest.raises(ValueError, match=r"1 not in the splits \('x'\), 1 of the splits missing .*\('s3'\)"):
        sp.indices([f"s{i}" for i in range(20) if i != 3] + ["x"])
    with pytest.raises(ValueError, match="n_folds must be between 2 and the number of stimuli"):
        Splits.kfold(["a", "b"], n_folds=3)
    with pytest.raises(ValueError, match="not a brainfit splits object"):
        Splits.from_dict({"folds": {}})


def test_inner_splits_cover_training_set_only():
    sp = Splits.kfold([f"s{i}" for i in range(40)], n_folds=5, seed=3)
    inner = sp.inner(2)
    assert set(inner.stimulus_ids) == set(sp.train_ids(2))
    assert not set(inner.stimulus_ids) & set(sp.test_ids(2))
    assert inner == sp.inner(2) and inner != sp.inner(3)


def test_make_splits_from_assembly_stratifies_by_category():
    from brainfit.assembly import neural_assembly

    ids = np.repeat([f"s{i}" for i in range(24)], 2)
    cats = np.repeat([f"c{i % 3}" for i in range(24)], 2)
    a = neural_assembly(np.zeros((48, 2)), stimulus_id=ids, repetition=np.tile([0, 1], 24), neuroid_id=["n0", "n1"],
                        time_bin_start=[70], time_bin_end=[80], presentation_coords={"category": cats})
    sp = make_splits(a, n_folds=4, seed=0)
    assert sp.stratify == "category" and len(sp.stimulus_ids) == 24
    with pytest.raises(ValueError, match="cannot stratify by 'animal'"):
        make_splits(a, stratify="animal")


def _per_fold(sp, ids, labels, label):
    fold_of = dict(zip(sp.stimulus_ids, sp.folds))
    return np.bincount([fold_of[i] for i, c in zip(ids, labels) if c == label], minlength=sp.n_folds)


def test_kfold_uses_scikit_learn_on_sorted_ids():
    from sklearn.model_selection import KFold, StratifiedKFold

    ids = [f"img{i:03d}" for i in range(50)]
    cats = [f"c{i % 3}" for i in range(50)]
    perm = np.random.default_rng(4).permutation(50)
    shuffled_ids, shuffled_cats = np.array(ids)[perm], np.array(cats)[perm]
    sp = Splits.kfold(shuffled_ids, n_folds=5, seed=11, strata=shuffled_cats)
    want = np.empty(50, int)  # ids above are already sorted
    for k, (_, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=11).split(np.zeros(50), cats)):
        want[te] = k
    np.testing.assert_array_equal(sp.folds, want)
    plain = Splits.kfold(shuffled_ids, n_folds=5, seed=11)
    for k, (_, te) in enumerate(KFold(5, shuffle=True, random_state=11).split(np.zeros(50))):
        want[te] = k
    np.testing.assert_array_equal(plain.folds, want)


@pytest.mark.parametrize("strata", [True, False])
def test_kfold_order_independent_and_seeded(strata):
    ids = [f"s{i}" for i in range(37)]
    cats = [f"c{i % 4}" for i in range(37)] if strata else None
    a = Splits.kfold(ids, n_folds=6, seed=5, strata=cats)
    for s in range(3):
        perm = np.random.default_rng(s).permutation(37)
        b = Splits.kfold(np.array(ids)[perm], n_folds=6, seed=5, strata=None if cats is None else np.array(cats)[perm])
        assert a == b and a.fingerprint == b.fingerprint
    assert Splits.kfold(ids, n_folds=6, seed=5, strata=cats) == a  # same ids + seed -> same folds
    others = [Splits.kfold(ids, n_folds=6, seed=s, strata=cats) for s in (6, 7, 8)]
    assert all(o != a for o in others)  # the seed matters
    sizes = np.bincount(a.folds)
    assert sizes.max() - sizes.min() <= 1


def test_kfold_balances_strata_including_small_ones():
    # 3 large categories (20 members) and 2 smaller than the number of folds (3 and 1 member)
    ids = [f"s{i:03d}" for i in range(64)]
    cats = ["a"] * 20 + ["b"] * 20 + ["c"] * 20 + ["tiny"] * 3 + ["one"]
    perm = np.random.default_rng(0).permutation(64)
    ids_p, cats_p = np.array(ids)[perm], np.array(cats)[perm]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's small-stratum warning is handled, not leaked
        sp = Splits.kfold(ids_p, n_folds=8, seed=3, strata=cats_p, stratify="category")
    sizes = np.bincount(sp.folds, minlength=8)
    assert sizes.max() - sizes.min() <= 1
    for c in ("a", "b", "c"):  # 20 members over 8 folds: 2 or 3 per fold
        per = _per_fold(sp, ids_p, cats_p, c)
        assert per.min() == 2 and per.max() == 3
    for c, size in (("tiny", 3), ("one", 1)):  # smaller than n_folds: at most one member per fold
        per = _per_fold(sp, ids_p, cats_p, c)
        assert per.max() == 1 and per.sum() == size


def test_kfold_with_only_small_strata_and_their_inner_folds():
    # 21 stimuli in 7 categories of 3: no category can be stratified over 5 folds (KFold fallback)
    ids = [f"s{i:02d}" for i in range(21)]
    cats = [f"c{i % 7}" for i in range(21)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sp = Splits.kfold(ids, n_folds=5, seed=0, strata=cats, stratify="category")
        inner = [sp.inner(k) for k in range(5)]
    sizes = np.bincount(sp.folds)
    assert sizes.max() - sizes.min() <= 1 and len(sizes) == 5
    assert sp == Splits.kfold(ids[::-1], n_folds=5, seed=0, strata=cats[::-1])
    for k, isp in enumerate(inner):
        assert set(isp.stimulus_ids) == set(sp.train_ids(k)) and isp.n_folds == 4
        isizes = np.bincount(isp.folds)
        assert isizes.max() - isizes.min() <= 1
        assert isp.stratify == "category"
    # 2 folds: categories of 3 members can be stratified (1 or 2 per fold)
    two = Splits.kfold(ids, n_folds=2, seed=0, strata=cats)
    for c in set(cats):
        assert sorted(_per_fold(two, ids, cats, c).tolist()) == [1, 2]
