"""Running a zoo on a real Dask LocalCluster of 2 worker processes and in this process: complete
tables, a worker killed mid-run, an interrupted run resumed, damaged results recomputed."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest
from zoo_world import zoo

from brainfit.scoring import load_scores
from brainfit.zoo import (
    ZooRunError,
    load_results,
    local_cluster,
    plan_zoo,
    run_zoo,
    thread_env,
)

distributed = pytest.importorskip("distributed", reason="the zoo's Dask runner needs dask.distributed "
                                  "(pip install -e '.[test]')")

NUMERIC = ["n_bins", "n_neuroids", "mean_ceiled", "mean_r", "n_reliable"]


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b) and not a.duplicated(["model", "dataset", "region"]).any()
    assert a[["model", "dataset", "region", "layers_selected", "key"]].equals(b[["model", "dataset", "region",
                                                                                  "layers_selected", "key"]])
    np.testing.assert_allclose(a[NUMERIC].to_numpy(float), b[NUMERIC].to_numpy(float), rtol=1e-5, atol=1e-6)


def same_scores(out_a, out_b) -> None:
    """Every per-bin score of every result file agrees."""
    plan_a, plan_b = plan_zoo(zoo(out_a), write=False), plan_zoo(zoo(out_b), write=False)
    res_a, res_b = load_results(plan_a), load_results(plan_b)
    assert res_a.keys() == res_b.keys() and len(res_a) == 2 * len(plan_a.fits)  # two regions a fit
    for k, ds in res_a.items():
        for var in ("median_ceiled", "median_r", "ceiling"):
            np.testing.assert_allclose(ds[var].values, res_b[k][var].values, rtol=1e-5, atol=1e-6, err_msg=str(k))


def test_serial_run_writes_one_row_per_model_dataset_region(serial):
    out, summary, events = serial
    table = summary["table"]
    assert summary["computed"] == summary["total"] == 3 and summary["skipped"] == 0  # one fit per model
    assert list(zip(table["model"], table["region"])) == [(m, r) for m in ("convrnn_small_rgc", "ff_small_wider_rgc",
                                                                           "gru") for r in ("IT", "V4")]
    assert pd.read_csv(out / "results.csv").shape[0] == 6
    assert [e["event"] for e in events].count("extracted") == 3
    assert (table["mean_r"] > 0.05).all()  # trained and untrained models all predict something
    # a fit's scores carry the model's provenance and the key of the result
    ds = load_scores(next((out / "results" / "synthetic" / "gru").glob("IT-*.scores.nc")))
    assert ds.attrs["model"]["id"] == "gru" and ds.attrs["zoo_key"] in table["key"].tolist()


def test_local_cluster_gives_each_worker_its_share_of_the_cores():
    from brainfit.zoo.tasks import worker_threads

    before = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")}
    with local_cluster(2, dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        facts = list(client.run(worker_threads).values())
        assert len(facts) == 2
        cores = os.cpu_count()
        assert all(f["torch_threads"] == max(1, cores // 2) for f in facts), facts
        assert all(f["malloc_trim"] is None for f in facts)  # Dask's default would slow extraction ~3x
        assert set(client.nthreads().values()) == {1}  # one task at a time per worker
    # the environment Dask set in this process to spawn its workers is restored
    assert {k: os.environ.get(k) for k in before} == before
    assert thread_env(2, cores=8)["OMP_NUM_THREADS"] == "4" and thread_env(4, cores=2)["OMP_NUM_THREADS"] == "1"


def test_killing_a_worker_mid_run_still_gives_the_serial_table(serial, tmp_path):
    ref_out, ref, _ = serial
    killed = []
    with local_cluster(2, dashboard_address=":0") as cluster, distributed.Client(cluster) as client:

        def kill_a_busy_worker(event):
            if killed or event["event"] not in ("extracted", "fitted"):
                return
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append((busy[0], pid, list(client.processing()[busy[0]])))

        summary = run_zoo(zoo(tmp_path), client=client, on_event=kill_a_busy_worker)
        assert len(client.scheduler_info()["workers"]) == 2  # the nanny replaced the killed worker
    assert killed and killed[0][2], "no worker was busy when the first task finished"
    assert summary["computed"] == summary["total"] == 3
    same_table(summary["table"], ref["table"])
    same_scores(tmp_path, ref_out)


def test_an_interrupted_run_resumes_without_recomputing_what_finished(serial, tmp_path):
    _, ref, _ = serial
    fitted = []

    def stop_after_two(event):
        if event["event"] == "fitted":
            fitted.append(event["task"])
            if len(fitted) == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_zoo(zoo(tmp_path), workers=0, on_event=stop_after_two)
    plan = plan_zoo(zoo(tmp_path), write=False)
    finished = {f.name: f.paths()["manifest"].stat().st_mtime_ns for f in plan.fits if f.finished()}
    assert sorted(finished) == sorted(fitted)
    events = []
    summary = run_zoo(zoo(tmp_path), workers=0, on_event=events.append)
    assert events[0]["skipped"] == 2 and events[0]["pending"] == 1
    recomputed = [e["task"] for e in events if e["event"] == "fitted"]
    assert not set(recomputed) & set(finished) and len(recomputed) == 1
    assert {f.name: f.paths()["manifest"].stat().st_mtime_ns for f in plan.fits if f.name in finished} == finished
    same_table(summary["table"], ref["table"])


def test_damaged_results_are_recomputed_and_changed_settings_get_new_files(serial, tmp_path):
    import shutil

    ref_out, ref, _ = serial
    shutil.copytree(ref_out, tmp_path / "z")
    plan = plan_zoo(zoo(tmp_path / "z"), write=False)
    assert plan.pending() == []
    victim, other = plan.fits[0], plan.fits[2]
    scores = victim.paths()["scores"]["V4"]
    scores.write_bytes(scores.read_bytes()[: scores.stat().st_size // 2])  # a truncated file
    other.paths()["manifest"].unlink()  # a result whose manifest never got written
    assert [f.name for f in plan.pending()] == [victim.name, other.name]
    events = []
    summary = run_zoo(zoo(tmp_path / "z"), workers=0, on_event=events.append)
    assert sorted(e["task"] for e in events if e["event"] == "fitted") == sorted([victim.name, other.name])
    same_table(summary["table"], ref["table"])
    # another mapping setting is another result: new files, the old ones untouched
    changed = zoo(tmp_path / "z", mapping={"projection_width": 48, "n_bootstrap": 10, "ridge_log10_alphas": [-1, 6]})
    assert all(f.finished() is None for f in plan_zoo(changed, write=False).fits)


def test_a_failing_model_does_not_stop_the_others(tmp_path, monkeypatch):
    (tmp_path / "broken_nets.py").write_text(
        "from torch import nn\n\n"
        "class Broken(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 4, 3)\n"
        "    def forward(self, x):\n"
        "        raise RuntimeError('this network cannot run')\n\n"
        "def broken():\n    return Broken()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = zoo(tmp_path / "out", models=["ff_small_wider_rgc", {"module": "broken_nets:broken", "id": "broken",
                                                                   "layers": ["conv"]}], layers=None,
                 compare={})
    with pytest.raises(ZooRunError, match=r"1 zoo task\(s\) failed.*broken / synthetic: extraction failed: "
                                          r".*this network cannot run"):
        run_zoo(config, workers=0)
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert table["model"].tolist() == ["ff_small_wider_rgc", "ff_small_wider_rgc"]
