"""Bad neural and activation assemblies and assembly files: validator cases (these held before the
reliability work and stay in the suite so they keep holding). Each error names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from brainfit.assembly import (
    activation_assembly, load_assembly, neural_assembly, save_assembly, validate_activations, validate_neural,
)


def _neural(**over):
    kw = dict(values=np.ones((4, 2, 3)), stimulus_id=["a", "b", "a", "b"], neuroid_id=["n0", "n1"],
              time_bin_start=[0, 10, 20], time_bin_end=[10, 20, 30], repetition=[0, 0, 1, 1], region="IT")
    kw.update(over)
    return neural_assembly(**kw)


NEURAL = [
    ("not a DataArray", lambda: validate_neural(np.ones((2, 2, 2))), "must be an xarray.DataArray"),
    ("wrong dims", lambda: validate_neural(xr.DataArray(np.ones((2, 2)), dims=("x", "y"))), "has dims"),
    ("NaN response", lambda: _neural(values=np.where(np.eye(4, 2)[..., None] > 0, np.nan, 1.0) * np.ones((4, 2, 3))),
     "non-finite value"),
    ("duplicate neuroid ids", lambda: _neural(neuroid_id=["n0", "n0"]), "duplicate neuroid_id"),
    ("duplicate trials", lambda: _neural(repetition=[0, 0, 0, 1]), "duplicate (stimulus_id, repetition)"),
    ("reversed time bin", lambda: _neural(time_bin_end=[10, 5, 30]), "empty or reversed"),
    ("unsorted time bins", lambda: _neural(time_bin_start=[10, 0, 20], time_bin_end=[20, 10, 30]),
     "not sorted by start"),
    ("non-finite bin edge", lambda: _neural(time_bin_start=[0, np.nan, 20]), "non-finite time_bin_start"),
    ("strings as responses", lambda: validate_neural(_neural().astype(str)), "must hold numbers"),
    ("wrong length of ids", lambda: _neural(stimulus_id=["a", "b"]), "stimulus_id"),
]


@pytest.mark.parametrize("case,build,message", NEURAL, ids=[c[0] for c in NEURAL])
def test_bad_neural_assembly(case, build, message):
    with pytest.raises(ValueError, match=None) as err:
        build()
    assert message in str(err.value), str(err.value)


def _acts(**over):
    kw = dict(values=np.ones((2, 3, 4), np.float32), stimulus_id=["a", "b"], layer=["l1", "l1", "l2"])
    kw.update(over)
    return activation_assembly(**kw)


ACTIVATIONS = [
    ("duplicate stimuli", lambda: _acts(stimulus_id=["a", "a"]), "duplicate stimulus_id"),
    ("inf activation", lambda: validate_activations(_acts().where(False, np.inf)), "non-finite value"),
    ("decreasing time steps", lambda: validate_activations(_acts().assign_coords(time_step=[0, 2, 1, 3])),
     "strictly increasing"),
]


@pytest.mark.parametrize("case,build,message", ACTIVATIONS, ids=[c[0] for c in ACTIVATIONS])
def test_bad_activations(case, build, message):
    with pytest.raises(ValueError) as err:
        build()
    assert message in str(err.value), str(err.value)


def test_assembly_files(tmp_path, nothing_left):
    with pytest.raises(FileNotFoundError, match="assembly file not found"):
        load_assembly(tmp_path / "absent.nc")
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not netCDF at all")
    with pytest.raises(ValueError, match="cannot read assembly from"):
        load_assembly(junk)
    junk.unlink()
    with pytest.raises(ValueError, match="cannot save: assembly has dims"):
        save_assembly(xr.DataArray(np.ones((2, 2)), dims=("x", "y")), tmp_path / "out.nc")
    nothing_left(tmp_path)
    good = save_assembly(_neural(), tmp_path / "good.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match="cannot read assembly from"):
        load_assembly(truncated)
