"""Bad input to extraction and its cache: each case ends in an error naming the problem (or, where
the input is legitimate, in the right result) and leaves no file behind."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from brainfit.activations import cache, extract, open_activations
from brainfit.models import create_model, list_pretrained, model_from_spec, save_checkpoint
from brainfit.stimuli import StimulusSet
from tiny_models import Tiny


@pytest.fixture
def stimuli():
    rng = np.random.default_rng(0)
    return StimulusSet.from_array(rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8))


def _tiny() -> Tiny:
    torch.manual_seed(0)
    return Tiny()


# ----------------------------------------------------------------------------- invalid requests

BAD_REQUESTS = [
    ("batch_size=0", dict(batch_size=0), ValueError, "batch_size must be an int >= 1"),
    ("batch_size=2.5", dict(batch_size=2.5), ValueError, "batch_size must be an int >= 1"),
    ("on_steps > n_steps", dict(n_steps=3, on_steps=5), ValueError, "on_steps=5"),
    ("n_steps=0", dict(n_steps=0), ValueError, "n_steps=0"),
    ("unknown layer", dict(layers=["b9"]), (KeyError, ValueError), "b9"),
    ("layer arrives after the last step", dict(n_steps=1, layers=["b2"]), ValueError, "never reaches"),
    ("projection width 0", dict(projection=0), ValueError, "projection width must be >= 1"),
    ("unknown pooling", dict(pooling="median"), ValueError, "median"),
    ("unknown device", dict(device="tpu"), ValueError, "unknown device 'tpu'"),
]


@pytest.mark.parametrize("case,kwargs,error,message", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request_is_a_named_error(case, kwargs, error, message, stimuli, tmp_path, nothing_left):
    with pytest.raises(error, match=message):
        extract(_tiny(), stimuli, cache=tmp_path / "cache", progress=False, **kwargs)
    nothing_left(tmp_path)


def test_cuda_without_a_gpu_is_a_named_error(stimuli, tmp_path, nothing_left):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        extract(_tiny(), stimuli, cache=tmp_path / "cache", device="cuda", progress=False)
    nothing_left(tmp_path)


def test_stimuli_of_the_wrong_type(tmp_path, nothing_left):
    with pytest.raises(ValueError, match="stimuli must be a StimulusSet"):
        extract(_tiny(), np.zeros((2, 16, 16, 3), np.uint8), cache=tmp_path / "cache", progress=False)
    nothing_left(tmp_path)


def test_cache_folder_that_is_a_file(stimuli, tmp_path):
    target = tmp_path / "not_a_folder"
    target.write_text("x")
    with pytest.raises(ValueError, match="is an existing file, not a folder"):
        extract(_tiny(), stimuli, cache=target, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["not_a_folder"] and target.read_text() == "x"


def test_non_finite_activations_leave_no_partial_file(stimuli, tmp_path, nothing_left):
    model = _tiny()
    with torch.no_grad():
        model.b1.conv.bias[0] = float("inf")
    with pytest.raises(ValueError, match="non-finite activations"):
        extract(model, stimuli, cache=tmp_path, batch_size=4, progress=False)
    nothing_left(tmp_path)


# ----------------------------------------------------------------------------- damaged cache files


def _chunk_offset(path) -> int:
    with h5py.File(path, "r") as f:
        return int(f["activations"].id.get_chunk_info(1).byte_offset) + 40  # inside the 2nd data chunk


def _coord_offset(path) -> int:
    with h5py.File(path, "r") as f:
        return int(f["unit"].id.get_offset()) + 8  # the neuroid coord 'unit' (contiguous)


def _attr_offset(path) -> int:
    with h5py.File(path, "r") as f:
        weights = f.attrs["weights_hash"]
    weights = weights.decode() if isinstance(weights, bytes) else str(weights)
    return path.read_bytes().index(weights.encode()) + 5  # inside the file attr 'weights_hash


DAMAGE = [("data chunk", _chunk_offset), ("coordinate", _coord_offset), ("metadata", _attr_offset),
          ("last byte", lambda path: path.stat().st_size - 1)]


@pytest.mark.parametrize("segment", [64 << 20, 4096], ids=["one segment", "many segments"])
@pytest.mark.parametrize("where,offset_of", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_corrupted_cache_file_is_detected_and_rebuilt(where, offset_of, segment, stimuli, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_SEGMENT", segment)  # the seal hashes segments in parallel threads
    first = extract(_tiny(), stimuli, cache=tmp_path, batch_size=4, progress=False)
    want, path = first.values.copy(), first.encoding["source"]
    first.close()
    path = Path(path)
    offset = offset_of(path)
    with open(path, "r+b") as fh:  # flip a few bytes in place
        fh.seek(offset)
        byte = fh.read(3)
        fh.seek(offset)
        fh.write(bytes(b ^ 0x5A for b in byte))
    model = _tiny()
    with pytest.warns(RuntimeWarning, match="checksum mismatch"):
        again = extract(model, stimuli, cache=tmp_path, batch_size=4, progress=False)
    assert model.calls > 0  # extracted again, not served
    np.testing.assert_array_equal(again.values, want)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # one good file, nothing else
    open_activations(path).close()  # and it is sealed again


def test_opening_a_corrupted_file_names_it(stimuli, tmp_path):
    da = extract(_tiny(), stimuli, cache=tmp_path, batch_size=4, progress=False)
    path = da.encoding["source"]
    da.close()
    with open(path, "r+b") as fh:
        fh.seek(_chunk_offset(path))
        fh.write(b"\x00\x01\x02")
    with pytest.raises(ValueError, match=r"activation file .* checksum mismatch"):
        open_activations(path)


def test_files_sealed_by_earlier_versions_are_checked_with_their_own_digest(stimuli, tmp_path):
    da = extract(_tiny(), stimuli, cache=tmp_path, batch_size=4, progress=False)
    path, want = Path(da.encoding["source"]), da.values.copy()
    da.close()
    with open(path, "r+b") as fh:  # one SHA-256 over the whole file, as files were sealed before
        fh.write(cache._SEAL_V1 + cache._digest_after_userblock(path, tree=False).encode() + b"\0" * 32)
    model = _tiny()
    np.testing.assert_array_equal(extract(model, stimuli, cache=tmp_path, batch_size=4, progress=False).values, want)
    assert model.calls == 0  # served from the cache
    with open(path, "r+b") as fh:
        fh.seek(_chunk_offset(path))
        fh.write(b"\x00\x01\x02")
    with pytest.raises(ValueError, match=r"activation file .* checksum mismatch"):
        open_activations(path)


def test_partial_file_with_a_bad_block_resumes_from_that_block(stimuli, tmp_path):
    model = _tiny()
    model.fail_on_call = 3  # interrupted (Ctrl-C) in the third batch: two batches on disk
    with pytest.raises(KeyboardInterrupt):
        extract(model, stimuli, cache=tmp_path, batch_size=4, progress=False)
    (partial,) = tmp_path.glob("*.partial.nc")
    with h5py.File(partial, "r") as f:
        assert int(f.attrs["completed"]) == 8
        dset = f["activations"].id
        infos = [dset.get_chunk_info(i) for i in range(dset.get_num_chunks())]
        offset = next(c.byte_offset for c in infos if c.chunk_offset[0] == 4) + 40  # a chunk of the 2nd batch
    with open(partial, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xff\xfe\xfd")
    model = _tiny()
    got = extract(model, stimuli, cache=tmp_path, batch_size=4, progress=False)
    assert model.calls == 2  # the damaged second batch and the third were computed again
    np.testing.assert_array_equal(got.values, extract(_tiny(), stimuli, cache=False, batch_size=4,
                                                      progress=False).values)


# ----------------------------------------------------------------------------- models and weights


@pytest.mark.parametrize("case,call,error,message", [
    ("unknown create_model argument", lambda: create_model("convrnn_small_rgc", widht=3), ValueError,
     r"model 'convrnn_small_rgc'.*'widht'"),
    ("unknown factory argument", lambda: create_model("ff_small_wider_rgc", n_stepz=3), ValueError,
     r"model 'convrnn_small_rgc'.*'n_stepz'"),  # the control passes it on to its ConvRNN
    ("unknown model name", lambda: model_from_spec("convrnn_smal_rgc", weights="random"), KeyError,
     "did you mean"),
    ("pretrained without weights", lambda: model_from_spec("convrnn_small_lstm"), KeyError,
     "has no trained weights"),
    ("missing checkpoint", lambda: model_from_spec(weights="nope/model.pt"), FileNotFoundError,
     "checkpoint not found: nope/model.pt"),
    ("bad seed", lambda: model_from_spec("convrnn_small_rgc", weights="random", seed=-1), ValueError,
     "seed must be an int >= 0"),
    ("arguments with a checkpoint", lambda: model_from_spec(weights=__file__, n_steps=3), ValueError,
     "fixes the architecture"),
], ids=lambda c: c if isinstance(c, str) else "")
def test_bad_model_choice_is_a_named_error(case, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_random_weights_are_reproducible_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = model_from_spec("convrnn_small_rgc", weights="random", seed=7)
    b = model_from_spec("convrnn_small_rgc", weights="random", seed=7)
    c = model_from_spec("convrnn_small_rgc", weights="random", seed=8)
    assert torch.equal(torch.random.get_rng_state(), before)
    for (name, x), y, z in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(x, y), name
    assert any(not torch.equal(x, z) for x, z in zip(a.state_dict().values(), c.state_dict().values()))
    assert a.weights_source == "random(seed=7)"


def test_checkpoint_with_unknown_model_kwargs_is_a_named_error(tmp_path):
    path = tmp_path / "odd.pt"
    model = create_model("ff_small")
    save_checkpoint(path, model=model, model_name="ff_small", model_kwargs={"bogus_width": 3})
    with pytest.raises(ValueError, match=r"checkpoint .*odd.pt.* 'bogus_width'"):
        model_from_spec(weights=path)


def test_checkpoint_of_another_model_is_a_named_error(tmp_path):
    path = tmp_path / "ff.pt"
    save_checkpoint(path, model=create_model("ff_small"), model_name="ff_small", model_kwargs={})
    with pytest.raises(ValueError, match="holds 'ff_small', not 'convrnn_small_rgc'"):
        model_from_spec("convrnn_small_rgc", weights=path)
    assert model_from_spec(weights=path).weights_source == str(path)


@pytest.mark.skipif("convrnn_small_rgc" not in list_pretrained(), reason="shipped weights not present")
def test_pretrained_is_the_shipped_model():
    assert model_from_spec("convrnn_small_rgc").weights_source == "pretrained"


# ----------------------------------------------------------------------------- stimulus files


def _jpeg(color: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), color, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def test_macos_zip_metadata_is_not_a_stimulus(tmp_path):
    path = tmp_path / "stimuli.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("img0.jpg", _jpeg(10))
        zf.writestr("img1.jpg", _jpeg(200))
        zf.writestr("__MACOSX/._img0.jpg", b"\x00\x05\x16\x07 AppleDouble")  # what macOS zips add
        zf.writestr("._img1.jpg", b"\x00\x05\x16\x07 AppleDouble")
    s = StimulusSet.from_zip(path)
    assert list(s.stimulus_ids) == ["img0", "img1"]


def test_hidden_files_in_a_folder_are_not_stimuli(tmp_path):
    (tmp_path / "img0.jpg").write_bytes(_jpeg(10))
    (tmp_path / "._img0.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / ".DS_Store.png").write_bytes(b"junk")
    assert list(StimulusSet.from_folder(tmp_path).stimulus_ids) == ["img0"]


def test_macos_zip_metadata_is_not_a_training_image(tmp_path):
    from brainfit.training.data import load_image_zip

    path = tmp_path / "classes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for cls in ("cat", "dog"):
            zf.writestr(f"train/{cls}/a.jpg", _jpeg(50))
            zf.writestr(f"__MACOSX/train/{cls}/._a.jpg", b"AppleDouble")
    data = load_image_zip(path, split="train", progress=False)
    assert len(data.labels) == 2 and list(data.classes) == ["cat", "dog"]
