import re

import numpy as np
import pytest

from brainfit import assembly as A


def _neural(n_stim=6, n_rep=2, n_neur=3, seed=0, **kw):
    rng = np.random.default_rng(seed)
    starts, ends = A.make_time_bins(70, 110, 10)
    sid = np.repeat([f"s{i}" for i in range(n_stim)], n_rep)
    rep = np.tile(np.arange(n_rep), n_stim)
    return A.neural_assembly(
        rng.poisson(3, size=(n_stim * n_rep, n_neur, len(starts))).astype(float),
        stimulus_id=sid, repetition=rep, neuroid_id=[f"n{i}" for i in range(n_neur)],
        time_bin_start=starts, time_bin_end=ends, region=["V4"] + ["IT"] * (n_neur - 1),
        presentation_coords={"category": np.repeat([f"c{i % 2}" for i in range(n_stim)], n_rep)}, **kw)


def test_make_time_bins_default():
    s, e = A.make_time_bins()
    assert len(s) == 19 and s[0] == 70 and e[-1] == 260
    assert np.all(e - s == 10)


def test_neural_assembly_dims_and_coords():
    a = _neural()
    assert a.dims == A.NEURAL_DIMS
    for c in ("stimulus_id", "repetition", "neuroid_id", "region", "time_bin_start", "time_bin_end", "category"):
        assert c in a.coords


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a.rename({"time_bin": "bin"}), "missing dim(s) ['time_bin']"),
    (lambda a: a.drop_vars("stimulus_id"), "missing coord 'stimulus_id'"),
    (lambda a: a.drop_vars("neuroid_id"), "missing coord 'neuroid_id'"),
    (lambda a: a.drop_vars("time_bin_end"), "missing coord 'time_bin_end'"),
    (lambda a: a.expand_dims(extra=2), "unexpected dim(s) ['extra']"),
])
def test_validate_neural_names_missing_parts(mutate, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        A.validate_neural(mutate(_neural()))


def test_validate_neural_rejects_nan_and_inf_naming_location():
    a = _neural().copy()
    a.values[3, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite value\(s\) \(1 NaN, 0 inf\); first at presentation=3 \(stimulus_id='s1'\), neuroid=1 \(neuroid_id='n1'\), time_bin=2"):
        A.validate_neural(a)
    a.values[3, 1, 2] = np.inf
    with pytest.raises(ValueError, match=r"0 NaN, 1 inf"):
        A.validate_neural(a)


def test_validate_neural_rejects_duplicates():
    a = _neural()
    with pytest.raises(ValueError, match=r"duplicate \(stimulus_id, repetition\)"):
        A.validate_neural(a.assign_coords(repetition=("presentation", np.zeros(a.sizes["presentation"], int))))
    with pytest.raises(ValueError, match="duplicate stimulus_id.*no 'repetition' coord"):
        A.validate_neural(a.drop_vars("repetition"))
    with pytest.raises(ValueError, match="duplicate neuroid_id"):
        A.validate_neural(a.assign_coords(neuroid_id=("neuroid", ["n0", "n0", "n1"])))


@pytest.mark.parametrize("starts, ends, message", [
    ([70, 80, 90, 100], [80, 90, 90, 110], r"time bin 2 is empty or reversed: \[90.0, 90.0\)"),
    ([70, 90, 80, 100], [80, 100, 90, 110], "not sorted by start: bin 1 starts at 90.0 ms, bin 2 at 80.0 ms"),
    ([70, 75, 90, 100], [80, 85, 100, 110], r"time bins overlap: bin 0 \[70.0, 80.0\) and bin 1 \[75.0, 85.0\)"),
])
def test_validate_neural_time_bins(starts, ends, message):
    a = _neural().assign_coords(time_bin_start=("time_bin", np.array(starts, float)),
                                time_bin_end=("time_bin", np.array(ends, float)))
    with pytest.raises(ValueError, match=message):
        A.validate_neural(a)


def test_validate_rejects_non_dataarray_and_multiindex():
    with pytest.raises(ValueError, match="must be an xarray.DataArray, got ndarray"):
        A.validate_neural(np.zeros((2, 2, 2)))
    a = _neural().set_index(presentation=["stimulus_id", "repetition"])
    with pytest.raises(ValueError, match="MultiIndex"):
        A.validate_neural(a)


def test_validate_transposes_to_canonical_order():
    a = _neural().transpose("time_bin", "neuroid", "presentation")
    assert A.validate_neural(a).dims == A.NEURAL_DIMS


def test_average_repetitions_matches_groupby_mean_and_keeps_metadata():
    a = _neural(n_stim=5, n_rep=3)
    # drop one trial so repetition counts differ
    a = a.isel(presentation=np.r_[0:4, 5:a.sizes["presentation"]])
    m = A.average_repetitions(a)
    assert list(m.stimulus_id.values) == [f"s{i}" for i in range(5)]
    assert "repetition" not in m.coords and "category" in m.coords
    assert list(m.n_repetitions.values) == [3, 2, 3, 3, 3]
    for i, s in enumerate(m.stimulus_id.values):
        expected = a.values[a.stimulus_id.values == s].mean(0)
        np.testing.assert_allclose(m.values[i], expected)


def test_average_repetitions_drops_trial_level_coords():
    a = _neural()
    a = a.assign_coords(trial_time=("presentation", np.arange(a.sizes["presentation"])))
    assert "trial_time" not in A.average_repetitions(a).coords


def test_select_region():
    a = _neural()
    assert A.select_region(a, "IT").sizes["neuroid"] == 2
    with pytest.raises(ValueError, match=r"region 'V1' not in assembly; regions present: \['IT', 'V4'\]"):
        A.select_region(a, "V1")


def test_align_jumbled_by_stimulus_id():
    m = A.average_repetitions(_neural())
    jumbled = m.isel(presentation=np.random.default_rng(1).permutation(m.sizes["presentation"]))
    a2, b2 = A.align(m, jumbled)
    assert list(a2.stimulus_id.values) == list(b2.stimulus_id.values)
    np.testing.assert_array_equal(a2.values, b2.values)


def test_align_errors_name_ids():
    m = A.average_repetitions(_neural())
    with pytest.raises(ValueError, match=r"1 only in the first \('s5'\), 0 only in the second"):
        A.align(m, m.isel(presentation=slice(0, 5)))
    a, b = A.align(m, m.isel(presentation=slice(1, 5)), join="inner")
    assert a.sizes["presentation"] == 4
    with pytest.raises(ValueError, match="lacks 1 requested stimulus_id"):
        A.align(m, m.isel(presentation=slice(0, 5)), join="left")
    with pytest.raises(ValueError, match="first assembly has duplicate stimulus_id"):
        A.align(_neural(), m)


def test_netcdf_round_trip(tmp_path):
    a = _neural(attrs={"source": "test", "config": {"seed": 3, "levels": [0, 3]}, "flag": True})
    path = A.save_assembly(a, tmp_path / "a.nc")
    b = A.load_assembly(path)
    np.testing.assert_array_equal(a.values, b.values)
    for name in a.coords:
        np.testing.assert_array_equal(a.coords[name].values, b.coords[name].values)
    assert b.attrs == {"source": "test", "config": {"seed": 3, "levels": [0, 3]}, "flag": True}
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_save_is_atomic_on_failure(tmp_path):
    a = _neural()
    path = A.save_assembly(a, tmp_path / "a.nc")
    before = path.read_bytes()
    bad = a.copy()
    bad.values[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        A.save_assembly(bad, path)
    assert path.read_bytes() == before


def test_load_rejects_garbage(tmp_path):
    p = tmp_path / "bad.nc"
    p.write_bytes(b"not a netcdf file")
    with pytest.raises(ValueError, match="cannot read assembly"):
        A.load_assembly(p)
    with pytest.raises(FileNotFoundError):
        A.load_assembly(tmp_path / "missing.nc")


def test_activation_assembly():
    act = A.activation_assembly(np.zeros((4, 5, 3)), stimulus_id=list("abcd"), layer=["l1"] * 2 + ["l2"] * 3)
    assert act.dims == A.ACTIVATION_DIMS
    assert list(act.unit.values) == [0, 1, 0, 1, 2]
    assert list(act.time_step.values) == [0, 1, 2]
    with pytest.raises(ValueError, match="duplicate stimulus_id"):
        A.activation_assembly(np.zeros((2, 1)), stimulus_id=["a", "a"], layer="l1")
    with pytest.raises(ValueError, match="time steps must be strictly increasing"):
        A.activation_assembly(np.zeros((2, 1, 2)), stimulus_id=["a", "b"], layer="l1", time_step=[1, 0])
    with pytest.raises(ValueError, match="missing coord 'layer'"):
        A.validate_activations(act.drop_vars("layer"))


@pytest.mark.parametrize("kwargs, message", [
    ({"presentation_coords": {"stimulus_id": ["x", "y"]}}, "presentation_coords has a coord 'stimulus_id', a coord the assembly sets itself"),
    ({"repetition": [0, 1], "presentation_coords": {"repetition": [1, 0]}}, "presentation_coords has a coord 'repetition'"),
    ({"presentation_coords": {"animal": ["a", "b"]}, "neuroid_coords": {"animal": ["m"]}},
     "neuroid_coords has a coord 'animal', also given in presentation_coords"),
    ({"region": "IT", "neuroid_coords": {"region": ["V4"]}}, "neuroid_coords has a coord 'region', a coord the assembly sets"),
])
def test_a_coord_name_on_two_dims_is_refused(kwargs, message):
    from brainfit.assembly import neural_assembly

    with pytest.raises(ValueError, match=re.escape(message)):
        neural_assembly(np.zeros((2, 1, 1)), stimulus_id=["a", "b"], neuroid_id=["n0"], time_bin_start=[70],
                        time_bin_end=[80], **kwargs)
    # region given once, as a neuroid coord, is fine
    neural_assembly(np.zeros((2, 1, 1)), stimulus_id=["a", "b"], neuroid_id=["n0"], time_bin_start=[70],
                    time_bin_end=[80], neuroid_coords={"region": ["IT"]})


def test_short_list_names_the_first_items_and_counts_the_rest():
    assert A.short_list(["s1", "s2"]) == "'s1', 's2'"
    assert A.short_list(["s1", "s2", "s3"], 2) == "'s1', 's2', ... (3 in all)"
    assert A.short_list(np.array(["a", "b"])) == "'a', 'b'"  # numpy scalars shown as Python values
    assert A.short_list(np.arange(2)) == "0, 1"
