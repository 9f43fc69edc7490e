"""Cowley et al. 2023: macaque V4 responses to natural images (read from the data root).

Folder ``cowley2023_v4`` under the data root (``BRAINFIT_DATA``); see ``datasets/cowley2023_v4.md``.
Responses are spike counts in one 100 ms window whose start relative to onset the authors do
not state: the assembly has a single time bin, nominally ``[0, 100)`` ms (``window_ms``), and the
attr ``time_window_nominal`` says so.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import xarray as xr

from brainfit.assembly import neural_assembly
from brainfit.data.registry import register_dataset
from brainfit.paths import require_data_root
from brainfit.stimuli import StimulusSet, is_image_name

__all__ = ["ANIMALS", "cowley2023_sessions", "load_cowley2023"]

FOLDER = "cowley2023_v4"
#: session -> animal, from the authors' data table; a session not listed here (the release has
#: more sessions in the same layout) is loaded with animal "unknown".
ANIMALS = {"190925": "WE", "190927": "WE", "190928": "WE", "190929": "WE",
           "210305": "PE", "210322": "PE", "210325": "PE", "210621": "RA"}
_MEMBER = re.compile(r"image(\d+)\.jpe?g$", re.IGNORECASE)
_RESPONSES = re.compile(r"^responses_(.+)\.npy$")


def cowley2023_sessions(data_root: str | None = None, *, trials: bool = False) -> list[str]:
    """Sessions present under the data root: those with a repeat-averaged response file and an image zip.

    Parameters
    ----------
    data_root : path, optional
        Overrides ``BRAINFIT_DATA``.
    trials : bool
        Only sessions that also have single trials (``responses_raw/``).
    """
    root = require_data_root(FOLDER, data_root)
    found = []
    for path in sorted((root / "responses_repeat_averaged").glob("responses_*.npy")):
        session = _RESPONSES.match(path.name).group(1)
        if not (root / "images" / f"images_{session}.zip").exists():
            continue
        if trials and not (root / "responses_raw" / path.name).exists():
            continue
        found.append(session)
    return found


def _image_members(path: Path, n_images: int) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        numbered = {}
        for name in zf.namelist():
            m = _MEMBER.search(name)
            if m and is_image_name(name):
                numbered[int(m.group(1))] = name
    missing = [i for i in range(1, n_images + 1) if i not in numbered]
    if missing:
        raise ValueError(f"{path} lacks image member(s) for index {missing[:5]} (expected image0001..image{n_images:04d})")
    return [numbered[i] for i in range(1, n_images + 1)]


@register_dataset("cowley2023_v4", needs_data_root=True, folder=FOLDER, sessions=lambda: cowley2023_sessions(),
                  description="Macaque V4, every session present, natural images 112 px (Cowley et al. 2023); "
                              "session 210325 has single trials")
def load_cowley2023(session: str = "210325", *, trials: bool | None = None, window_ms: tuple[float, float] = (0.0, 100.0),
                    data_root: str | None = None) -> tuple[StimulusSet, xr.DataArray]:
    """Load one session.

    Parameters
    ----------
    session : str
        A session present under the data root (:func:`cowley2023_sessions`: a file
        ``responses_repeat_averaged/responses_<session>.npy`` and ``images/images_<session>.zip``).
    trials : bool, optional
        Keep single trials (``repetition`` coord), from ``responses_raw/`` (of the sessions here
        only 210325 has them). NaN-padded missing repeats are dropped, so stimuli have 6-10
        repetitions. Default: single trials when the session has them, else repeat-averaged
        responses (scored with raw r; ceiled scores are NaN without single trials). ``True`` for
        a session without them is an error.
    window_ms : (start, end)
        Nominal time window of the single bin.
    data_root : path, optional
        Overrides ``BRAINFIT_DATA``.

    Returns
    -------
    (StimulusSet of 112 x 112 RGB JPEGs read from the session zip, neural DataArray)
    """
    session = str(session)
    root = require_data_root(FOLDER, data_root)
    present = cowley2023_sessions(data_root)
    if session not in present:
        raise ValueError(f"session {session!r} not found under {root} (needs responses_repeat_averaged/"
                         f"responses_{session}.npy and images/images_{session}.zip); sessions present: {present}")
    raw_path = root / "responses_raw" / f"responses_{session}.npy"
    avg_path = root / "responses_repeat_averaged" / f"responses_{session}.npy"
    if trials is None:
        trials = raw_path.exists()
    if trials and not raw_path.exists():
        with_trials = cowley2023_sessions(data_root, trials=True)
        raise ValueError(f"session {session} has no single trials (sessions with single trials: {with_trials}); "
                         "pass trials=False for its repeat-averaged responses")
    avg = np.load(avg_path, allow_pickle=False)
    if avg.ndim != 2:
        raise ValueError(f"{avg_path}: expected (neurons, images) repeat-averaged responses, got shape {avg.shape}")
    n_neurons, n_images = avg.shape
    ids = [f"{session}_{i + 1:04d}" for i in range(n_images)]
    zpath = root / "images" / f"images_{session}.zip"
    stimuli = StimulusSet.from_zip(zpath, members=_image_members(zpath, n_images), stimulus_ids=ids,
                                   metadata={"session": [session] * n_images}, name=f"cowley2023_{session}")
    neuroid_ids = [f"{session}_n{j:03d}" for j in range(n_neurons)]
    common = dict(neuroid_id=neuroid_ids, region="V4", time_bin_start=[window_ms[0]], time_bin_end=[window_ms[1]],
                  neuroid_coords={"animal": ANIMALS.get(session, "unknown"), "session": session})
    attrs = {"dataset": "cowley2023_v4", "session": session, "response": "spike counts in one 100 ms window",
             "time_window_nominal": True,
             "citation": "Cowley, Stan, Pillow & Smith (2023). Compact deep neural network models of visual cortex. bioRxiv."}
    if not trials:
        return stimuli, neural_assembly(avg.T[:, :, None], stimulus_id=ids, attrs={**attrs, "trials": False}, **common)
    raw = np.load(raw_path, allow_pickle=False)  # (neurons, images, repeats), NaN-padded
    if raw.ndim != 3 or raw.shape[:2] != avg.shape:
        raise ValueError(f"{raw_path}: expected (neurons, images, repeats) = ({n_neurons}, {n_images}, R) like the "
                         f"repeat-averaged file, got shape {raw.shape}")
    valid = ~np.isnan(raw[0])  # the padding is identical for every neuron
    img, rep = np.nonzero(valid)
    values = raw[:, img, rep].T[:, :, None]
    return stimuli, neural_assembly(values, stimulus_id=np.asarray(ids)[img], repetition=rep,
                                    attrs={**attrs, "trials": True}, **common)
