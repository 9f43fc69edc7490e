"""Bad command lines: one line on stderr naming the problem, exit status 2, no traceback, no file
left behind (the training options are in test_bad_training.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brainfit.cli import main
from brainfit.models import create_model, list_pretrained, save_checkpoint

TINY_DATA = ["--dataset", "synthetic", "--dataset-set", "n_categories=2", "objects_per_category=2",
             "images_per_object=1", "n_v4=4", "n_it=4", "n_repetitions=2", "image_size=32"]


def _checkpoint_with_unknown_kwargs(folder):
    path = folder / "odd.pt"
    save_checkpoint(path, model=create_model("ff_small"), model_name="ff_small", model_kwargs={"bogus_width": 3})
    return path


CASES = [
    ("extract without a model", ["extract"], "give --model NAME"),
    ("model without weights, no choice", ["extract", "--model", "convrnn_small_lstm"],
     "'convrnn_small_lstm' has no trained weights; choose --checkpoint PATH or --random-init"),
    ("unknown model", ["extract", "--model", "convrnn_small_rgcc"], "did you mean"),
    ("--model-set without --random-init", ["extract", "--model", "convrnn_small_rgc", "--model-set", "n_classes=5"],
     "add --random-init"),
    ("--model-set bogus=1", ["extract", "--model", "convrnn_small_rgc", "--random-init", "--model-set", "bogus=1"],
     "'bogus'"),
    ("--dataset-set bogus=1", ["extract", "--model", "ff_small", "--random-init", "--dataset-set", "bogus=1"],
     "the synthetic dataset takes no argument(s) 'bogus'"),
    ("--dataset-set malformed YAML", ["extract", "--model", "ff_small", "--random-init", "--dataset-set", "x=[1,2"],
     "--dataset-set: the value of 'x' is not valid YAML"),
    ("--dataset-set without =", ["extract", "--model", "ff_small", "--random-init", "--dataset-set", "n_v4"],
     "--dataset-set: expected KEY=VALUE, got 'n_v4'"),
    ("--projection 0", ["extract", "--model", "ff_small", "--random-init", "--projection", "0"],
     "--projection must be a width >= 1, got 0"),
    ("--batch-size 0", ["extract", "--model", "ff_small", "--random-init", "--batch-size", "0"],
     "--batch-size must be >= 1, got 0"),
    ("missing checkpoint", ["extract", "--checkpoint", "no/such.pt"], "checkpoint not found: no/such.pt"),
    ("checkpoint with unknown model kwargs", ["extract", "--checkpoint", "{odd}"], "'bogus_width'"),
    ("unknown device", ["extract", "--model", "ff_small", "--random-init", "--device", "tpu"],
     "unknown device 'tpu'"),
    ("unknown dataset", ["extract", "--model", "ff_small", "--random-init", "--dataset", "synthtic"], "did you mean"),
    ("datasets show --set bogus=2", ["datasets", "show", "synthetic", "--set", "bogus=2"],
     "the synthetic dataset takes no argument(s) 'bogus'"),
    ("training --set malformed YAML", ["train", "--model", "ff_small", "--data", "synthetic", "--set", "mean=[1,2",
                                       "--out", "{out}/run"], "--set: the value of 'mean' is not valid YAML"),
]


@pytest.mark.parametrize("case,argv,message", CASES, ids=[c[0] for c in CASES])
def test_bad_command_line(case, argv, message, tmp_path, capsys, nothing_left):
    out = tmp_path / "out"
    odd = _checkpoint_with_unknown_kwargs(tmp_path) if "{odd}" in argv else None
    argv = [a.replace("{odd}", str(odd)).replace("{out}", str(out)) for a in argv]
    if argv[0] == "extract":  # the case's own options come last, so they win over the tiny dataset
        argv = ["extract", *TINY_DATA, *argv[1:], "--cache-dir", str(out / "cache"), "--out", str(out / "act.nc"),
                "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("brainfit: error: ") and message in err, err
    assert "Traceback" not in err
    nothing_left(out)


def test_cuda_without_a_gpu(tmp_path, capsys, nothing_left):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = ["extract", "--model", "ff_small", "--random-init", "--device", "cuda", "--cache-dir", str(tmp_path / "c")]
    assert main(argv) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    nothing_left(tmp_path)


def test_cache_dir_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    argv = ["extract", "--model", "ff_small", "--random-init", "--cache-dir", str(target), "--quiet", *TINY_DATA]
    assert main(argv) == 2
    assert f"cache folder {target} is an existing file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_random_init_is_reproducible_one_cache_file(tmp_path, capsys):
    argv = ["extract", "--model", "ff_small", "--random-init", "--seed", "3", "--cache-dir", str(tmp_path),
            "--projection", "16", "--quiet", *TINY_DATA]
    assert main(argv) == 0 and main(argv) == 0
    assert "weights random(seed=3)" in capsys.readouterr().out
    assert len(list(tmp_path.glob("*.nc"))) == 1  # the second run was a cache hit of the first


@pytest.mark.skipif("convrnn_small_rgc" not in list_pretrained(), reason="shipped weights not present")
def test_named_model_gets_its_trained_weights(tmp_path, capsys):
    argv = ["extract", "--model", "convrnn_small_rgc", "--layers", "conv5", "--n-steps", "6", "--projection", "8",
            "--cache-dir", str(tmp_path), "--quiet", *TINY_DATA]
    assert main(argv) == 0 and main(argv + ["--pretrained"]) == 0
    assert capsys.readouterr().out.count("weights pretrained") == 2
    assert len(list(tmp_path.glob("*.nc"))) == 1


DEMO_YAML = Path(__file__).resolve().parents[2] / "analyses" / "demo" / "demo.yaml"
DEMO_MODELS = {"compare": {}, "models": [{"model": "convrnn_small_lstm", "label": "LSTM"},
                                         {"model": "ff_small", "label": "FF", "weights": "random", "seed": 1}]}


def _models(**first):
    return {**DEMO_MODELS, "models": [{**DEMO_MODELS["models"][0], **first}, DEMO_MODELS["models"][1]]}


# the demo is a zoo config: each case changes the shipped demo.yaml and must be refused, naming the field
@pytest.mark.parametrize("case,change,message", [
    ("demo model without weights", DEMO_MODELS, "'convrnn_small_lstm' has no trained weights"),
    ("demo model with a missing checkpoint", _models(weights="none.pt"), "none.pt"),
    ("demo model with a bad seed", _models(weights="random", seed=-1), "models[0].seed=-1 (expected an int >= 0)"),
    ("demo config not YAML", "models: [", "demo.yaml"),
    ("demo n_folds a float", {"splits": {"n_folds": 2.5}}, "splits.n_folds=2.5 (expected an int >= 2)"),
    ("demo bootstrap a string", {"mapping": {"n_bootstrap": "many"}},
     "mapping.n_bootstrap='many' (expected an int >= 0)"),
    ("demo projection a boolean", {"mapping": {"projection_width": True}},
     "mapping.projection_width=True (expected an int >= 0)"),
    ("demo layers not a list", {"layers": "conv3"}, "layers='conv3' (expected a non-empty list of distinct names"),
    ("demo regions not a list", {"datasets": [{"name": "synthetic", "regions": "V4"}]},
     "datasets[0].regions='V4' (expected a non-empty list of distinct names"),
    ("demo seed as a string", {"splits": {"seed": "0"}}, "splits.seed='0' (expected an int >= 0)"),
    ("demo every bad field at once", {"splits": {"n_folds": 1}, "mapping": {"seed": -1}},
     "mapping.seed=-1 (expected an int >= 0); splits.n_folds=1 (expected an int >= 2)"),
    ("demo alpha decades reversed", {"mapping": {"ridge_log10_alphas": [3, 1]}},
     "mapping.ridge_log10_alphas=[3, 1] (expected two integers"),
    ("demo dataset options not a mapping", {"datasets": [{"name": "synthetic", "kwargs": [1]}]},
     "datasets[0].kwargs=[1] (expected a mapping"),
    ("demo bad quick override", {"quick": {"splits": {"n_folds": 1}}}, "quick: splits.n_folds=1 (expected an int >= 2)"),
    ("demo unknown setting", {"n_foldz": 3}, "unknown setting(s) ['n_foldz']"),
    ("demo unknown temporal map", _models(temporal_map={"kind": "sideways"}), "unknown temporal map kind 'sideways'"),
    ("demo region not in the data", {"datasets": [{"name": "synthetic", "regions": ["V5"]}]},
     "region(s) ['V5'] not in the data; regions present: ['IT', 'V4']"),
    ("demo layer not in a model", {"layers": ["conv9"]},
     "model 'convrnn_small_rgc' (models[0]): layer(s) ['conv9'] not in the model"),
], ids=lambda c: c if isinstance(c, str) and c.startswith("demo") else "")
def test_bad_demo_config(case, change, message, tmp_path, capsys, nothing_left):
    import yaml

    config = tmp_path / "demo.yaml"
    config.write_text(change if isinstance(change, str) else
                      yaml.safe_dump({**yaml.safe_load(DEMO_YAML.read_text()), **change}))
    assert main(["demo", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    nothing_left(tmp_path / "out")
