"""The ``brainfit extract`` command end to end."""

import numpy as np
import pytest

from brainfit.assembly import ACTIVATION_DIMS


def test_cli_extract_end_to_end(tmp_path, capsys):
    from brainfit.activations import open_activations
    from brainfit.cli import main

    from brainfit.models.schedule import ScheduleWarning

    out = tmp_path / "act.nc"
    # a short unroll with a shorter image than the 26-step / 10-on schedule the weights learned: warned
    with pytest.warns(ScheduleWarning, match="image is shown for a different number of steps"):
        rc = main(["extract", "--model", "convrnn_small_rgc", "--on-steps", "3", "--n-steps", "6",
                   "--dataset", "synthetic", "--dataset-set", "n_categories=2", "objects_per_category=2",
                   "images_per_object=1", "n_v4=4", "n_it=4", "n_repetitions=2", "image_size=32",
                   "--layers", "conv1", "conv5", "--pooling", "avg", "--cache-dir", str(tmp_path / "cache"),
                   "--out", str(out), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "weights pretrained" in printed
    assert len(list((tmp_path / "cache").glob("*.nc"))) == 1
    act = open_activations(out)
    try:
        assert act.dims == ACTIVATION_DIMS
        assert dict(act.sizes) == {"presentation": 2 * 2 * 1 * 3, "neuroid": 32 + 128, "time_step": 6}
        assert set(act.layer.values) == {"conv1", "conv5"} and bool(act.attrs["is_recurrent"])
        assert np.all(act.values[:, act.layer.values == "conv5", :4] == 0)
    finally:
        act.close()
