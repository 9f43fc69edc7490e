"""Bad training configs: one clear error naming every bad field, raised before anything is written."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from brainfit.cli import main
from brainfit.training import ClassificationData, ConfigError, TrainConfig, train

BASE = {"model": "ff_small", "data": "synthetic", "epochs": 1, "batch_size": 4, "max_train_images": 8}
BASE_YAML = "model: ff_small\ndata: synthetic\nepochs: 1\nbatch_size: 4\nmax_train_images: 8\n"
ZOO = Path(__file__).resolve().parents[2] / "analyses" / "train_zoo"


def _d(**changes):
    return {**BASE, **changes}


def _without(key):
    return {k: v for k, v in BASE.items() if k != key}


# (config, expected error, substrings of the message). A str config is the text of a YAML file;
# None stands for a YAML file that does not exist.
CASES = [
    # what failed before: a raw TypeError, a crash after writing config.yaml, silent misbehaviour
    pytest.param(_d(lr="abc"), ConfigError, ["lr='abc'", "expected a number > 0"], id="lr-not-a-number"),
    pytest.param(BASE_YAML + "lr: abc\n", ConfigError, ["lr='abc'", "a number > 0"], id="yaml-lr-abc"),
    pytest.param(BASE_YAML.replace("epochs: 1", "epochs: 1.5"), ConfigError, ["epochs=1.5", "expected an int >= 1"],
                 id="yaml-epochs-fraction"),
    pytest.param(_d(epochs=2.0), ConfigError, ["epochs=2.0", "an int >= 1"], id="epochs-float"),
    pytest.param(BASE_YAML + "grad_clip: -1\n", ConfigError, ["grad_clip=-1", "a number > 0"], id="grad-clip-negative"),
    pytest.param(BASE_YAML + 'augment: "false"\n', ConfigError, ["augment='false'", "boolean"], id="augment-string"),
    pytest.param(_d(augment=0), ConfigError, ["augment=0", "boolean"], id="augment-int"),
    pytest.param(_d(amp="yes"), ConfigError, ["amp='yes'", "boolean"], id="amp-string"),
    pytest.param(_d(compile=1), ConfigError, ["compile=1", "boolean"], id="compile-int"),
    pytest.param(BASE_YAML + "warmup_epochs: -3\n", ConfigError, ["warmup_epochs=-3", "a number >= 0"],
                 id="warmup-negative"),
    pytest.param("model: ff_small\ndata: [synthetic\nlr: 0.1\n", ConfigError,
                 ["cannot parse training config", "cfg.yaml", "line 3, column 3"], id="yaml-malformed"),
    pytest.param("- ff_small\n- synthetic\n", ConfigError, ["cfg.yaml", "must be a mapping", "list"],
                 id="yaml-not-a-mapping"),
    pytest.param(BASE_YAML + "lr: 0.1\nlr: 0.2\n", ConfigError, ["key 'lr' twice", "line 7"], id="yaml-duplicate-key"),
    pytest.param("", ConfigError, ["model is missing", "data is missing"], id="yaml-empty"),
    pytest.param(None, FileNotFoundError, ["training config not found", "cfg.yaml"], id="yaml-missing-file"),
    # what the old validator already refused (now in the same one-error format)
    pytest.param(_d(epochz=3), ConfigError, ["unknown setting(s) ['epochz']", "did you mean 'epochs'?",
                                             "known: ['model', 'data', 'model_kwargs'"], id="unknown-key"),
    pytest.param(_d(optimizer="adam"), ConfigError, ["optimizer='adam'", "one of 'adamw', 'sgd'"], id="optimizer"),
    pytest.param(_d(batch_size=0), ConfigError, ["batch_size=0", "an int >= 1"], id="batch-size-0"),
    pytest.param(_d(mean=[0.5, 0.5]), ConfigError, ["mean=[0.5, 0.5]", "3 finite numbers"], id="mean-2-values"),
    pytest.param(_d(loss_steps="first"), ConfigError, ["loss_steps='first'", "'last', 'all'"], id="loss-steps"),
    pytest.param(_d(step_weighting="exp"), ConfigError, ["step_weighting='exp'", "'uniform', 'linear'"],
                 id="step-weighting"),
    pytest.param(_d(n_steps=0), ConfigError, ["n_steps=0", "an int >= 1 or null"], id="n-steps-0"),
    pytest.param(_without("model"), ConfigError, ["model is missing"], id="model-missing"),
    # every other field
    pytest.param(_d(model=""), ConfigError, ["model=''", "non-empty str"], id="model-empty"),
    pytest.param(_d(data=3), ConfigError, ["data=3", "non-empty str"], id="data-int"),
    pytest.param(_d(model_kwargs=[1, 2]), ConfigError, ["model_kwargs=[1, 2]", "mapping"], id="model-kwargs-list"),
    pytest.param(_d(model_kwargs={1: 2}), ConfigError, ["model_kwargs={1: 2}", "str keys"], id="model-kwargs-keys"),
    pytest.param(_d(model_kwargs={"n": np.float64(1)}), ConfigError, ["model_kwargs=", "plain YAML values"],
                 id="model-kwargs-unsavable"),
    pytest.param(_d(test_data=5), ConfigError, ["test_data=5", "str"], id="test-data-int"),
    pytest.param(_d(image_size=0), ConfigError, ["image_size=0", "an int >= 1 or null"], id="image-size-0"),
    pytest.param(_d(lr=0), ConfigError, ["lr=0", "> 0"], id="lr-0"),
    pytest.param(_d(lr=math.nan), ConfigError, ["lr=nan"], id="lr-nan"),
    pytest.param(_d(lr="inf"), ConfigError, ["lr='inf'"], id="lr-inf-string"),
    pytest.param(_d(lr=True), ConfigError, ["lr=True"], id="lr-bool"),
    pytest.param(_d(weight_decay=-1e-4), ConfigError, ["weight_decay=-0.0001", ">= 0"], id="weight-decay"),
    pytest.param(_d(momentum=1.0), ConfigError, ["momentum=1.0", "[0, 1)"], id="momentum-1"),
    pytest.param(_d(optimizer="sgd", momentum=0), ConfigError, ["momentum=0.0", "optimizer='sgd'"],
                 id="sgd-without-momentum"),
    pytest.param(_d(min_lr_fraction=1.5), ConfigError, ["min_lr_fraction=1.5", "[0, 1]"], id="min-lr-fraction"),
    pytest.param(_d(grad_clip=math.inf), ConfigError, ["grad_clip=inf"], id="grad-clip-inf"),
    pytest.param(_d(n_steps=4, on_steps=8), ConfigError, ["on_steps=8", "<= n_steps=4"], id="on-steps-too-long"),
    pytest.param(_d(on_steps=0), ConfigError, ["on_steps=0", "an int >= 1"], id="on-steps-0"),
    pytest.param(_d(val_fraction=1.0), ConfigError, ["val_fraction=1.0", "[0, 1)"], id="val-fraction-1"),
    pytest.param(_d(max_train_images=0), ConfigError, ["max_train_images=0"], id="max-train-images-0"),
    pytest.param(_d(early_stop_patience=0), ConfigError, ["early_stop_patience=0"], id="patience-0"),
    pytest.param(_d(checkpoint_every=-1), ConfigError, ["checkpoint_every=-1", "an int >= 0"], id="checkpoint-every"),
    pytest.param(_d(device="gpu"), ConfigError, ["device='gpu'", "'cpu', 'cuda'"], id="device"),
    pytest.param(_d(std=[0.2, 0.0, 0.2]), ConfigError, ["std=[0.2, 0.0, 0.2]", "> 0"], id="std-zero"),
    pytest.param(_d(mean=[0.5, math.nan, 0.5]), ConfigError, ["mean=[0.5, nan, 0.5]", "finite"], id="mean-nan"),
    pytest.param(_d(mean="0.5"), ConfigError, ["mean='0.5'", "3 finite numbers"], id="mean-string"),
    pytest.param(_d(seed=-1), ConfigError, ["seed=-1", "an int in [0, "], id="seed-negative"),
    pytest.param(_d(seed=1.0), ConfigError, ["seed=1.0", "an int"], id="seed-float"),
]


@pytest.mark.parametrize(("config", "error", "parts"), CASES)
def test_bad_config_is_one_clear_error_and_writes_nothing(tmp_path, config, error, parts):
    if isinstance(config, dict):
        source, load = config, TrainConfig.from_dict
    else:
        source = tmp_path / "cfg.yaml"
        if config is not None:
            source.write_text(config)
        load = TrainConfig.from_yaml
    with pytest.raises(error) as info:
        load(source)
    for part in parts:
        assert part in str(info.value)
    out = tmp_path / "out"
    with pytest.raises(error) as info:
        train(source, out, progress=False)
    assert all(part in str(info.value) for part in parts), str(info.value)
    assert not out.exists()  # not even an empty folder


def test_one_error_names_every_bad_field():
    bad = _d(lr="abc", epochs=1.5, grad_clip=-1, augment="false", warmup_epochs=-3, epochz=2)
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict(bad)
    message = str(info.value)
    assert message.startswith("invalid training config: ")
    for part in ("lr='abc' (expected a number > 0)", "epochs=1.5 (expected an int >= 1)", "grad_clip=-1",
                 "augment='false'", "warmup_epochs=-3", "unknown setting(s) ['epochz']"):
        assert part in message
    assert len(info.value.problems) == 6
    with pytest.raises(ConfigError, match=r"lr='abc'.*epochs=1\.5|epochs=1\.5.*lr='abc'"):  # also at construction
        TrainConfig(model="ff_small", data="synthetic", lr="abc", epochs=1.5)


def test_yaml_1_1_exponent_floats_load_as_numbers(tmp_path):
    text = BASE_YAML + "lr: 1e-3\nweight_decay: 5e-4\nmin_lr_fraction: +1E-2\n"
    assert yaml.safe_load(text)["lr"] == "1e-3"  # PyYAML (YAML 1.1) reads these as strings
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    cfg = TrainConfig.from_yaml(path)
    assert (cfg.lr, cfg.weight_decay, cfg.min_lr_fraction) == (0.001, 0.0005, 0.01)
    assert type(cfg.lr) is float
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert yaml.safe_load(yaml.safe_dump(cfg.to_dict()))["lr"] == 0.001  # written back as a float


def test_numpy_scalars_and_paths_are_normalised(tmp_path):
    cfg = TrainConfig(model="ff_small", data=tmp_path, epochs=np.int64(2), lr=np.float64(0.01), augment=np.bool_(False),
                      mean=np.array([0.5, 0.5, 0.5]), std=[0.25, 0.25, 0.25], model_kwargs=None)
    assert (cfg.epochs, cfg.lr, cfg.augment, cfg.data) == (2, 0.01, False, str(tmp_path))
    assert type(cfg.epochs) is int and type(cfg.augment) is bool
    assert cfg.mean == (0.5, 0.5, 0.5) and cfg.std == (0.25, 0.25, 0.25) and cfg.model_kwargs == {}
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    yaml.safe_dump(cfg.to_dict())  # plain values only


@pytest.mark.parametrize("path", sorted(ZOO.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_train_zoo_configs_load(path):
    cfg = TrainConfig.from_yaml(path)
    # <model>.yaml, or <model>_7step.yaml for the 7-step weights the ConvRNN configs fine-tune from
    assert cfg.model == path.stem.removesuffix("_7step") and TrainConfig.from_dict(cfg.to_dict()) == cfg
    if cfg.init_from is not None:
        assert (ZOO.parents[1] / cfg.init_from).is_file(), f"{path.name} starts from {cfg.init_from}, which is not shipped"


def test_a_run_that_cannot_start_leaves_no_folder(tmp_path):
    data = ClassificationData(np.zeros((8, 8, 8, 3), np.uint8), np.arange(8) % 2, ["a", "b"], "toy")
    with pytest.raises(KeyError, match="unknown model 'ff_smal'"):  # valid config, but no such model
        train(_d(model="ff_smal"), tmp_path / "out", progress=False, data=data)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("extra", "yaml_text", "parts"), [
    (["--set", "lr=abc"], None, ["lr='abc'", "a number > 0"]),
    (["--set", "epochs=1.5"], None, ["epochs=1.5", "an int >= 1"]),
    (["--set", "epochz=2"], None, ["unknown setting(s) ['epochz']"]),
    (["--config", "{cfg}"], "model: ff_small\ndata: [synthetic\n", ["cfg.yaml", "line 3, column 1"]),
    (["--config", "{cfg}"], "epochs: 1.5\naugment: 'false'\n", ["cfg.yaml", "epochs=1.5", "augment='false'"]),
    (["--config", "{cfg}"], "- a\n", ["cfg.yaml", "must be a mapping"]),
])
def test_cli_train_bad_config_exits_2_and_writes_nothing(tmp_path, capsys, extra, yaml_text, parts):
    cfg = tmp_path / "cfg.yaml"
    if yaml_text is not None:
        cfg.write_text(yaml_text)
    out = tmp_path / "out"
    argv = ["train", "--model", "ff_small", "--data", "synthetic", "--out", str(out), "--quiet"]
    assert main(argv + [a.format(cfg=cfg) for a in extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brainfit: error: ")
    for part in parts:
        assert part in err
    assert not out.exists()
