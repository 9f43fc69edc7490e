"""The one registry class behind models and datasets."""

from __future__ import annotations

import pytest

from brainfit._registry import Registry


def test_registry_registers_lists_and_suggests():
    reg: Registry = Registry("widget")

    @reg.decorator("alpha_one")
    def f():
        return 1

    reg.add("alpha_two", "entry")
    assert f() == 1 and reg.get("alpha_one") is f and reg.get("alpha_two") == "entry"
    assert reg.names() == ["alpha_one", "alpha_two"] and reg.names("*two") == ["alpha_two"]
    assert "alpha_one" in reg and len(reg) == 2 and list(reg) == ["alpha_one", "alpha_two"]
    with pytest.raises(KeyError, match=r"unknown widget 'alpha_on'; did you mean \['alpha_one'"):
        reg.get("alpha_on")
    with pytest.raises(ValueError, match="widget 'alpha_one' is already registered"):
        reg.add("alpha_one", None)
    with pytest.raises(ValueError, match="non-empty strings"):
        reg.add("", None)


def test_models_and_datasets_share_it():
    from brainfit.data.registry import _DATASETS
    from brainfit.models.registry import _MODELS

    assert isinstance(_MODELS, Registry) and isinstance(_DATASETS, Registry)
    assert "convrnn_small_rgc" in _MODELS and "synthetic" in _DATASETS
