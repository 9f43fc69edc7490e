"""Cowley et al. 2023 V4: every session present loads, images pair with responses, session 210325's ceiling.

The real-data tests skip with the reason when the data root lacks ``cowley2023_v4``; session
discovery is also tested on a data root the test writes (real JPEGs in a zip, npy responses).
"""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest
from PIL import Image

from brainfit.data import data_root, load_dataset
from brainfit.data.cowley2023 import cowley2023_sessions


def _root():
    root = data_root()
    if root is None or not (root / "cowley2023_v4").is_dir():
        pytest.skip("real data not found: no cowley2023_v4 folder under the data root (set BRAINFIT_DATA)")
    return root


@pytest.mark.shared_data
def test_session_210325_loads_with_trials_and_its_ceiling():
    from brainfit.assembly import average_repetitions
    from brainfit.scoring import split_half_ceiling

    root = _root()
    stimuli, neural = load_dataset("cowley2023_v4", session="210325")  # single trials by default when present
    avg = average_repetitions(neural)
    assert len(stimuli) == 640 and avg.sizes["presentation"] == 640 and neural.sizes["neuroid"] == 50
    reps = np.bincount(np.unique(neural.coords["stimulus_id"].values, return_inverse=True)[1])
    assert reps.min() >= 6 and reps.max() <= 10
    # the averaged trials equal the authors' repeat-averaged file
    ref = np.load(root / "cowley2023_v4" / "responses_repeat_averaged" / "responses_210325.npy")
    order = stimuli.index_of(avg.coords["stimulus_id"].values)
    np.testing.assert_allclose(avg.values[:, :, 0], ref.T[order], rtol=1e-12)
    ceiling = split_half_ceiling(neural, n_splits=50, seed=0)
    assert abs(float(np.median(ceiling.values)) - 0.77) <= 0.05, float(np.median(ceiling.values))


@pytest.mark.shared_data
def test_images_pair_with_responses_by_file_name():
    root = _root()
    stimuli, neural = load_dataset("cowley2023_v4", session="210325", trials=False)
    with zipfile.ZipFile(root / "cowley2023_v4" / "images" / "images_210325.zip") as zf:
        by_number = {int(re.search(r"image(\d+)\.jpe?g$", n).group(1)): n for n in zf.namelist()
                     if re.search(r"image(\d+)\.jpe?g$", n)}
        for i in (0, 1, 99, 639):
            sid = f"210325_{i + 1:04d}"
            assert neural.coords["stimulus_id"].values[i] == sid  # response column i is image i+1
            want = np.asarray(Image.open(io.BytesIO(zf.read(by_number[i + 1]))).convert("RGB"))
            np.testing.assert_array_equal(stimuli.load_image(sid), want)
    assert stimuli.load_image(0).shape == (112, 112, 3)


@pytest.mark.shared_data
def test_every_session_present_loads():
    root = _root()
    sessions = cowley2023_sessions()
    files = sorted(p.stem.removeprefix("responses_")
                   for p in (root / "cowley2023_v4" / "responses_repeat_averaged").glob("responses_*.npy"))
    assert sessions == files and len(sessions) >= 8
    for session in sessions:
        stimuli, neural = load_dataset("cowley2023_v4", session=session)
        ref = np.load(root / "cowley2023_v4" / "responses_repeat_averaged" / f"responses_{session}.npy")
        n_neurons, n_images = ref.shape
        assert len(stimuli) == n_images and neural.sizes["neuroid"] == n_neurons
        assert set(neural.coords["session"].values) == {session}
        has_trials = "repetition" in neural.coords
        assert has_trials == (root / "cowley2023_v4" / "responses_raw" / f"responses_{session}.npy").exists()
        if not has_trials:
            np.testing.assert_allclose(neural.values[:, :, 0], ref.T)
    with pytest.raises(ValueError, match=r"session '999999' not found under .*sessions present: \['19"):
        load_dataset("cowley2023_v4", session="999999")
    averaged_only = [s for s in sessions if s != "210325"][0]
    with pytest.raises(ValueError, match=rf"session {averaged_only} has no single trials \(sessions with single "
                                         r"trials: \['210325'\]\); pass trials=False"):
        load_dataset("cowley2023_v4", session=averaged_only, trials=True)


def _fake_root(tmp_path, sessions):
    folder = tmp_path / "cowley2023_v4"
    (folder / "images").mkdir(parents=True)
    (folder / "responses_repeat_averaged").mkdir()
    rng = np.random.default_rng(0)
    for session, (n_neurons, n_images) in sessions.items():
        np.save(folder / "responses_repeat_averaged" / f"responses_{session}.npy",
                rng.poisson(3.0, (n_neurons, n_images)).astype(float))
        with zipfile.ZipFile(folder / "images" / f"images_{session}.zip", "w") as zf:
            for i in reversed(range(n_images)):  # member order is not image order
                buf = io.BytesIO()
                Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(buf, format="JPEG", quality=95)
                zf.writestr(f"images_{session}/image{i + 1:04d}.jpg", buf.getvalue())
    return tmp_path


def test_sessions_are_discovered_from_the_files(tmp_path):
    root = _fake_root(tmp_path, {"230101": (3, 4), "230102": (2, 5)})
    (root / "cowley2023_v4" / "responses_repeat_averaged" / "responses_230103.npy").write_bytes(b"")  # no images
    assert cowley2023_sessions(root) == ["230101", "230102"]
    stimuli, neural = load_dataset("cowley2023_v4", session="230102", data_root=str(root))
    assert len(stimuli) == 5 and neural.sizes["neuroid"] == 2 and "repetition" not in neural.coords
    assert set(neural.coords["animal"].values) == {"unknown"}  # not in the authors' table
    assert abs(int(stimuli.load_image("230102_0003")[0, 0, 0]) - 40) <= 3  # image0003 -> stimulus 3
    with pytest.raises(ValueError, match=r"session '230103' not found .* sessions present: \['230101', '230102'\]"):
        load_dataset("cowley2023_v4", session="230103", data_root=str(root))


def test_single_trials_that_do_not_fit_the_averages_are_refused(tmp_path):
    root = _fake_root(tmp_path, {"230101": (3, 4)})
    (root / "cowley2023_v4" / "responses_raw").mkdir()
    np.save(root / "cowley2023_v4" / "responses_raw" / "responses_230101.npy", np.ones((3, 5, 2)))
    with pytest.raises(ValueError, match=r"expected \(neurons, images, repeats\) = \(3, 4, R\) like the "
                                         r"repeat-averaged file, got shape \(3, 5, 2\)"):
        load_dataset("cowley2023_v4", session="230101", data_root=str(root))
