"""Zhang et al. 2011: 132 macaque IT units, 7 objects x 3 positions, 1 ms rasters (no images).

Folder ``zhang_desimone2011_it`` under the data root; see ``datasets/zhang2011_it.md``. Units
were recorded one at a time, so the population is a pseudo-population: the r-th trial of every
unit for a condition forms pseudo-trial r (19 per condition, the smallest count any unit has).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from brainfit.assembly import make_time_bins, neural_assembly
from brainfit.data.registry import register_dataset
from brainfit.paths import require_data_root

__all__ = ["load_zhang2011"]

FOLDER = "zhang_desimone2011_it"
FILE = "zhang_desimone_7object_it_rasters.npz"


@register_dataset("zhang2011_it", needs_data_root=True, folder=FOLDER,
                  description="Macaque IT, 132 units, 7 objects x 3 positions, spike rasters -500..500 ms (Zhang et al. 2011); no images")
def load_zhang2011(*, bin_start: float = 70.0, bin_stop: float = 260.0, bin_width: float = 10.0,
                   data_root: str | None = None) -> tuple[None, xr.DataArray]:
    """Spike counts per time bin, one presentation per pseudo-trial.

    Returns
    -------
    (None, DataArray (presentation x neuroid x time_bin)) with presentation coords
    ``stimulus_id`` (``"<object>_<position>"``), ``object_name``, ``category`` (= object),
    ``position`` and ``repetition``.
    """
    path = require_data_root(FOLDER, data_root) / FILE
    d = np.load(path, allow_pickle=False)
    spikes, neuron, obj, pos, edges = d["spikes"], d["neuron"], d["stimulus_id"], d["position"], d["bin_edges_ms"]
    starts, ends = make_time_bins(bin_start, bin_stop, bin_width)
    if starts[0] < edges[0] or ends[-1] > edges[-1]:
        raise ValueError(f"bins {starts[0]:g}..{ends[-1]:g} ms exceed the rasters' {edges[0]}..{edges[-1]} ms")
    # cumulative counts: count in [a, b) = cum[b] - cum[a] at 1 ms resolution
    cum = np.concatenate([np.zeros((len(spikes), 1), np.int32), np.cumsum(spikes, axis=1, dtype=np.int32)], axis=1)
    lo = np.searchsorted(edges, starts)
    hi = np.searchsorted(edges, ends)
    counts = (cum[:, hi] - cum[:, lo]).astype(np.float32)  # (trials, bins)
    objects, positions = sorted(set(obj.tolist())), ["upper", "middle", "lower"]
    n_units = len(d["site_name"])
    conds = [(o, p) for o in objects for p in positions]
    n_rep = min(int(np.sum((neuron == u) & (obj == o) & (pos == p))) for u in range(n_units) for o, p in conds)
    values = np.empty((len(conds) * n_rep, n_units, len(starts)), dtype=np.float32)
    for c, (o, p) in enumerate(conds):
        for u in range(n_units):
            rows = np.flatnonzero((neuron == u) & (obj == o) & (pos == p))[:n_rep]
            values[c * n_rep:(c + 1) * n_rep, u] = counts[rows]
    sid = np.repeat([f"{o}_{p}" for o, p in conds], n_rep)
    return None, neural_assembly(
        values, stimulus_id=sid, repetition=np.tile(np.arange(n_rep), len(conds)),
        neuroid_id=[str(s) for s in d["site_name"]], region="IT", time_bin_start=starts, time_bin_end=ends,
        presentation_coords={"object_name": np.repeat([o for o, _ in conds], n_rep),
                             "category": np.repeat([o for o, _ in conds], n_rep),
                             "position": np.repeat([p for _, p in conds], n_rep)},
        neuroid_coords={"animal": "zhang2011", "session": "pseudo-population"},
        attrs={"dataset": "zhang2011_it", "response": "spike counts per time bin", "pseudo_population": True,
               "citation": "Zhang, Meyers, Bichot, Serre, Poggio & Desimone (2011). PNAS 108(21):8850-8855."})
