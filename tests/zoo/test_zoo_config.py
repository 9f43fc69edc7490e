"""The zoo config: every kind of model entry expands as documented, and a bad config fails before
any work, naming every bad field."""

from __future__ import annotations

import textwrap

import pytest
import torch

from brainfit._config import ConfigError
from brainfit.models import create_model
from brainfit.models.checkpoint import save_checkpoint
from brainfit.zoo import ZooConfig, ZooPlanError, build_model, plan_zoo

DATA = {"name": "synthetic", "kwargs": {"images_per_object": 2, "n_v4": 8, "n_it": 8}}


def config(tmp_path, **over):
    d = {"name": "z", "out": str(tmp_path / "out"), "datasets": [DATA], "models": ["ff_small"]}
    d.update(over)
    return ZooConfig.from_dict(d)


def test_registry_entries_sweeps_and_samples_expand(tmp_path):
    c = config(tmp_path, models=[
        "convrnn_small_rgc",
        {"model": "convrnn_small_vanilla", "weights": "random", "seed": 3},
        {"model": "convrnn_small_custom", "id": "search", "grid": {"cell": ["gru", "lstm"],
                                                                    "feedback": [[], [["conv5", "conv3"]]]}},
        {"model": "convrnn_small_custom", "id": "rnd", "grid": {"cell": ["gru", "lstm", "vanilla"], "width": [0.5, 1]},
         "sample": {"n": 3, "seed": 1}},
    ])
    ids = [m.id for m in c.models]
    assert ids[:2] == ["convrnn_small_rgc", "convrnn_small_vanilla_random3"]
    assert ids[2:6] == ["search_cell-gru_feedback-none", "search_cell-gru_feedback-conv5_to_conv3",
                        "search_cell-lstm_feedback-none", "search_cell-lstm_feedback-conv5_to_conv3"]
    assert c.model("search_cell-lstm_feedback-conv5_to_conv3").kwargs == {"cell": "lstm",
                                                                          "feedback": [["conv5", "conv3"]]}
    assert all(m.weights == "random" for m in c.models[2:])  # sweeps default to untrained weights
    sampled = [m.id for m in c.models[6:]]
    assert len(sampled) == len(set(sampled)) == 3
    # the draw is fixed by the seed, and another seed draws another sample
    again = config(tmp_path, models=[{"model": "convrnn_small_custom", "id": "rnd", "grid": {
        "cell": ["gru", "lstm", "vanilla"], "width": [0.5, 1]}, "sample": {"n": 3, "seed": 1}}])
    assert [m.id for m in again.models] == sampled
    other = config(tmp_path, models=[{"model": "convrnn_small_custom", "id": "rnd", "grid": {
        "cell": ["gru", "lstm", "vanilla"], "width": [0.5, 1]}, "sample": {"n": 3, "seed": 5}}])
    assert [m.id for m in other.models] != sampled
    # a sweep point builds the architecture it names
    model = build_model(c.model("search_cell-gru_feedback-conv5_to_conv3"))
    assert model.feedback_edges == (("conv5", "conv3"),) and model.is_recurrent


def test_checkpoint_globs_give_one_model_per_file(tmp_path):
    for run in ("a", "b"):
        model = create_model("ff_small")
        save_checkpoint(tmp_path / "runs" / run / "best.pt", model=model, model_name="ff_small", model_kwargs={})
    (tmp_path / "runs" / "notes.txt").write_text("not a checkpoint")
    c = config(tmp_path, models=[{"checkpoints": str(tmp_path / "runs" / "*" / "*.pt"), "id": "ff"}])
    assert [m.id for m in c.models] == ["ff_a_best", "ff_b_best"]
    assert c.models[0].weights == str(tmp_path / "runs" / "a" / "best.pt")
    with pytest.raises(ConfigError, match=r"models\[0\]\.checkpoints=.*matches no file"):
        config(tmp_path, models=[{"checkpoints": str(tmp_path / "nothing" / "*.pt")}])


def test_module_entries_wrap_plain_modules(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        def tiny(width=4):
            return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(width, 10))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    c = config(tmp_path, models=[{"module": "my_nets:tiny", "id": "tiny", "kwargs": {"width": 6}, "layers": ["1"]}])
    model = build_model(c.models[0])
    assert list(model.layers) == ["1"] and model(torch.zeros(1, 3, 8, 8)).shape == (1, 1, 10)
    plan = plan_zoo(c, write=False)
    assert plan.models["tiny"]["temporal_map"]["kind"] == "constant"  # a plain module is feedforward
    with pytest.raises(ZooPlanError, match="name the submodules to read in 'layers'"):
        plan_zoo(config(tmp_path, models=[{"module": "my_nets:tiny", "id": "tiny"}]), write=False)
    with pytest.raises(ConfigError, match="needs an 'id'"):
        config(tmp_path, models=[{"module": "my_nets:tiny"}])


def test_yaml_file_round_trip(tmp_path):
    path = tmp_path / "zoo.yaml"
    path.write_text(textwrap.dedent(f"""
        name: demo
        out: {tmp_path / 'out'}
        datasets: [{{name: synthetic, kwargs: {{images_per_object: 2}}}}]
        models:
          - convrnn_small_rgc
          - {{model: ff_small_wider_rgc, label: wider}}
        layers: [conv4, conv5]
        temporal_maps: {{time_varying: {{kind: one_to_one, latency_ms: 30}}}}
        mapping: {{ridge_log10_alphas: [-1, 4], projection_width: 64}}
        splits: {{n_folds: 4, seed: 2}}
        compare: {{contrasts: [[convrnn_small_rgc, ff_small_wider_rgc]], metric: r}}
    """))
    c = ZooConfig.from_yaml(path)
    assert c.temporal_maps["time_varying"]["latency_ms"] == 30 and c.temporal_maps["constant"]["kind"] == "constant"
    assert c.mapping.alphas == (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
    assert (c.splits.n_folds, c.splits.seed, c.compare.metric) == (4, 2, "r")
    assert ZooConfig.from_dict(c.to_dict() | {"models": [m.id for m in c.models][:1] + [
        {"model": "ff_small_wider_rgc", "label": "wider"}]}).mapping == c.mapping
    assert ZooConfig.from_yaml(path, out=tmp_path / "elsewhere").out == str(tmp_path / "elsewhere")


def test_a_bad_config_names_every_bad_field(tmp_path):
    with pytest.raises(ConfigError) as err:
        ZooConfig.from_dict({
            "name": "has space", "out": str(tmp_path / "out"), "datasets": [{"kwargs": {}}],
            "models": [{"model": "ff_small", "id": "a", "seed": -1}, {"model": "convrnn_small_custom", "grid": {"cell": []}},
                       {"model": "convrnn_small_custom", "grid": {"cell": ["gru"]}, "sample": {"n": 5}},
                       "ff_small", "ff_small", {"model": "ff_small", "id": "b", "label": "a"},
                       {"model": "ff_small", "id": "c", "label": "a"}],
            "layers": ["conv1", "conv1"],
            "mapping": {"projection_width": "wide", "bogus": 1}, "splits": {"n_folds": 1},
            "compare": {"contrasts": [["ff_small", "nope"], ["b", "c"], ["b", "c"]], "metric": "best"}, "extra": 1})
    text = str(err.value)
    for needle in ("unknown setting(s) ['extra']", "name='has space'", "datasets[0]: 'name'", "models[0].seed=-1",
                   "models[1].grid: ['cell'] must each be a non-empty list", "models[2].sample.n=5 (the grid has only 1",
                   "model ids ['ff_small'] are given more than once", "mapping: unknown setting(s) ['bogus']",
                   "mapping.projection_width='wide'", "splits.n_folds=1", "compare.metric='best'",
                   "names unknown model id(s) ['nope']", "model labels ['a', 'ff_small'] are given more than once",
                   "layers=['conv1', 'conv1'] (expected a non-empty list of distinct names",
                   "compare.contrasts: a pair is given more than once"):
        assert needle in text, needle


def test_models_and_datasets_that_cannot_be_built_fail_before_any_work(tmp_path):
    c = config(tmp_path, models=[
        "no_such_model", {"model": "ff_small", "weights": "random", "kwargs": {"bogus": 1}},
        {"model": "convrnn_small_custom", "weights": "random", "kwargs": {"cell": "nope"}},
        {"model": "ff_small", "id": "ff_layers", "weights": "random", "layers": ["conv9"]}, "convrnn_small_lstm",
        {"model": "ff_small", "weights": str(tmp_path / "missing.pt")}],
        datasets=[DATA, {**DATA, "id": "bad_region", "regions": ["V1"]}, {"name": "no_such_data"}])
    with pytest.raises(ZooPlanError) as err:
        plan_zoo(c)
    text = str(err.value)
    for needle in ("model 'no_such_model'", "model 'ff_small_random0' (models[1]): ", "bogus",
                   "cell must be one of", "model 'ff_layers' (models[3]): layer(s) ['conv9'] not in the model",
                   "'convrnn_small_lstm' has no trained weights", "checkpoint not found",
                   "dataset 'bad_region' (synthetic): region(s) ['V1'] not in the data",
                   "dataset 'no_such_data'"):
        assert needle in text, needle
    assert not (tmp_path / "out").exists()  # nothing was written


def test_datasets_on_the_same_images_share_one_extraction(tmp_path):
    small = {"name": "synthetic", "id": "small", "kwargs": {"images_per_object": 2, "n_v4": 8, "n_it": 8}}
    more = {"name": "synthetic", "id": "more", "kwargs": {"images_per_object": 2, "n_v4": 12, "n_it": 8}}
    plan = plan_zoo(config(tmp_path, datasets=[small, more], models=["ff_small_wider_rgc"]), write=False)
    assert len(plan.extracts) == 1  # one cache file, never written by two tasks at once
    assert len({f.key for f in plan.fits}) == 2  # but other neural data: other fits (one per dataset)
    assert plan.datasets["small"]["stimuli"] == plan.datasets["more"]["stimuli"]
    assert plan.datasets["small"]["content"] != plan.datasets["more"]["content"]


def test_a_checkpoint_rewritten_after_planning_is_refused_on_the_worker(tmp_path):
    from brainfit.zoo.tasks import run_extract

    path = tmp_path / "ff.pt"
    save_checkpoint(path, model=create_model("ff_small"), model_name="ff_small", model_kwargs={})
    plan = plan_zoo(config(tmp_path, models=[{"model": "ff_small", "weights": str(path), "layers": ["conv5"]}]))
    torch.manual_seed(1)
    save_checkpoint(path, model=create_model("ff_small"), model_name="ff_small", model_kwargs={})
    with pytest.raises(ValueError, match="other weights than when the zoo was planned"):
        run_extract(next(iter(plan.extracts.values())))
