"""BrainIO / Brain-Score import and export: files built exactly as brainio writes them.

brainio's ``DataAssembly`` holds every coord of a dim in a pandas MultiIndex, and its
``write_netcdf`` resets those indexes (levels become plain coords along their dim) before
``to_dataset(name="data").to_netcdf(..., encoding=zlib)``; uncompressed, it is a plain
``DataArray.to_netcdf``. The helpers below do the same with xarray and pandas.
"""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image

from brainfit.assembly import neural_assembly
from brainfit.data import dataset_info, load_dataset
from brainfit.data.brainio import (
    load_brainio, load_brainio_scores, read_brainio_stimuli, write_brainio, write_brainio_scores,
)
from brainfit.stimuli import StimulusSet

STIMULI = [f"img{i:02d}" for i in range(6)]
OBJECTS = ["car", "dog", "car", "dog", "face", "face"]
NEUROIDS = ["mA_L_M_5_9", "mA_L_A_2_4", "mB_R_M_8_0", "mB_R_P_1_1"]
REGIONS = ["V4", "V4", "IT", "IT"]
ANIMALS = ["monkeyA", "monkeyA", "monkeyB", "monkeyB"]


# ----------------------------------------------------------------------------- brainio-style files


def brainio_assembly(*, n_reps=3, n_bins=10, id_name="stimulus_id", region=True, seed=0, dims=None):
    """A DataArray with MultiIndexes on every dim, the way a brainio DataAssembly holds it.

    Presentations are jumbled (not grouped by stimulus or repetition).
    """
    rng = np.random.default_rng(seed)
    sid = np.repeat(STIMULI, n_reps)
    rep = np.tile(np.arange(n_reps), len(STIMULI))
    obj = np.repeat(OBJECTS, n_reps)
    order = rng.permutation(len(sid))
    pres = {id_name: sid[order], "object_name": obj[order]}
    if n_reps > 1:
        pres["repetition"] = rep[order]
    neur = {"neuroid_id": NEUROIDS, "animal": ANIMALS}
    if region:
        neur["region"] = REGIONS
    coords = {"presentation": pd.MultiIndex.from_arrays(list(pres.values()), names=list(pres)),
              "neuroid": pd.MultiIndex.from_arrays(list(neur.values()), names=list(neur))}
    shape = (len(sid), len(NEUROIDS))
    all_dims = ["presentation", "neuroid"]
    if n_bins:
        starts = np.arange(70, 70 + 10 * n_bins, 10)
        coords["time_bin"] = pd.MultiIndex.from_arrays([starts, starts + 10], names=["time_bin_start", "time_bin_end"])
        shape += (n_bins,)
        all_dims.append("time_bin")
    values = rng.poisson(5.0, size=shape).astype(np.float32)
    da = xr.DataArray(values, dims=all_dims, coords=coords)
    return da.transpose(*dims) if dims else da


def write_like_brainio(da, path, compress=True):
    """brainio.packaging.write_netcdf: reset the MultiIndexes, then one compressed variable ``data``."""
    da = da.reset_index(list(da.indexes))
    if compress:
        ds = da.to_dataset(name="data")
        ds.to_netcdf(path, engine="h5netcdf", encoding={v: dict(zlib=True, complevel=1) for v in ds.variables})
    else:
        da.to_netcdf(path, engine="h5netcdf")
    return path


def value_at(da, sid, neuroid, rep=None, tb=0, id_name="stimulus_id"):
    """The response at (stimulus, repetition, neuroid, bin), found by coordinate, not position."""
    flat = da.reset_index(list(da.indexes)) if any(isinstance(i, pd.MultiIndex) for i in da.indexes.values()) else da
    p = np.flatnonzero((flat[id_name].values == sid) & ((flat["repetition"].values == rep) if rep is not None else True))
    n = np.flatnonzero(flat["neuroid_id"].values == neuroid)
    sel = {"presentation": p[0], "neuroid": n[0]}
    if "time_bin" in flat.dims:
        sel["time_bin"] = tb
    return float(flat.isel(sel).values)


def write_images(tmp_path, *, folder="images", fmt="PNG", zip_name=None, prefix=""):
    """Real images written with PIL: a folder (and optionally a zip), pixels returned by id."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:12, 0:16]
    # smooth images, each with its own colour and gradient (JPEG keeps them close; ids stay distinguishable)
    pixels = {s: np.clip(np.stack([c0 + 4 * xx, c1 + 6 * yy, c2 + 2 * (xx + yy)], axis=-1), 0, 255).astype(np.uint8)
              for s, (c0, c1, c2) in zip(STIMULI, rng.integers(0, 150, size=(len(STIMULI), 3)))}
    ext = ".png" if fmt == "PNG" else ".jpg"
    root = tmp_path / folder
    root.mkdir()
    for s, px in pixels.items():
        Image.fromarray(px).save(root / f"{s}{ext}", format=fmt)
    if zip_name:
        with zipfile.ZipFile(tmp_path / zip_name, "w") as zf:
            for s in STIMULI:
                zf.write(root / f"{s}{ext}", arcname=f"{prefix}{s}{ext}")
    return pixels, ext


def write_csv(path, *, id_name="stimulus_id", file_col="filename", ext=".png", ids=STIMULI):
    cats = {"car": "vehicle", "dog": "animal", "face": "face"}
    obj = dict(zip(STIMULI, OBJECTS))
    pd.DataFrame({id_name: ids, "category": [cats[obj.get(s, "car")] for s in ids], "size_deg": [8.0] * len(ids),
                  file_col: [f"{s}{ext}" for s in ids]}).to_csv(path, index=False)
    return path


# ----------------------------------------------------------------------------- reading assemblies


def test_temporal_brainscore_file_reads_by_coordinate(tmp_path):
    src = brainio_assembly(dims=("neuroid", "time_bin", "presentation"))  # dims in any order
    stimuli, neural = load_dataset("brainio", assembly=write_like_brainio(src, tmp_path / "assy_test.nc"))
    assert stimuli is None
    assert neural.dims == ("presentation", "neuroid", "time_bin")
    assert neural.sizes == {"presentation": 18, "neuroid": 4, "time_bin": 10}
    np.testing.assert_array_equal(neural["time_bin_start"], np.arange(70, 170, 10.0))
    np.testing.assert_array_equal(neural["time_bin_end"], np.arange(80, 180, 10.0))
    assert neural["region"].values.tolist() == REGIONS and neural["animal"].values.tolist() == ANIMALS
    assert neural.attrs["trials"] is True and neural.dtype == np.float32
    for sid, nid, rep, tb in [("img03", NEUROIDS[2], 1, 4), ("img00", NEUROIDS[0], 2, 9), ("img05", NEUROIDS[3], 0, 0)]:
        got = value_at(neural, sid, nid, rep, tb)
        assert got == value_at(src.transpose("presentation", "neuroid", "time_bin"), sid, nid, rep, tb)
    assert "object_name" in neural.coords and not any(isinstance(i, pd.MultiIndex) for i in neural.indexes.values())


def test_uncompressed_dataarray_file_with_legacy_image_id(tmp_path):
    src = brainio_assembly(id_name="image_id", n_bins=3)
    _, neural = load_brainio(write_like_brainio(src, tmp_path / "old.nc", compress=False))
    assert "image_id" not in neural.coords
    assert sorted(set(neural["stimulus_id"].values)) == STIMULI
    assert value_at(neural, "img01", NEUROIDS[1], 0, 2) == value_at(src, "img01", NEUROIDS[1], 0, 2, id_name="image_id")


def test_in_memory_assembly_with_multiindexes_equals_the_file(tmp_path):
    src = brainio_assembly(n_bins=2)
    assert isinstance(src.indexes["presentation"], pd.MultiIndex)
    _, from_memory = load_brainio(src)
    _, from_file = load_brainio(write_like_brainio(src, tmp_path / "a.nc"))
    xr.testing.assert_identical(from_memory, from_file)


def test_old_xarray_single_coord_dim_left_as_dim_underscore(tmp_path):
    # old xarray's reset_index turned a dim indexed by one coord into a ``<dim>_`` variable
    flat = brainio_assembly(n_bins=2).reset_index(["presentation", "neuroid", "time_bin"])
    old = flat.drop_vars(["animal"]).rename(neuroid_id="neuroid_")
    path = tmp_path / "old_single.nc"
    old.to_dataset(name="data").to_netcdf(path, engine="h5netcdf")
    _, neural = load_brainio(path)
    assert neural["neuroid_id"].values.tolist() == NEUROIDS and "neuroid_" not in neural.coords


def test_2d_assembly_needs_its_window(tmp_path):
    path = write_like_brainio(brainio_assembly(n_reps=1, n_bins=0), tmp_path / "avg.nc")
    with pytest.raises(ValueError, match=r"no time_bin_start/time_bin_end coords.*pass time_bin=\(start_ms, end_ms\)"):
        load_brainio(path)
    _, neural = load_brainio(path, time_bin=(70, 170))
    assert neural.sizes == {"presentation": 6, "neuroid": 4, "time_bin": 1}
    assert neural["time_bin_start"].values.tolist() == [70.0] and neural["time_bin_end"].values.tolist() == [170.0]
    assert neural.attrs["time_window_nominal"] is True
    assert "repetition" not in neural.coords and neural.attrs["trials"] is False  # repeat-averaged


def test_2d_assembly_with_a_squeezed_time_bin(tmp_path):
    src = brainio_assembly(n_bins=1).reset_index(["presentation", "neuroid", "time_bin"]).squeeze("time_bin")
    assert src["time_bin_start"].ndim == 0  # what .squeeze leaves in Brain-Score assemblies
    path = tmp_path / "sq.nc"
    src.to_dataset(name="data").to_netcdf(path, engine="h5netcdf")
    _, neural = load_brainio(path)
    assert neural["time_bin_start"].values.tolist() == [70.0] and "time_window_nominal" not in neural.attrs
    with pytest.raises(ValueError, match=r"states its own time bin\(s\) \[\(70.0, 80.0\)\]; drop the time_bin= option"):
        load_brainio(path, time_bin=(0, 100))


def test_region_from_the_file_the_option_or_an_error(tmp_path):
    path = write_like_brainio(brainio_assembly(region=False, n_bins=2), tmp_path / "noregion.nc")
    with pytest.raises(ValueError, match=r"has no 'region' coord on 'neuroid'; pass region= \(e.g. region='IT'\)"):
        load_brainio(path)
    _, neural = load_brainio(path, region="IT")
    assert neural["region"].values.tolist() == ["IT"] * 4
    with_regions = write_like_brainio(brainio_assembly(n_bins=2), tmp_path / "regions.nc")
    _, v4 = load_brainio(with_regions, region="V4")  # a region coord: the option selects
    assert v4["neuroid_id"].values.tolist() == NEUROIDS[:2]
    with pytest.raises(ValueError, match=r"no neuroid in region 'V1'; its regions: \['IT', 'V4'\]"):
        load_brainio(with_regions, region="V1")


def test_two_data_variables_need_a_choice(tmp_path):
    flat = brainio_assembly(n_bins=2).reset_index(["presentation", "neuroid", "time_bin"])
    path = tmp_path / "two.nc"
    xr.Dataset({"rates": flat, "counts": flat * 2}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match=r"holds 2 data variables \['rates', 'counts'\].*choose it with variable="):
        load_brainio(path)
    _, counts = load_brainio(path, variable="counts")
    _, rates = load_brainio(path, variable="rates")
    np.testing.assert_array_equal(counts.values, 2 * rates.values)
    with pytest.raises(ValueError, match=r"has no data variable 'spikes'; its data variables: \['rates', 'counts'\]"):
        load_brainio(path, variable="spikes")


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="BrainIO assembly file not found: .*missing.nc"):
        load_brainio(tmp_path / "missing.nc")
    (tmp_path / "junk.nc").write_bytes(b"not netcdf at all")
    with pytest.raises(ValueError, match="cannot read .*junk.nc as a netCDF assembly"):
        load_brainio(tmp_path / "junk.nc")
    odd = brainio_assembly(n_bins=2).reset_index(["presentation", "neuroid", "time_bin"]).rename(time_bin="frame")
    with pytest.raises(ValueError, match=r"has dims .*\(unexpected \['frame'\]\)"):
        load_brainio(odd)
    nan = brainio_assembly(n_bins=2)
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="contains 1 non-finite value"):
        load_brainio(nan)
    with pytest.raises(ValueError, match=r"dataset 'brainio' takes no argument\(s\) 'regions' \(did you mean 'region'\?\)"):
        load_dataset("brainio", assembly=nan, regions="IT")


def test_registered_without_a_data_root():
    info = dataset_info("brainio")
    assert not info.needs_data_root and "BrainIO" in info.description


# ----------------------------------------------------------------------------- stimulus sets


def test_stimuli_from_a_folder_paired_and_merged(tmp_path):
    pixels, ext = write_images(tmp_path)
    extra = STIMULI + ["unused99"]  # the CSV may list stimuli the assembly never showed
    Image.fromarray(pixels["img00"]).save(tmp_path / "images" / "unused99.png")
    csv = write_csv(tmp_path / "stimulus_test.csv", ids=extra)
    assy = write_like_brainio(brainio_assembly(n_bins=2), tmp_path / "assy.nc")
    stimuli, neural = load_dataset("brainio", assembly=assy, stimuli=csv, images=tmp_path / "images")
    assert stimuli.stimulus_ids.tolist() == STIMULI  # the assembly's stimuli, CSV order
    assert list(stimuli.metadata.columns) == ["stimulus_id", "category", "size_deg"]  # no file-name column
    for s in ("img00", "img04"):
        np.testing.assert_array_equal(stimuli.load_image(s), pixels[s])  # PNG: exact
    # metadata the assembly lacks became presentation coords, matched by stimulus_id
    cat = dict(zip(neural["stimulus_id"].values, neural["category"].values))
    assert cat["img01"] == "animal" and cat["img04"] == "face"
    assert neural["object_name"].values.tolist() == load_brainio(assy)[1]["object_name"].values.tolist()


def test_stimuli_from_a_zip_beside_the_csv_legacy_names(tmp_path):
    pixels, ext = write_images(tmp_path, fmt="JPEG", zip_name="stimulus_old.zip", prefix="stimulus_old/")
    csv = write_csv(tmp_path / "stimulus_old.csv", id_name="image_id", file_col="image_file_name", ext=ext)
    assy = write_like_brainio(brainio_assembly(id_name="image_id", n_bins=1), tmp_path / "assy_old.nc")
    stimuli, neural = load_brainio(assy, csv)  # images: the zip with the CSV's stem; members under a top folder
    assert len(stimuli) == 6 and stimuli.source.kind == "zip"
    img = stimuli.load_image("img02")
    err = {s: np.abs(img.astype(int) - px).mean() for s, px in pixels.items()}  # JPEG: lossy
    assert img.shape == (12, 16, 3) and err["img02"] < 5 and min(err, key=err.get) == "img02"
    assert set(neural["category"].values) == {"vehicle", "animal", "face"}


def test_images_without_csv_use_file_names_as_ids(tmp_path):
    write_images(tmp_path, zip_name="flat.zip")
    stimuli, _ = load_brainio(write_like_brainio(brainio_assembly(n_bins=1), tmp_path / "a.nc"), images=tmp_path / "flat.zip")
    assert stimuli.stimulus_ids.tolist() == STIMULI


def test_images_without_csv_under_a_top_folder_are_found_by_file_name(tmp_path):
    pixels, _ = write_images(tmp_path, zip_name="top.zip", prefix="top/")  # as a zipped folder
    stimuli, _ = load_brainio(write_like_brainio(brainio_assembly(n_bins=1), tmp_path / "a.nc"), images=tmp_path / "top.zip")
    assert stimuli.stimulus_ids.tolist() == STIMULI
    np.testing.assert_array_equal(stimuli.load_image("img03"), pixels["img03"])
    (tmp_path / "images" / "img02.png").unlink()
    with pytest.raises(ValueError, match=r"images has no image for 1 stimulus id\(s\): 'img02'"):
        load_brainio(tmp_path / "a.nc", images=tmp_path / "images")


def test_csv_missing_ids_and_missing_images(tmp_path):
    write_images(tmp_path, zip_name="imgs.zip")
    assy = write_like_brainio(brainio_assembly(n_bins=1), tmp_path / "a.nc")
    short = write_csv(tmp_path / "short.csv", ids=STIMULI[:4])
    with pytest.raises(ValueError, match=r"short.csv lacks 2 stimulus id\(s\) of the assembly: 'img04', 'img05'"):
        load_brainio(assy, short, tmp_path / "images")
    (tmp_path / "images" / "img03.png").unlink()
    full = write_csv(tmp_path / "full.csv")
    with pytest.raises(FileNotFoundError, match=r"1 image file\(s\) listed in .*full.csv are missing from .*images: 'img03' -> "):
        load_brainio(assy, full, tmp_path / "images")
    with zipfile.ZipFile(tmp_path / "imgs.zip") as src, zipfile.ZipFile(tmp_path / "partial.zip", "w") as dst:
        for name in src.namelist():
            if not name.startswith("img05"):
                dst.writestr(name, src.read(name))
    with pytest.raises(FileNotFoundError, match=r"missing from .*partial.zip: 'img05' -> 'img05.png'"):
        load_brainio(assy, full, tmp_path / "partial.zip")
    with pytest.raises(FileNotFoundError, match=r"no images given for stimulus CSV .*full.csv.*pass images="):
        load_brainio(assy, full)
    pd.DataFrame({"name": STIMULI, "filename": STIMULI}).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(ValueError, match=r"has no 'stimulus_id' \(or legacy 'image_id'\) column; columns: \['name', 'filename'\]"):
        load_brainio(assy, tmp_path / "noid.csv", tmp_path / "images")
    pd.DataFrame({"stimulus_id": STIMULI, "path": STIMULI}).to_csv(tmp_path / "nofile.csv", index=False)
    with pytest.raises(ValueError, match=r"no file-name column \['filename', 'image_file_name'\].*filename_column="):
        read_brainio_stimuli(tmp_path / "nofile.csv", tmp_path / "images")
    with pytest.raises(FileNotFoundError, match="stimulus CSV not found"):
        load_brainio(assy, tmp_path / "nope.csv", tmp_path / "images")


# ----------------------------------------------------------------------------- writing


def test_assembly_and_stimuli_round_trip(tmp_path):
    pixels, _ = write_images(tmp_path)
    _, neural = load_brainio(write_like_brainio(brainio_assembly(), tmp_path / "src.nc"))
    neural.attrs.update({"dataset": "test", "splits": {"k": 10, "seed": 0}, "trials": True})
    stimuli = StimulusSet.from_folder(tmp_path / "images", metadata=pd.read_csv(write_csv(tmp_path / "s.csv")),
                                      name="test.Stimuli2024")
    stimuli.metadata = stimuli.metadata.drop(columns=["filename"])
    files = write_brainio(neural, tmp_path / "out" / "assy_test.nc", stimuli=stimuli, identifier="test.Assembly2024")
    assert files.stimuli.name == "assy_test_stimuli.csv" and files.images.name == "assy_test_stimuli.zip"
    st2, back = load_brainio(*files, merge_metadata=False)
    xr.testing.assert_equal(back, neural)  # values exact, every coord equal
    assert back.dtype == neural.dtype == np.float32
    assert back.attrs["splits"] == {"k": 10, "seed": 0} and back.attrs["dataset"] == "test"
    assert back.attrs["identifier"] == "test.Assembly2024" and back.attrs["stimulus_set_identifier"] == "test.Stimuli2024"
    _, again = load_brainio(files)  # the returned files work as the assembly path too
    xr.testing.assert_equal(again, neural)
    pd.testing.assert_frame_equal(st2.metadata, stimuli.metadata)
    for s in STIMULI:  # image files copied byte for byte
        with zipfile.ZipFile(files.images) as zf:
            assert zf.read(f"{s}.png") == (tmp_path / "images" / f"{s}.png").read_bytes()
        np.testing.assert_array_equal(st2.load_image(s), pixels[s])
    table = pd.read_csv(files.stimuli)
    assert list(table.columns) == ["stimulus_id", "category", "size_deg", "filename"]


def test_written_file_is_brainio_layout(tmp_path):
    neural = neural_assembly(np.arange(24, dtype=float).reshape(4, 3, 2), stimulus_id=["a", "b", "a", "b"],
                             repetition=[0, 0, 1, 1], neuroid_id=["n0", "n1", "n2"], region="IT",
                             time_bin_start=[70, 80], time_bin_end=[80, 90], attrs={"trials": True})
    path = write_brainio(neural, tmp_path / "assy.nc", identifier="lab.Test2024").assembly
    ds = xr.open_dataset(path, engine="h5netcdf")
    assert list(ds.data_vars) == ["data"] and ds["data"].dims == ("presentation", "neuroid", "time_bin")
    assert ds.attrs["identifier"] == "lab.Test2024"
    assert {n: ds[n].dims for n in ds.coords} == {
        "stimulus_id": ("presentation",), "repetition": ("presentation",), "neuroid_id": ("neuroid",),
        "region": ("neuroid",), "time_bin_start": ("time_bin",), "time_bin_end": ("time_bin",)}
    assert ds["data"].encoding.get("zlib") or ds["data"].encoding.get("compression") == "gzip"
    # what brainio's loader does: open the single variable, gather each dim's coords into a MultiIndex
    da = xr.open_dataarray(path, engine="h5netcdf")
    gathered = da.set_index(append=True, presentation=["stimulus_id", "repetition"], neuroid=["neuroid_id", "region"],
                            time_bin=["time_bin_start", "time_bin_end"])
    assert gathered.sel(stimulus_id="b", repetition=1).sel(neuroid_id="n2").values.ravel().tolist() == [22.0, 23.0]
    assert da.attrs["identifier"] == "lab.Test2024"


def test_in_memory_images_are_written_as_png(tmp_path):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    stimuli = StimulusSet.from_array(images, stimulus_ids=["s0", "s1"], metadata={"category": ["x", "y"]})
    neural = neural_assembly(rng.normal(size=(2, 2)), stimulus_id=["s0", "s1"], neuroid_id=["n0", "n1"], region="V4",
                             time_bin_start=[0], time_bin_end=[100])
    files = write_brainio(neural, tmp_path / "a.nc", stimuli=stimuli, stimuli_csv=tmp_path / "st.csv",
                          images_zip=tmp_path / "st.zip")
    st2, _ = load_brainio(*files)
    np.testing.assert_array_equal(st2.images(), images)
    assert zipfile.ZipFile(files.images).namelist() == ["s0.png", "s1.png"]


def test_write_errors(tmp_path):
    neural = neural_assembly(np.ones((2, 1)), stimulus_id=["s0", "s1"], neuroid_id=["n0"], region="V4",
                             time_bin_start=[0], time_bin_end=[100])
    stimuli = StimulusSet.from_array(np.zeros((1, 4, 4, 3), np.uint8), stimulus_ids=["s0"], name="one")
    with pytest.raises(ValueError, match=r"StimulusSet 'one' lacks 1 stimulus id\(s\) of the assembly: 's1'"):
        write_brainio(neural, tmp_path / "a.nc", stimuli=stimuli)
    with pytest.raises(ValueError, match="stimuli_csv= and images_zip= say where to write a stimulus set"):
        write_brainio(neural, tmp_path / "a.nc", stimuli_csv=tmp_path / "s.csv")
    with pytest.raises(ValueError, match="missing coord 'neuroid_id'"):
        write_brainio(neural.drop_vars("neuroid_id"), tmp_path / "a.nc")
    assert not (tmp_path / "a.nc").exists()


# ----------------------------------------------------------------------------- scores


@pytest.fixture(scope="module")
def scores():
    from brainfit.scoring.pipeline import score_predictions

    rng = np.random.default_rng(0)
    ids = [f"s{i:02d}" for i in range(12)]
    kw = dict(neuroid_id=["a", "b", "c"], region="IT", time_bin_start=[70, 80, 90], time_bin_end=[80, 90, 100])
    neural = neural_assembly(rng.normal(size=(24, 3, 3)), stimulus_id=ids * 2, repetition=[0] * 12 + [1] * 12,
                             neuroid_coords={"animal": "m"}, **kw)
    pred = neural_assembly(rng.normal(size=(12, 3, 3)), stimulus_id=ids, **kw)
    layered = xr.concat([pred, pred * 2 + rng.normal(size=pred.shape)], dim="layer").assign_coords(layer=["l1", "l2"])
    return score_predictions(layered.transpose("presentation", "neuroid", "time_bin", "layer"), neural,
                             n_bootstrap=0, n_ceiling_splits=10)


def test_scores_round_trip(tmp_path, scores):
    path = write_brainio_scores(scores, tmp_path / "scores.nc", identifier="model.on.test")
    ds = xr.open_dataset(path, engine="h5netcdf")
    assert list(ds.data_vars) == ["data"] and ds["data"].dims == ("neuroid", "time_bin", "layer", "measure")
    assert ds["measure"].values.tolist() == ["r", "ceiled", "ceiling"]
    back = load_brainio_scores(path)
    for name in ("r", "ceiled", "ceiling"):
        xr.testing.assert_equal(back[name], scores[name])  # values exact (NaN where NaN), coords equal
    assert back.attrs["identifier"] == "model.on.test" and back.attrs["convention"] == scores.attrs["convention"]
    assert {k: back.attrs[k] for k in scores.attrs} == scores.attrs
    one = load_brainio_scores(write_brainio_scores(scores, tmp_path / "l2.nc", layer="l2"))
    xr.testing.assert_equal(one["r"], scores["r"].sel(layer="l2", drop=True))
    assert one.attrs["layer"] == "l2"


def test_score_write_errors(tmp_path, scores):
    with pytest.raises(ValueError, match="scores must be an xarray.Dataset"):
        write_brainio_scores(scores["r"], tmp_path / "x.nc")
    with pytest.raises(ValueError, match=re.escape("layer 'l9' is not in the scores; layers: ['l1', 'l2']")):
        write_brainio_scores(scores, tmp_path / "x.nc", layer="l9")
    with pytest.raises(ValueError, match=r"scores lack variable\(s\) \['ceiling'\]"):
        write_brainio_scores(scores.drop_vars("ceiling"), tmp_path / "x.nc")
    with pytest.raises(FileNotFoundError, match="score file not found"):
        load_brainio_scores(tmp_path / "none.nc")
    _, neural = load_brainio(brainio_assembly(n_bins=1))
    with pytest.raises(ValueError, match="is not a BrainIO score file"):
        load_brainio_scores(write_brainio(neural, tmp_path / "assy.nc"))


# ----------------------------------------------------------------------------- review additions


def test_a_failed_write_leaves_no_file(tmp_path):
    neural = neural_assembly(np.ones((2, 1)), stimulus_id=["s0", "s1"], neuroid_id=["n0"], region="V4",
                             time_bin_start=[0], time_bin_end=[100])
    stimuli = StimulusSet.from_array(np.zeros((2, 4, 4, 3), np.uint8), stimulus_ids=["s0", "s1"], name="two")
    mixed = neural.assign_coords(note=("presentation", np.array(["x", 1.5], dtype=object)))
    with pytest.raises(ValueError, match="coord 'note' mixes strings with other values"):
        write_brainio(mixed, tmp_path / "out" / "a.nc", stimuli=stimuli)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    # an image that cannot be read: neither the assembly nor the stimulus files appear
    write_images(tmp_path)
    table = pd.read_csv(write_csv(tmp_path / "s.csv"))
    from_folder = StimulusSet.from_folder(tmp_path / "images", metadata=table[table["stimulus_id"].isin(["img00", "img01"])])
    (tmp_path / "images" / "img01.png").unlink()
    renamed = neural.assign_coords(stimulus_id=("presentation", ["img00", "img01"]))
    with pytest.raises(FileNotFoundError):
        write_brainio(renamed, tmp_path / "out2" / "a.nc", stimuli=from_folder)
    assert not list((tmp_path / "out2").iterdir())


def test_numeric_ids_in_the_file_are_strings_that_match_the_csv(tmp_path):
    src = xr.DataArray(np.arange(6.0).reshape(3, 2, 1), dims=("presentation", "neuroid", "time_bin"),
                       coords={"stimulus_id": ("presentation", [3.0, 1.0, 2.0]), "neuroid_id": ("neuroid", [10, 11]),
                               "region": ("neuroid", ["IT", "IT"]), "time_bin_start": ("time_bin", [70]),
                               "time_bin_end": ("time_bin", [170])})
    src.to_dataset(name="data").to_netcdf(tmp_path / "num.nc", engine="h5netcdf")
    (tmp_path / "num").mkdir()
    for i in (1, 2, 3):
        Image.new("RGB", (4, 4), (40 * i, 0, 0)).save(tmp_path / "num" / f"{i}.png")
    pd.DataFrame({"stimulus_id": ["1", "2", "3"], "filename": ["1.png", "2.png", "3.png"]}).to_csv(
        tmp_path / "num.csv", index=False)
    stimuli, neural = load_brainio(tmp_path / "num.nc", tmp_path / "num.csv")
    assert neural["stimulus_id"].values.tolist() == ["3", "1", "2"] and neural["neuroid_id"].values.tolist() == ["10", "11"]
    assert neural.sel(presentation=neural["stimulus_id"] == "2").values.ravel().tolist() == [4.0, 5.0]
    assert stimuli.load_image("3")[0, 0].tolist() == [120, 0, 0]


def test_repetition_must_be_trial_numbers():
    src = brainio_assembly(n_bins=1)
    flat = src.reset_index(["presentation", "neuroid", "time_bin"])
    half = flat.assign_coords(repetition=("presentation", flat["repetition"].values + 0.5))
    with pytest.raises(ValueError, match=r"coord 'repetition' must hold integers \(trial numbers\), got 0.5, 1.5, 2.5"):
        load_brainio(half)
