import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from brainfit.stimuli import Preprocessing, StimulusSet


def _images(n=5, size=20, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def _write_folder(root, images, ext="png"):
    root.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im).save(root / f"img{i:02d}.{ext}")
    return root


def test_from_array_and_batches():
    ims = _images()
    s = StimulusSet.from_array(ims, [f"id{i}" for i in range(5)], {"category": list("aabbc")})
    assert len(s) == 5 and list(s.stimulus_ids) == [f"id{i}" for i in range(5)]
    batches = list(s.batches(batch_size=2, preprocessing=Preprocessing(mean=(0, 0, 0), std=(1, 1, 1))))
    assert [len(ids) for ids, _ in batches] == [2, 2, 1]
    x = torch.cat([b for _, b in batches])
    assert x.shape == (5, 3, 20, 20) and x.dtype == torch.float32
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy(), ims / 255.0, atol=1e-6)
    assert list(s.presentation_coords()["category"]) == list("aabbc")


def test_batches_resume_from_start():
    s = StimulusSet.from_array(_images())
    ids = [i for b, _ in s.batches(batch_size=2, start=3) for i in b]
    assert ids == list(s.stimulus_ids[3:])


def test_preprocessing_normalises_and_resizes_deterministically():
    ims = _images(2, 32)
    prep = Preprocessing(size=16)
    a, b = prep.to_tensor(ims), prep.to_tensor(ims)
    assert a.shape == (2, 3, 16, 16)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    gray = np.full((1, 8, 8, 3), 128, np.uint8)
    g = Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)).to_tensor(gray)
    torch.testing.assert_close(g, torch.full_like(g, (128 / 255 - 0.5) / 0.5), rtol=0, atol=1e-6)


def test_resize_antialiases():
    # A one-pixel checkerboard shrunk 4x must become uniform gray, not an aliased pattern.
    yy, xx = np.mgrid[0:64, 0:64]
    board = (((yy + xx) % 2) * 255).astype(np.uint8)
    img = np.repeat(board[..., None], 3, axis=-1)
    small = Preprocessing(size=16).resize(img).astype(float)
    assert abs(small.mean() - 127.5) < 3 and small.std() < 3


def test_from_folder_and_zip_agree(tmp_path):
    ims = _images(4)
    root = _write_folder(tmp_path / "imgs", ims)
    folder = StimulusSet.from_folder(root)
    assert list(folder.stimulus_ids) == [f"img{i:02d}" for i in range(4)]
    np.testing.assert_array_equal(folder.load_image("img02"), ims[2])  # PNG is lossless
    zpath = tmp_path / "imgs.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(root.iterdir()):
            zf.write(p, f"set/{p.name}")
    z = StimulusSet.from_zip(zpath)
    assert list(z.stimulus_ids) == [f"set/img{i:02d}" for i in range(4)]
    np.testing.assert_array_equal(z.images(), folder.images())


def test_from_folder_with_metadata_and_missing_file(tmp_path):
    root = _write_folder(tmp_path / "imgs", _images(3), ext="jpg")
    meta = pd.DataFrame({"stimulus_id": ["a", "b", "c"], "filename": ["img00.jpg", "img01.jpg", "img02.jpg"],
                         "category": ["x", "y", "x"]})
    s = StimulusSet.from_folder(root, metadata=meta)
    assert s.load_image("b").shape == (20, 20, 3)
    assert list(s.metadata.category) == ["x", "y", "x"]
    meta.loc[1, "filename"] = "nope.jpg"
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        StimulusSet.from_folder(root, metadata=meta)


def test_corrupt_image_names_the_file(tmp_path):
    root = _write_folder(tmp_path / "imgs", _images(2))
    (root / "img01.png").write_bytes(b"\x89PNG garbage")
    s = StimulusSet.from_folder(root)
    with pytest.raises(ValueError, match=r"cannot decode image .*img01\.png"):
        list(s.batches(batch_size=2))
    (root / "img00.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"img00\.png"):
        s.load_image(0)


def test_fingerprint_tracks_content_and_ids():
    ims = _images()
    a = StimulusSet.from_array(ims)
    b = StimulusSet.from_array(ims.copy())
    assert a.fingerprint() == b.fingerprint()
    changed = ims.copy()
    changed[2, 0, 0, 0] ^= 1
    assert StimulusSet.from_array(changed).fingerprint() != a.fingerprint()
    assert StimulusSet.from_array(ims, [f"x{i}" for i in range(5)]).fingerprint() != a.fingerprint()


def test_subset_and_errors():
    s = StimulusSet.from_array(_images(), list("abcde"), {"v": [0, 1, 2, 3, 4]})
    sub = s.subset(["d", "b"])
    assert list(sub.stimulus_ids) == ["d", "b"] and list(sub.metadata.v) == [3, 1]
    np.testing.assert_array_equal(sub.load_image(0), s.load_image("d"))
    with pytest.raises(KeyError, match="'z'"):
        s.subset(["z"])
    with pytest.raises(ValueError, match="duplicate stimulus ids"):
        StimulusSet.from_array(_images(2), ["a", "a"])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        StimulusSet.from_array(np.full((1, 4, 4, 3), 2.0))
    with pytest.raises(ValueError, match="interpolation"):
        Preprocessing(interpolation="cubicspline")


def test_one_decoder_and_one_tensor_conversion_serve_stimuli_and_training(tmp_path):
    import io

    import torch
    from PIL import Image

    from brainfit.stimuli import Preprocessing, decode_image, images_to_tensor
    from brainfit.training.data import load_image_folder

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    (tmp_path / "cls").mkdir()
    Image.fromarray(img).save(tmp_path / "cls" / "a.png")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    np.testing.assert_array_equal(decode_image(buf.getvalue(), "bytes"), img)
    np.testing.assert_array_equal(load_image_folder(tmp_path, progress=False).images[0], img)
    pre = Preprocessing(mean=(0.1, 0.2, 0.3), std=(0.5, 0.6, 0.7))
    x = images_to_tensor(img[None], pre.mean, pre.std)
    torch.testing.assert_close(pre.to_tensor([img]), x)
    expected = (torch.from_numpy(img).permute(2, 0, 1).float() / 255 - torch.tensor([0.1, 0.2, 0.3])[:, None, None]) \
        / torch.tensor([0.5, 0.6, 0.7])[:, None, None]
    torch.testing.assert_close(x[0], expected)
    with pytest.raises(ValueError, match="cannot decode image broken"):
        decode_image(b"not an image", "broken")
