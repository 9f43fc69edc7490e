"""The activation cache: hits, keys, damaged and interrupted files, uncached runs, the default folder."""

import numpy as np
import pytest
import torch
import xarray as xr

from brainfit.activations import extract, weights_hash
from brainfit.stimuli import StimulusSet
from tiny_models import Interrupted


def test_cache_hit_does_not_run_the_model(tiny, stimuli, tmp_path):
    a = extract(tiny, stimuli, cache=tmp_path, batch_size=4, progress=False).values
    calls = tiny.calls
    b = extract(tiny, stimuli, cache=tmp_path, batch_size=4, progress=False).values
    assert tiny.calls == calls  # not called again
    np.testing.assert_array_equal(a, b)


def test_batch_size_is_part_of_the_key(tiny, stimuli, tmp_path):
    # Convolutions may sum in another order at another batch shape, so the numbers are only
    # reproducible bit for bit at one batch size: another size is another cache file.
    a = extract(tiny, stimuli, cache=tmp_path, batch_size=4, progress=False)
    b = extract(tiny, stimuli, cache=tmp_path, batch_size=5, progress=False)
    assert a.attrs["cache_key"] != b.attrs["cache_key"]
    assert len(list(tmp_path.glob("*.nc"))) == 2
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-5)


def test_changing_one_weight_invalidates_the_cache(tiny, stimuli, tmp_path):
    extract(tiny, stimuli, cache=tmp_path, progress=False)
    h = weights_hash(tiny)
    with torch.no_grad():
        tiny.b2.rec.weight[0, 0, 0, 0] += 1e-3
    assert weights_hash(tiny) != h
    calls = tiny.calls
    extract(tiny, stimuli, cache=tmp_path, progress=False)
    assert tiny.calls > calls
    assert len(list(tmp_path.glob("*.nc"))) == 2


def test_truncated_cache_file_is_detected_and_rebuilt(tiny, stimuli, tmp_path):
    a = extract(tiny, stimuli, cache=tmp_path, progress=False)
    want = a.values.copy()
    path = a.encoding["source"]
    a.close()
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    calls = tiny.calls
    with pytest.warns(RuntimeWarning, match="damaged or stale activation file"):
        b = extract(tiny, stimuli, cache=tmp_path, progress=False)
    assert tiny.calls > calls
    np.testing.assert_array_equal(b.values, want)


def test_interrupted_extraction_resumes(tiny, stimuli, tmp_path):
    reference = extract(tiny, stimuli, cache=tmp_path / "ref", batch_size=2, progress=False).values
    tiny.calls, tiny.fail_on_call = 0, 4  # crash on the 4th batch
    with pytest.raises(Interrupted):
        extract(tiny, stimuli, cache=tmp_path / "run", batch_size=2, progress=False)
    assert len(list((tmp_path / "run").glob("*.partial.nc"))) == 1
    assert not list((tmp_path / "run").glob("*[!l].nc"))  # no complete file yet
    tiny.calls, tiny.fail_on_call = 0, None
    resumed = extract(tiny, stimuli, cache=tmp_path / "run", batch_size=2, progress=False)
    assert tiny.calls == 2  # only the two missing batches (of 5) were computed
    np.testing.assert_array_equal(resumed.values, reference)
    assert not list((tmp_path / "run").glob("*.partial.nc"))


def test_uncached_run_leaves_nothing_in_cache(tiny, stimuli, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINFIT_CACHE", str(tmp_path / "cache"))
    extract(tiny, stimuli, cache=False, progress=False)
    assert not (tmp_path / "cache").exists()



def test_same_weights_different_computation_is_a_cache_miss(tmp_path):
    # the unrolled control shares every weight with its ConvRNN but not the recurrence: a cache
    # keyed on weights alone would hand it the ConvRNN's activations
    from brainfit.models import create_model, unrolled_control

    torch.manual_seed(0)
    rnn = create_model("convrnn_small_rgc", n_steps=8, on_steps=4)
    ctrl = unrolled_control(rnn)
    assert weights_hash(rnn) == weights_hash(ctrl)
    rng = np.random.default_rng(1)
    stim = StimulusSet.from_array(rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    a = extract(rnn, stim, layers=["conv5"], cache=tmp_path, progress=False)
    b = extract(ctrl, stim, layers=["conv5"], cache=tmp_path, progress=False)
    assert a.attrs["cache_key"] != b.attrs["cache_key"]
    assert len(list(tmp_path.glob("*.nc"))) == 2
    late = a.sizes["time_step"] - 1  # after offset the ConvRNN's state carries the image, the control sees gray
    assert not np.allclose(a.values[:, :, late], b.values[:, :, late])


def test_uncached_extract_leaves_no_temporary_files(tiny, stimuli, tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where mkdtemp puts its folders
    cached = extract(tiny, stimuli, cache=tmp_path / "cache", progress=False)
    got = extract(tiny, stimuli, cache=False, progress=False)
    assert list(scratch.iterdir()) == []  # the temporary activation file and its folder are gone
    assert "source" not in got.encoding
    xr.testing.assert_identical(got, cached.load())  # values, coords and attrs read back into memory
    # also when the extraction fails half-way
    tiny.calls, tiny.fail_on_call = 0, 2
    with pytest.raises(Interrupted):
        extract(tiny, stimuli, cache=None, batch_size=4, progress=False)
    assert list(scratch.iterdir()) == []


def test_default_cache_dir_is_the_paths_one(tiny, stimuli, tmp_path, monkeypatch):
    from brainfit.activations import default_cache_dir
    from brainfit.paths import activation_cache_dir

    monkeypatch.setenv("BRAINFIT_CACHE", str(tmp_path / "root"))
    assert default_cache_dir() == activation_cache_dir() == tmp_path / "root" / "activations"
    act = extract(tiny, stimuli, layers=["b2"], pooling="avg", cache=True, progress=False)
    assert act.encoding["source"].startswith(str(tmp_path / "root" / "activations"))
    assert len(list((tmp_path / "root" / "activations").glob("Tiny-*.nc"))) == 1
    act.close()
