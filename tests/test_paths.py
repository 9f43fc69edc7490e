"""Where brainfit reads and writes: one module, one environment variable per folder."""

from __future__ import annotations

from pathlib import Path

import brainfit.paths as paths


def test_weights_folder_defaults_to_the_shipped_zoo_and_follows_its_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("BRAINFIT_WEIGHTS", raising=False)
    assert paths.weights_dir() == Path(paths.__file__).resolve().parent / "weights"
    assert (paths.weights_dir() / "convrnn_small_rgc.pt").is_file()
    monkeypatch.setenv("BRAINFIT_WEIGHTS", str(tmp_path))
    assert paths.weights_dir() == tmp_path
    assert paths.weights_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_cache_folder_follows_its_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("BRAINFIT_CACHE", raising=False)
    assert paths.cache_dir() == Path.home() / ".cache" / "brainfit"
    monkeypatch.setenv("BRAINFIT_CACHE", str(tmp_path))
    assert paths.cache_dir() == tmp_path
    assert paths.activation_cache_dir() == tmp_path / "activations"


def test_models_read_the_weights_folder_through_paths(tmp_path, monkeypatch):
    from brainfit.models import list_pretrained

    monkeypatch.setenv("BRAINFIT_WEIGHTS", str(tmp_path))  # an empty folder: nothing trained
    assert list_pretrained() == []
    monkeypatch.delenv("BRAINFIT_WEIGHTS")
    assert "convrnn_small_rgc" in list_pretrained() and "convrnn_small_rgc_unrolled" in list_pretrained()
