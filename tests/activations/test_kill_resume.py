"""A real extraction process killed with SIGKILL mid-run resumes past 0 and ends bit-identical."""

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from brainfit.activations import extract
from brainfit.stimuli import StimulusSet
from tiny_models import Tiny

N_IMAGES, BATCH = 48, 4  # 12 batches

CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np, torch
    sys.path.insert(0, {tests!r})
    from brainfit.activations import extract
    from brainfit.stimuli import StimulusSet
    from tiny_models import Tiny

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    rng = np.random.default_rng(0)
    stimuli = StimulusSet.from_array(rng.integers(0, 256, ({n}, 16, 16, 3), dtype=np.uint8))
    torch.manual_seed(0)
    model = Tiny()

    def announce(module, args):  # one line per batch, then a pause so the kill lands mid-run
        print("batch", flush=True)
        time.sleep(0.05)

    model.register_forward_pre_hook(announce)
    extract(model, stimuli, cache={cache!r}, batch_size={batch}, progress=False)
    print("finished", flush=True)
""")


def _stimuli() -> StimulusSet:
    rng = np.random.default_rng(0)
    return StimulusSet.from_array(rng.integers(0, 256, (N_IMAGES, 16, 16, 3), dtype=np.uint8))


def _model() -> Tiny:
    torch.manual_seed(0)
    return Tiny()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
@pytest.mark.parametrize("kill_after", [3, 8])
def test_sigkill_mid_extraction_resumes_and_matches(tmp_path, caplog, kill_after):
    cache = tmp_path / "cache"
    script = CHILD.format(tests=str(Path(__file__).parents[1]), n=N_IMAGES, cache=str(cache), batch=BATCH)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = 0
    for line in child.stdout:
        seen += line.strip() == "batch"
        if seen == kill_after:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"
    partials = list(cache.glob("*.partial.nc"))
    assert len(partials) == 1 and not list(cache.glob("*[!l].nc"))

    caplog.set_level(logging.INFO, logger="brainfit.activations.cache")
    model = _model()
    resumed = extract(model, _stimuli(), cache=cache, batch_size=BATCH, progress=False)
    starts = [r.args[0] for r in caplog.records if r.getMessage().startswith("resuming extraction")]
    assert starts and starts[0] > 0, "the rerun started from 0: progress did not survive the kill"
    assert starts[0] % BATCH == 0 and starts[0] <= kill_after * BATCH
    assert model.calls == (N_IMAGES - starts[0]) // BATCH  # only the missing batches ran
    reference = extract(_model(), _stimuli(), cache=tmp_path / "reference", batch_size=BATCH, progress=False)
    np.testing.assert_array_equal(resumed.values, reference.values)  # bit for bit
    assert not list(cache.glob("*.partial.nc"))
