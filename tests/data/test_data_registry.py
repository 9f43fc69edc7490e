"""Dataset registry and data root: BRAINFIT_DATA, the default root, and the errors when data are missing."""

import re

import pytest

import brainfit.paths as paths
from brainfit.data import data_root, dataset_info, load_dataset, require_data_root


def test_brainfit_data_overrides_the_default_root(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "_DEFAULT_DATA_ROOT", tmp_path / "default")
    (tmp_path / "default").mkdir()
    monkeypatch.delenv("BRAINFIT_DATA", raising=False)
    assert data_root() == tmp_path / "default"  # the shared folder when it exists
    monkeypatch.setenv("BRAINFIT_DATA", str(tmp_path / "mine"))
    assert data_root() == tmp_path / "mine"  # the variable wins, even over an existing default
    assert data_root(tmp_path / "explicit") == tmp_path / "explicit"  # and an explicit path wins over both
    monkeypatch.setenv("BRAINFIT_DATA", "")
    assert data_root() == tmp_path / "default"  # an empty variable counts as unset


def test_no_data_root_at_all(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "_DEFAULT_DATA_ROOT", tmp_path / "absent")
    monkeypatch.delenv("BRAINFIT_DATA", raising=False)
    assert data_root() is None
    with pytest.raises(FileNotFoundError, match=r"no data root: set BRAINFIT_DATA .* 'cowley2023_v4'"):
        require_data_root("cowley2023_v4")


@pytest.mark.parametrize("name", ["zhang2011_it", "cowley2023_v4"])
def test_loader_with_a_nonexistent_brainfit_data_names_folder_and_variable(name, tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("BRAINFIT_DATA", str(missing))
    info = dataset_info(name)
    assert info.needs_data_root and info.folder
    want = f"{info.folder!r} not found under the data root {missing} (set BRAINFIT_DATA to change it)"
    with pytest.raises(FileNotFoundError, match=re.escape(want)):
        load_dataset(name)


def test_synthetic_needs_no_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINFIT_DATA", str(tmp_path / "nowhere"))
    assert not dataset_info("synthetic").needs_data_root
    stimuli, neural = load_dataset("synthetic", n_categories=2, objects_per_category=2, images_per_object=1,
                                   n_v4=2, n_it=2, n_repetitions=2, image_size=16)
    assert len(stimuli) == 12 and neural.sizes["neuroid"] == 4


def test_a_loader_argument_left_out_is_named():
    with pytest.raises(ValueError, match=re.escape("dataset 'nwb' needs the argument(s) ['path'] (e.g. path=...)")):
        load_dataset("nwb")
