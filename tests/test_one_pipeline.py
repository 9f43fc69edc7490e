"""One way to score a model: the same model through ``brainfit fit``, ``brainfit zoo run`` and
``brainfit demo`` gets the same settings and the same scores, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from brainfit.cli import main
from brainfit.models import list_pretrained
from brainfit.zoo import read_results_folder

MODEL = "convrnn_small_rgc_unrolled"  # `fit` once read it with `constant`, the zoo and demo `one_to_one`
DATA = {"images_per_object": 2, "n_v4": 8, "n_it": 8}

pytestmark = pytest.mark.skipif(MODEL not in list_pretrained(), reason="the shipped weights are missing")


@pytest.fixture(scope="module")
def three_ways(tmp_path_factory):
    root = tmp_path_factory.mktemp("three")
    config = {"name": "three", "out": str(root / "zoo"), "datasets": [{"name": "synthetic", "kwargs": DATA}],
              "models": [MODEL, "ff_small_wider_rgc"], "layers": ["conv5"],
              "mapping": {"projection_width": 32, "n_bootstrap": 10}, "splits": {"n_folds": 3},
              "compare": {"contrasts": [[MODEL, "ff_small_wider_rgc"]], "n_permutations": 20, "n_bootstrap": 10}}
    path = root / "three.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["zoo", "run", str(path), "--workers", "0"]) == 0
    assert main(["demo", "--config", str(path), "--out", str(root / "demo")]) == 0
    assert main(["fit", "--model", MODEL, "--pretrained", "--dataset", "synthetic", "--dataset-set",
                 *(f"{k}={v}" for k, v in DATA.items()), "--layers", "conv5", "--projection-width", "32",
                 "--n-bootstrap", "10", "--n-folds", "3", "--out", str(root / "fit"), "--quiet"]) == 0
    return {how: read_results_folder(root / how)["scores"][MODEL] for how in ("fit", "zoo", "demo")}


def test_same_settings_every_way(three_ways):
    attrs = {how: by_region["IT"].attrs for how, by_region in three_ways.items()}
    for key in ("mapping", "splits", "n_bootstrap", "ceiling_source", "r_within_folds", "temporal_map"):
        values = [attrs[how].get(key) for how in attrs]
        assert all(v == values[0] for v in values), (key, values)
    model = {how: a["model"] for how, a in attrs.items()}
    for key in ("temporal_map", "n_steps", "on_steps", "weights_sha256", "layers"):
        assert model["fit"][key] == model["zoo"][key] == model["demo"][key], key
    assert model["fit"]["temporal_map"]["kind"] == "one_to_one"  # the model's output varies over time steps


def test_same_scores_every_way(three_ways):
    for region in ("V4", "IT"):
        ref = three_ways["zoo"][region]
        for how in ("fit", "demo"):
            ds = three_ways[how][region]
            for var in ("r", "ceiled", "ceiling", "median_ceiled", "median_r", "median_ceiled_ci", "prediction"):
                np.testing.assert_array_equal(ds[var].values, ref[var].values, err_msg=f"{how} {region} {var}")
