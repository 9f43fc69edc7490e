"""Users' own data: from_arrays and from_files on real .npy/.npz/.h5/.mat files, tables and images."""

from __future__ import annotations

import re
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
from PIL import Image

from brainfit.assembly import validate_neural
from brainfit.data import dataset_info, load_dataset
from brainfit.data.arrays import from_arrays, from_files, read_array

IDS = ["cat", "dog", "cat", "car", "dog", "cat"]  # 6 presentations of 3 stimuli
COLOURS = {"cat": (255, 0, 0), "dog": (0, 255, 0), "car": (0, 0, 255)}


@pytest.fixture
def values():
    return np.random.default_rng(0).poisson(3.0, size=(6, 4, 5)).astype(np.float32)


@pytest.fixture
def metadata(tmp_path):
    path = tmp_path / "meta.csv"
    pd.DataFrame({"stimulus_id": IDS, "category": ["animal", "animal", "animal", "vehicle", "animal", "animal"],
                  "contrast": [0.5, 1.0, 0.5, 1.0, 0.5, 0.5]}).to_csv(path, index=False)
    return path


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name, colour in COLOURS.items():
        Image.new("RGB", (10, 8), colour).save(folder / f"{name}.png")
    Image.new("RGB", (10, 8), (9, 9, 9)).save(folder / "unused.png")
    return folder


@pytest.fixture
def image_zip(image_folder, tmp_path):
    path = tmp_path / "images.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(image_folder.iterdir()):
            zf.write(f, f"stimuli/{f.name}")  # inside a folder: matched by file name
    return path


# ----------------------------------------------------------------------------- from_arrays


def test_from_arrays_keeps_values_and_coords(values, image_folder):
    stimuli, da = from_arrays(values, stimulus_id=IDS, region=["V4", "V4", "IT", "IT"], neuroid_id=[7, 8, 9, 10],
                              time_bin_start=70, bin_width=20, images=image_folder, animal="m1", session="s1",
                              metadata={"category": ["a", "b", "a", "c", "b", "a"], "trial": np.arange(6)})
    validate_neural(da, require_repetitions=True)
    np.testing.assert_array_equal(da.values, values)
    assert da.stimulus_id.values.tolist() == IDS
    assert da.repetition.values.tolist() == [0, 0, 1, 0, 1, 2]  # occurrence index of each stimulus
    assert da.neuroid_id.values.tolist() == ["7", "8", "9", "10"]
    assert da.region.values.tolist() == ["V4", "V4", "IT", "IT"] and set(da.animal.values) == {"m1"}
    assert da.time_bin_start.values.tolist() == [70, 90, 110, 130, 150]
    assert da.time_bin_end.values.tolist() == [90, 110, 130, 150, 170]
    assert da.trial.values.tolist() == list(range(6))
    assert stimuli.stimulus_ids.tolist() == ["cat", "dog", "car"]
    assert stimuli.metadata["category"].tolist() == ["a", "b", "c"]  # constant per stimulus: kept
    assert "trial" not in stimuli.metadata  # trial-level: not stimulus metadata
    assert stimuli.load_image("car")[0, 0].tolist() == [0, 0, 255]


def test_from_arrays_2d_and_axis_order(values):
    _, da = from_arrays(values[:, :, 0], stimulus_id=IDS, region="IT", time_bin_start=70, time_bin_end=170)
    assert da.shape == (6, 4, 1) and da.time_bin_end.values.tolist() == [170.0]
    assert da.neuroid_id.values.tolist() == ["n0", "n1", "n2", "n3"]
    _, da = from_arrays(values.transpose(1, 2, 0), dims="neuroid time_bin presentation", stimulus_id=IDS,
                        region="IT", time_bin_start=[0, 10, 20, 30, 40], time_bin_end=[10, 20, 30, 40, 50],
                        repetition=[0, 0, 1, 0, 1, 2])
    np.testing.assert_array_equal(da.values, values)


@pytest.mark.parametrize("change, message", [
    (dict(stimulus_id=IDS[:5]), "stimulus_id has shape (5,) but the responses have 6 presentation(s)"),
    (dict(neuroid_id=["a", "b"]), "neuroid_id has shape (2,) but the responses have 4 neuroid(s)"),
    (dict(time_bin_start=None), "responses have 5 time bin(s): pass time_bin_start"),
    (dict(time_bin_end=[1, 2]), "time_bin_start has 5 and time_bin_end 2 value(s) for 5 time bin(s)"),
    (dict(region=None), "region is required"),
    (dict(dims="presentation neuroid"), "dims 'presentation neuroid' do not fit an array with 3 axes"),
    (dict(dims="presentation neuroid time"), "dims 'presentation neuroid time' do not fit"),
    (dict(metadata={"category": ["a"] * 5}), "metadata has 5 row(s) but the responses have 6 presentation(s)"),
    (dict(stimulus_id=["a", "b", "", "c", "d", "e"]), "stimulus_id is empty or missing at 1 position(s), first at index 2"),
    (dict(repetition=[0.5] * 6), "repetition must hold integers"),
    (dict(repetition=[0] * 6), "duplicate (stimulus_id, repetition) pair(s): ('cat'"),
    # a coord lives on one dim: a presentation column named like a neuroid coord would silently vanish
    (dict(metadata={"region": ["x"] * 6}), "metadata column(s) ['region'] are also neuroid or time-bin coords"),
    (dict(metadata={"animal": ["x"] * 6}, animal="m1"), "metadata column(s) ['animal'] are also neuroid"),
    (dict(metadata={"depth": [1] * 6}, neuroid_coords={"depth": [1, 2, 3, 4]}), "metadata column(s) ['depth']"),
])
def test_from_arrays_bad_input(values, change, message):
    kw = dict(stimulus_id=IDS, region="IT", time_bin_start=[0, 10, 20, 30, 40], time_bin_end=[10, 20, 30, 40, 50])
    kw.update(change)
    with pytest.raises(ValueError, match=re.escape(message)):
        from_arrays(values, **kw)


def test_from_arrays_refuses_nan_and_wrong_rank(values):
    values[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite value\(s\) \(1 NaN.*presentation=3 \(stimulus_id='car'\)"):
        from_arrays(values, stimulus_id=IDS, region="IT", time_bin_start=0, bin_width=10)
    with pytest.raises(ValueError, match=r"must be 2-D .* or 3-D .* got shape \(6,\)"):
        from_arrays(np.zeros(6), stimulus_id=IDS, region="IT", time_bin_start=0, bin_width=10)
    with pytest.raises(ValueError, match=r"must hold numbers, got dtype <U1"):
        from_arrays(np.full((6, 2), "x"), stimulus_id=IDS, region="IT", time_bin_start=0, bin_width=10)


# ----------------------------------------------------------------------------- files


def _save(kind: str, path, values):
    """Write ``values`` (presentation x neuroid x time_bin) as ``kind``, with a decoy array beside it."""
    if kind == "npy":
        np.save(path, values)
    elif kind == "npz":
        np.savez(path, rates=values, decoy=np.zeros(3))
    elif kind == "h5":
        with h5py.File(path, "w") as f:
            f.create_dataset("data/rates", data=values)
            f.create_dataset("decoy", data=np.zeros(3))
    elif kind == "mat5":
        scipy.io.savemat(path, {"rates": values, "decoy": np.zeros(3)})
    elif kind == "mat73":  # as MATLAB -v7.3 writes: HDF5 behind a 512-byte header, axes reversed
        with h5py.File(path, "w", userblock_size=512) as f:
            f.create_dataset("rates", data=values.T)
            f.create_dataset("decoy", data=np.zeros((3, 1)))
        header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
        with open(path, "r+b") as fh:
            fh.write(header.ljust(116) + b"\0" * 8 + b"\x00\x02IM")
    return {"npy": None, "npz": "rates", "h5": "data/rates", "mat5": "rates", "mat73": "rates"}[kind]


@pytest.mark.parametrize("kind, suffix", [("npy", ".npy"), ("npz", ".npz"), ("h5", ".h5"), ("mat5", ".mat"),
                                          ("mat73", ".mat")])
def test_from_files_every_format(kind, suffix, values, metadata, image_folder, tmp_path):
    path = tmp_path / f"responses{suffix}"
    key = _save(kind, path, values)
    if kind == "mat73":
        assert h5py.is_hdf5(path)
        with pytest.raises(NotImplementedError):  # scipy refuses v7.3: the HDF5 path is needed
            scipy.io.loadmat(path)
    stimuli, da = from_files(path, key=key, metadata=metadata, region="IT", images=image_folder,
                             time_bin_start=50, bin_width=10, animal="m2")
    np.testing.assert_array_equal(da.values, values)
    assert da.stimulus_id.values.tolist() == IDS and da.repetition.values.tolist() == [0, 0, 1, 0, 1, 2]
    assert da.category.values.tolist()[3] == "vehicle" and da.contrast.values.tolist() == [0.5, 1, 0.5, 1, 0.5, 0.5]
    assert da.time_bin_start.values.tolist() == [50, 60, 70, 80, 90] and set(da.animal.values) == {"m2"}
    assert da.attrs["source"] == path.name
    assert stimuli.stimulus_ids.tolist() == ["cat", "dog", "car"]
    assert stimuli.metadata["category"].tolist() == ["animal", "animal", "vehicle"]
    assert "contrast" not in stimuli.metadata  # differs between the two trials of 'dog'
    assert stimuli.load_image("dog")[2, 3].tolist() == [0, 255, 0]


def test_load_dataset_files_with_zip_tsv_neuroids_and_axis_order(values, image_zip, tmp_path):
    np.save(tmp_path / "r.npy", values.transpose(1, 0, 2))  # neuroid x presentation x time_bin
    pd.DataFrame({"image": IDS, "repetition": [0, 0, 1, 0, 1, 2]}).to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    pd.DataFrame({"neuroid_id": ["e1", "e2", "e3", "e4"], "region": ["V1", "V1", "V4", "V4"], "animal": "m3",
                  "depth": [1.0, 2.0, 3.0, 4.0]}).to_csv(tmp_path / "n.csv", index=False)
    assert not dataset_info("files").needs_data_root
    stimuli, da = load_dataset("files", responses=tmp_path / "r.npy", metadata=tmp_path / "m.tsv",
                               neuroids=tmp_path / "n.csv", images=image_zip, stimulus_column="image",
                               dims="neuroid presentation time_bin", time_bin_start=0, bin_width=25)
    np.testing.assert_array_equal(da.values, values)
    assert da.neuroid_id.values.tolist() == ["e1", "e2", "e3", "e4"]
    assert da.region.values.tolist() == ["V1", "V1", "V4", "V4"] and da.depth.values.tolist() == [1, 2, 3, 4]
    assert set(da.animal.values) == {"m3"} and "image" not in da.coords
    assert stimuli.stimulus_ids.tolist() == ["cat", "dog", "car"]
    assert stimuli.load_image("cat")[0, 0].tolist() == [255, 0, 0]


def test_numeric_stimulus_ids_match_image_names(values, tmp_path):
    for i in (1, 2, 3):
        Image.new("L", (4, 4), 40 * i).save(tmp_path / f"{i}.jpg")
    np.save(tmp_path / "r.npy", values[:3, :, 0])
    pd.DataFrame({"stimulus_id": [3, 1, 2]}).to_csv(tmp_path / "m.csv", index=False)
    stimuli, da = from_files(tmp_path / "r.npy", metadata=tmp_path / "m.csv", region="IT", images=tmp_path,
                             time_bin_start=70, time_bin_end=170)
    assert "repetition" not in da.coords and da.stimulus_id.values.tolist() == ["3", "1", "2"]
    assert stimuli.stimulus_ids.tolist() == ["3", "1", "2"]


def _expect(message, **kw):
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(message)):
        from_files(**kw)


def test_from_files_bad_input_names_the_file(values, metadata, image_folder, tmp_path):
    npz, h5, npy = tmp_path / "r.npz", tmp_path / "r.h5", tmp_path / "r.npy"
    _save("npz", npz, values), _save("h5", h5, values), np.save(npy, values)
    ok = dict(metadata=metadata, region="IT", time_bin_start=0, bin_width=10)
    _expect(f"{npz} holds 2 arrays ['rates', 'decoy']: pass key=... to choose one", responses=npz, **ok)
    _expect(f"{npz} has no array 'rate'; it holds ['rates', 'decoy']", responses=npz, key="rate", **ok)
    _expect(f"{h5} has no array 'rates'; it holds ['data/rates', 'decoy']", responses=h5, key="rates", **ok)
    _expect(f"{npy}: key='x' is only for .npz/.h5/.hdf5/.mat files", responses=npy, key="x", **ok)
    _expect("responses file not found", responses=tmp_path / "none.npy", **ok)
    (tmp_path / "r.txt").write_text("1 2 3")
    _expect("unsupported responses file type '.txt'", responses=tmp_path / "r.txt", **ok)
    (tmp_path / "bad.mat").write_text("not a mat file")
    _expect(f"{tmp_path / 'bad.mat'} cannot be read as a MATLAB file", responses=tmp_path / "bad.mat", **ok)
    short = tmp_path / "short.csv"
    pd.DataFrame({"stimulus_id": IDS[:4]}).to_csv(short, index=False)
    _expect(f"{short} has 4 row(s) but {npy} has 6 presentations (array shape (6, 4, 5)", responses=npy,
            **{**ok, "metadata": short})
    nocol = tmp_path / "nocol.csv"
    pd.DataFrame({"image": IDS}).to_csv(nocol, index=False)
    _expect(f"{nocol} has no 'stimulus_id' column; columns: ['image']", responses=npy, **{**ok, "metadata": nocol})
    _expect("metadata must be a .csv or .tsv file", responses=npy, **{**ok, "metadata": tmp_path / "r.npz"})
    _expect(f"no region for the neuroids of {npy}", responses=npy, **{**ok, "region": None})
    _expect(f"{npy}: responses have 5 time bin(s): pass time_bin_start", responses=npy,
            **{**ok, "time_bin_start": None})
    (image_folder / "dog.png").unlink()
    _expect(f"{image_folder} has no image for 1 stimulus id(s): 'dog'", responses=npy, images=image_folder, **ok)
    _expect(f"images not found: {tmp_path / 'nowhere'}", responses=npy, images=tmp_path / "nowhere", **ok)
    neur = tmp_path / "n.csv"
    pd.DataFrame({"region": ["IT"] * 3}).to_csv(neur, index=False)
    _expect(f"{neur} has 3 row(s) but {npy} has 4 neuroids", responses=npy, neuroids=neur, **ok)


def test_from_files_refuses_nan_naming_file_and_stimulus(values, metadata, tmp_path):
    values[4, 0, 0] = np.nan
    path = tmp_path / "r.npy"
    np.save(path, values)
    _expect(f"{path}: neural assembly contains 1 non-finite value(s) (1 NaN, 0 inf); first at presentation=4 "
            "(stimulus_id='dog')", responses=path, metadata=metadata, region="IT", time_bin_start=0, bin_width=10)


def test_read_array_mat_v73_shape_is_matlabs(tmp_path, values):
    _save("mat73", tmp_path / "x.mat", values)
    assert read_array(tmp_path / "x.mat", "rates").shape == values.shape
    assert read_array(tmp_path / "x.mat", "decoy").shape == (1, 3)  # MATLAB's (1, 3), stored (3, 1)


def test_unreadable_archives_name_the_file(tmp_path):
    np.savez(tmp_path / "obj.npz", rates=np.array([{"a": 1}], dtype=object))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "junk.h5").write_text("not hdf5")
    for name, what in (("obj.npz", ".npz archive"), ("junk.npz", ".npz archive"), ("junk.h5", "HDF5 file")):
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path / name} cannot be read as a") + ".*" + re.escape(what)):
            read_array(tmp_path / name)


def test_a_file_name_in_two_folders_is_ambiguous_and_said_so(values, tmp_path):
    for folder, colour in (("a", (255, 0, 0)), ("b", (0, 255, 0))):
        (tmp_path / "img" / folder).mkdir(parents=True)
        for name in ("cat", "dog", "car"):
            Image.new("RGB", (4, 4), colour).save(tmp_path / "img" / folder / f"{name}.png")
    with pytest.raises(ValueError, match=r"file name\(s\) 'car', 'cat', 'dog' are in several folders: name those "
                                         r"stimuli by their path"):
        from_arrays(values, stimulus_id=IDS, region="IT", time_bin_start=0, bin_width=10, images=tmp_path / "img")
    ids = [f"b/{s}" for s in IDS]
    stimuli, _ = from_arrays(values, stimulus_id=ids, region="IT", time_bin_start=0, bin_width=10,
                             images=tmp_path / "img")
    assert stimuli.load_image("b/dog")[0, 0].tolist() == [0, 255, 0]
