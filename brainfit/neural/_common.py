"""Checks shared by the neural-side analyses: a presentation coord by name, the regions present."""

from __future__ import annotations

import numpy as np
import xarray as xr

from brainfit.assembly import PRESENTATION, REGION, select_region


def presentation_coord(neural: xr.DataArray, name: str, role: str) -> np.ndarray:
    """The values (n_presentations,) of presentation coord ``name``; an error naming the coords present."""
    present = sorted(k for k, c in neural.coords.items() if c.dims == (PRESENTATION,))
    if not isinstance(name, str) or name not in present:
        raise ValueError(f"{role} {name!r} is not a presentation coord of neural; presentation coords: {present}")
    return np.asarray(neural.coords[name].values)


def region_names(neural: xr.DataArray) -> list[str | None]:
    """Regions in order of appearance; ``[None]`` (all neuroids as one group) without a ``region`` coord."""
    if REGION not in neural.coords:
        return [None]
    return list(dict.fromkeys(np.asarray(neural.coords[REGION].values).astype(str).tolist()))


def restrict_region(neural: xr.DataArray, region: str | None) -> xr.DataArray:
    """``neural`` itself for ``region=None``, else its neuroids of ``region`` (error listing the regions)."""
    return neural if region is None else select_region(neural, region)
