"""NWB import: real files written with pynwb, spike counts checked against hand counts."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone

import h5py
import numpy as np
import pytest
from PIL import Image

pynwb = pytest.importorskip("pynwb")
from pynwb import NWBHDF5IO, NWBFile  # noqa: E402
from pynwb.epoch import TimeIntervals  # noqa: E402
from pynwb.file import Subject  # noqa: E402

from brainfit.assembly import validate_neural  # noqa: E402
from brainfit.data import load_dataset  # noqa: E402
from brainfit.data.nwb import bin_spike_times, load_nwb  # noqa: E402

ONSETS = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
STIMULI = ["a", "b", "a", "c", "b", "a"]
# unit 10: spikes placed by hand around trial 0 (onset 1.0 s) and on bin edges of trial 1 (onset 2.0 s)
UNIT10 = [0.95, 1.075, 1.078, 1.095, 1.2605, 2.0, 2.25, 7.5]


def _random_spikes(seed: int, n: int = 400) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).uniform(0.0, 7.9, n))


SPIKES = {10: np.array(UNIT10), 11: _random_spikes(1), 12: _random_spikes(2), 13: _random_spikes(3)}


def _nwbfile(**kw) -> NWBFile:
    return NWBFile(session_description="test session", identifier=kw.pop("identifier", "file-0001"),
                   session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc), **kw)


def _write(nwb: NWBFile, path) -> str:
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return str(path)


def _add_trials(nwb: NWBFile) -> None:
    nwb.add_trial_column(name="stimulus_id", description="image shown")
    nwb.add_trial_column(name="category", description="image category")
    # rows written out of onset order: the loader sorts presentations by onset
    for k in [1, 0, 2, 3, 5, 4]:
        nwb.add_trial(start_time=ONSETS[k], stop_time=ONSETS[k] + 0.5, stimulus_id=STIMULI[k],
                      category="animal" if STIMULI[k] == "a" else "thing")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("nwb")
    out = {}
    # 1. units with a location column; trials; another intervals table with its own id column
    nwb = _nwbfile(session_id="S01", subject=Subject(subject_id="monkeyA", species="Macaca mulatta"))
    nwb.add_unit_column(name="location", description="brain area")
    nwb.add_unit_column(name="snr", description="signal to noise")
    for uid, t in SPIKES.items():
        nwb.add_unit(spike_times=t, id=uid, location="IT" if uid < 12 else "V4", snr=float(uid) / 10)
    _add_trials(nwb)
    shown = TimeIntervals(name="images", description="image presentations")
    shown.add_column(name="image_name", description="file name")
    for t, s in zip(ONSETS[:3], ["x", "y", "x"]):
        shown.add_interval(start_time=t, stop_time=t + 0.1, image_name=s)
    nwb.add_time_intervals(shown)
    out["location"] = _write(nwb, root / "location.nwb")
    # 2. regions only through electrodes; integer stimulus ids; no subject, no session id
    nwb = _nwbfile(identifier="file-0002")
    group = nwb.create_electrode_group(name="shank0", description="probe", location="V4",
                                       device=nwb.create_device(name="probe"))
    for loc in ["V4", "V4", "IT"]:
        nwb.add_electrode(group=group, location=loc)
    nwb.add_unit(spike_times=SPIKES[11], id=0, electrodes=[2])
    nwb.add_unit(spike_times=SPIKES[12], id=1, electrodes=[0, 1])
    nwb.add_trial_column(name="image_index", description="image number")
    for t, s in zip(ONSETS, [3, 1, 3, 2, 1, 3]):
        nwb.add_trial(start_time=t, stop_time=t + 0.5, image_index=s)
    out["electrodes"] = _write(nwb, root / "electrodes.nwb")
    # 3. no units at all
    nwb = _nwbfile(identifier="file-0003")
    _add_trials(nwb)
    out["no_units"] = _write(nwb, root / "no_units.nwb")
    # 4. units without any region, one unit with observation intervals that miss a trial
    nwb = _nwbfile(identifier="file-0004")
    nwb.add_unit(spike_times=SPIKES[11], id=5, obs_intervals=[[0.0, 7.9]])
    nwb.add_unit(spike_times=SPIKES[12], id=6, obs_intervals=[[0.0, 3.5], [4.5, 7.9]])
    _add_trials(nwb)
    out["no_region"] = _write(nwb, root / "no_region.nwb")
    return out


def hand_count(spikes, onset: float, start_ms: float, end_ms: float) -> int:
    """The obvious loop: spikes t with onset + start <= t < onset + end."""
    return sum(1 for t in spikes if onset + start_ms / 1000.0 <= t < onset + end_ms / 1000.0)


def test_counts_of_hand_placed_spikes(files):
    _, da = load_nwb(files["location"], bin_start=-100, bin_stop=300, bin_width=10, units=[10])
    first = da.isel(presentation=0, neuroid=0)  # onset 1.0 s
    counts = dict(zip(first.time_bin_start.values.tolist(), first.values.tolist()))
    assert counts[-50.0] == 1  # 0.95 s
    assert counts[70.0] == 2  # 1.075, 1.078
    assert counts[90.0] == 1  # 1.095
    assert counts[260.0] == 1  # 1.2605
    assert first.values.sum() == 5
    second = da.isel(presentation=1, neuroid=0)  # onset 2.0 s: spikes exactly on bin edges
    counts = dict(zip(second.time_bin_start.values.tolist(), second.values.tolist()))
    assert counts[0.0] == 1 and counts[-10.0] == 0  # [start, end): the onset spike opens bin 0
    assert counts[250.0] == 1 and counts[240.0] == 0


@pytest.mark.parametrize("start, stop, width", [(70, 260, 10), (-100, 0, 25), (-50, 400, 45), (0, 7, 3.5)])
def test_counts_match_a_hand_computation_for_any_bins(files, start, stop, width):
    _, da = load_nwb(files["location"], bin_start=start, bin_stop=stop, bin_width=width)
    edges = np.arange(start, stop + 1e-9, width)
    edges = edges[: int((stop - start) // width) + 1]
    np.testing.assert_allclose(da.time_bin_start, edges[:-1])
    np.testing.assert_allclose(da.time_bin_end, edges[1:])
    for uid in (11, 13):
        for p in (0, 3, 5):
            got = da.sel(neuroid=da.neuroid_id == str(uid)).isel(presentation=p).values.ravel()
            want = [hand_count(SPIKES[uid], ONSETS[p], a, b) for a, b in zip(edges[:-1], edges[1:])]
            assert got.tolist() == want, (uid, p)
    assert da.values.sum() > 0


def test_single_trials_coords_and_registry(files):
    stimuli, da = load_dataset("nwb", path=files["location"])
    validate_neural(da, require_repetitions=True)
    assert stimuli is None
    assert da.dims == ("presentation", "neuroid", "time_bin") and da.shape == (6, 4, 19)
    assert da.stimulus_id.values.tolist() == STIMULI  # onset order, one presentation per trial
    assert da.repetition.values.tolist() == [0, 0, 1, 0, 1, 2]
    assert da.category.values.tolist() == ["animal", "thing", "animal", "thing", "thing", "animal"]
    np.testing.assert_allclose(da.start_time, ONSETS)
    assert da.neuroid_id.values.tolist() == ["10", "11", "12", "13"]
    assert da.region.values.tolist() == ["IT", "IT", "V4", "V4"]
    assert da.animal.values.tolist() == ["monkeyA"] * 4 and da.session.values.tolist() == ["S01"] * 4
    np.testing.assert_allclose(da.snr, [1.0, 1.1, 1.2, 1.3])
    assert da.attrs["dataset"] == "nwb" and da.attrs["source"] == "location.nwb"


def test_other_intervals_table_unit_subset_and_region_override(files):
    _, da = load_nwb(files["location"], intervals="images", stimulus_column="image_name", units=[13, 11],
                     region="LIP", bin_start=0, bin_stop=100, bin_width=50)
    assert da.stimulus_id.values.tolist() == ["x", "y", "x"] and da.repetition.values.tolist() == [0, 0, 1]
    assert da.neuroid_id.values.tolist() == ["13", "11"] and set(da.region.values) == {"LIP"}
    want = [hand_count(SPIKES[13], ONSETS[2], 50, 100)]
    assert da.isel(presentation=2, neuroid=0, time_bin=[1]).values.tolist() == want


def test_regions_from_electrodes_and_integer_ids_with_images(files, tmp_path):
    for s, colour in [("1", (255, 0, 0)), ("2", (0, 255, 0)), ("3", (0, 0, 255))]:
        Image.new("RGB", (8, 6), colour).save(tmp_path / f"{s}.png")
    stimuli, da = load_nwb(files["electrodes"], stimulus_column="image_index", images=tmp_path)
    assert da.region.values.tolist() == ["IT", "V4"]  # each unit's first electrode
    assert da.stimulus_id.values.tolist() == ["3", "1", "3", "2", "1", "3"]
    assert da.animal.values.tolist() == ["unknown"] * 2 and da.session.values.tolist() == ["file-0002"] * 2
    assert stimuli.stimulus_ids.tolist() == ["3", "1", "2"]  # unique, first-appearance order
    assert stimuli.load_image("2")[0, 0].tolist() == [0, 255, 0]
    with pytest.raises(ValueError, match=r"no image for 1 stimulus id\(s\): '2'"):
        (tmp_path / "2.png").unlink()
        load_nwb(files["electrodes"], stimulus_column="image_index", images=tmp_path)


def test_bin_spike_times_is_half_open_and_vectorised():
    counts = bin_spike_times([np.array([0.3, 0.1, 0.2]), np.array([])], np.array([0.0, 0.1]),
                             np.array([0.0, 100.0]), np.array([100.0, 200.0]))
    assert counts.shape == (2, 2, 2)
    assert counts[:, 0].tolist() == [[0, 1], [1, 1]]  # unsorted input; 0.1 opens [100, 200) at onset 0
    assert counts[:, 1].sum() == 0


def test_spikes_on_bin_edges_go_to_the_bin_they_open():
    # times quantised to 1 ms, onsets whose float sums with the offsets round either way
    onsets = np.array([0.1, 0.7, 1.3, 2.9, 1234.567])
    spikes = np.concatenate([np.round(o + np.arange(0, 50) / 1000.0, 3) for o in onsets])
    counts = bin_spike_times([spikes], onsets, np.arange(0.0, 50.0), np.arange(1.0, 51.0))
    assert (counts == 1).all()


def test_missing_intervals_table_lists_those_present(files):
    with pytest.raises(ValueError, match=r"no intervals table 'stimuli'; tables present: \['images', 'trials'\]"):
        load_nwb(files["location"], intervals="stimuli")


def test_missing_stimulus_column_lists_columns(files):
    with pytest.raises(ValueError, match=r"no column 'image'; columns: \['start_time', 'stop_time', 'stimulus_id', "
                                         r"'category'\]"):
        load_nwb(files["location"], stimulus_column="image")


def test_no_units(files):
    with pytest.raises(ValueError, match=r"no_units.nwb has no units with spike times"):
        load_nwb(files["no_units"])


def test_no_region_names_the_options(files):
    with pytest.raises(ValueError, match=r"no region for the units.*pass region="):
        load_nwb(files["no_region"])


def test_bins_outside_the_recording(files):
    with pytest.raises(ValueError, match=r"bins -1500\.\.-1300 ms after onset fall outside the recording .* "
                                         r"first at onset 1 s \(stimulus_id 'a'\)"):
        load_nwb(files["location"], bin_start=-1500, bin_stop=-1300, bin_width=100)
    with pytest.raises(ValueError, match=r"fall outside the recording \(0\.\.7\.\d+ s\) for 2 presentation\(s\), "
                                         r"first at onset 5 s"):
        load_nwb(files["location"], bin_start=0, bin_stop=3000, bin_width=100)


def test_bins_outside_a_units_observation_intervals(files):
    with pytest.raises(ValueError, match=r"unit '6' was not observed .* first at onset 4 s"):
        load_nwb(files["no_region"], region="IT")
    _, da = load_nwb(files["no_region"], region="IT", units=[5])
    assert da.neuroid_id.values.tolist() == ["5"]


def test_missing_pynwb_says_how_to_install(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynwb", None)  # what Python sees when pynwb is not installed
    with pytest.raises(ImportError, match=re.escape('pip install "brainfit[nwb]"')):
        load_nwb(files["location"])


def test_unknown_units_and_bad_paths(files, tmp_path):
    with pytest.raises(ValueError, match=r"unknown unit id\(s\) '99'"):
        load_nwb(files["location"], units=[10, 99])
    with pytest.raises(FileNotFoundError, match="NWB file not found"):
        load_nwb(tmp_path / "absent.nwb")
    bad = tmp_path / "text.nwb"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="cannot be opened as an NWB file"):
        load_nwb(bad)
    with h5py.File(tmp_path / "plain.nwb", "w") as f:  # HDF5, but not NWB
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"plain.nwb cannot be (opened|read) as an NWB file: .*not a valid NWB file"):
        load_nwb(tmp_path / "plain.nwb")
    with pytest.raises(ValueError, match="width must be > 0"):
        load_nwb(files["location"], bin_width=0)


def test_each_stimulus_once_has_no_repetition_and_clashing_columns_are_left_out(tmp_path, caplog):
    nwb = _nwbfile(identifier="file-0005", session_id="S05")
    nwb.add_unit_column(name="location", description="brain area")
    nwb.add_unit(spike_times=SPIKES[11], id=0, location="IT")
    nwb.add_trial_column(name="stimulus_id", description="image shown")
    nwb.add_trial_column(name="session", description="block label, named like the neuroid coord")
    for t, s in zip(ONSETS, "uvwxyz"):
        nwb.add_trial(start_time=t, stop_time=t + 0.5, stimulus_id=s, session="block1")
    with caplog.at_level("WARNING", logger="brainfit.data.nwb"):
        _, da = load_nwb(_write(nwb, tmp_path / "once.nwb"))
    assert "repetition" not in da.coords  # raw r, not a failing split-half ceiling over 0 repeated stimuli
    assert da["session"].dims == ("neuroid",) and da["session"].values.tolist() == ["S05"]
    assert "['session'] share their name with a neuroid or time-bin coord" in caplog.text
    assert da.isel(presentation=2, neuroid=0).values.tolist() == [
        hand_count(SPIKES[11], ONSETS[2], a, a + 10) for a in range(70, 260, 10)]
