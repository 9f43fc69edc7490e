"""Leaderboard dot plot: one score with its confidence interval per model (and region/window)."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainfit.plots._base import _axes

__all__ = ["plot_leaderboard", "LEADERBOARD_COLUMNS"]

LEADERBOARD_COLUMNS = ("model", "region", "window", "score", "ci_low", "ci_high")
_SPREAD = 0.7  # total vertical extent of a model's offset group, in model rows


def _filtered(table: Any, region: str | None, window: Any) -> Any:
    """Check the tidy table and keep the rows of ``region``/``window`` (when given)."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame with columns {list(LEADERBOARD_COLUMNS)}, got "
                         f"{type(table).__name__}")
    missing = [c for c in LEADERBOARD_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}; a leaderboard needs {list(LEADERBOARD_COLUMNS)}")
    t = table
    for col, want in (("region", region), ("window", window)):
        if want is None:
            continue
        keep = t[col].astype(str) == str(want)
        if not keep.any():
            raise ValueError(f"{col} {want!r} not in table; {col}s: {sorted(t[col].astype(str).unique().tolist())}")
        t = t[keep]
    if t.empty:
        raise ValueError("table has no rows")
    dup = t.duplicated(["model", "region", "window"])
    if dup.any():
        rows = t.loc[dup, ["model", "region", "window"]].astype(str).values.tolist()[:3]
        raise ValueError(f"table has more than one row per (model, region, window), e.g. {rows}")
    # rows without a score (no reliable neuroid in the window) are left out of the figure; a
    # percentile CI need not contain its point estimate (skewed resampling distribution), so the
    # whiskers are drawn as given
    t = t[np.isfinite(t["score"].to_numpy(float))]
    if t.empty:
        raise ValueError("table has no row with a finite score")
    return t


def plot_leaderboard(table: Any, *, region: str | None = None, window: Any = None, ax: Any = None) -> Any:
    """Dot plot of model scores with CI whiskers, models sorted by score (best on top).

    Parameters
    ----------
    table : pandas DataFrame
        Tidy: columns ``model``, ``region``, ``window``, ``score``, ``ci_low``, ``ci_high``, one
        row per model x region x window (a NaN bound draws no whisker on that side; rows
        without a finite score are left out).
    region, window : optional
        Keep only these rows (compared as strings).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Model names on the y axis, in ascending order of their score (mean over the remaining
        region/window groups) from the bottom; one errorbar container per group, offset
        vertically with its own colour and a legend entry when several groups remain.

    Raises
    ------
    ValueError
        Naming a missing column, an unknown region/window, duplicate rows, or no finite score.
    """
    t = _filtered(table, region, window)
    t = t.assign(model=t["model"].astype(str), region=t["region"].astype(str), window=t["window"].astype(str))
    order = t.groupby("model", sort=False)["score"].mean().sort_values(kind="stable").index.tolist()
    ypos = {m: i for i, m in enumerate(order)}
    groups = list(dict.fromkeys(zip(t["region"], t["window"])))
    several_r = len({g[0] for g in groups}) > 1
    several_w = len({g[1] for g in groups}) > 1
    ax = _axes(ax, (5.5, max(2.0, 0.35 * len(order) + 1.2)))
    n_g = len(groups)
    for k, (reg, win) in enumerate(groups):
        rows = t[(t["region"] == reg) & (t["window"] == win)]
        y = np.array([ypos[m] for m in rows["model"]], float) + (k - (n_g - 1) / 2) * (_SPREAD / max(n_g, 1))
        s = rows["score"].to_numpy(float)
        err = np.vstack([s - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - s])
        label = ", ".join([reg] * several_r + [win] * several_w) or f"{reg}, {win}"
        # a percentile CI can exclude its point estimate; the whisker is then widened to reach it
        ax.errorbar(s, y, xerr=np.clip(np.nan_to_num(err, nan=0.0), 0.0, None), fmt="o", ms=5, capsize=3,
                    color=f"C{k % 10}", label=label)
    ax.axvline(0.0, color="0.6", lw=0.8)
    ax.set_yticks(np.arange(len(order)), order)
    ax.set_ylim(-0.5 - _SPREAD / 2, len(order) - 0.5 + _SPREAD / 2)
    ax.set_xlabel("score (CI)")
    if n_g > 1:
        ax.legend(fontsize=7, frameon=False, loc="best")
    else:
        ax.set_title(f"{groups[0][0]}, {groups[0][1]}", fontsize=10)
    return ax
