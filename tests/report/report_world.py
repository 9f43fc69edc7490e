"""A results folder built from real files (PNG figures drawn with matplotlib's Agg canvas, CSV
tables written by pandas, provenance.json from :func:`brainfit.report.provenance`) and a small
HTML parser to read the report back as a browser would (attributes and text unescaped)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from brainfit.report import dataset_sha256, provenance

#: The model label that must be escaped everywhere.
NASTY_LABEL = "<b>&"
#: captions.json order first (b, a), then the figure it does not name (c).
FIGURE_ORDER = ["b_curve.png", "a_bars.png", "c_extra.png"]
CAPTIONS = {"b_curve.png": 'Per-bin <predictivity> & "CI"', "a_bars.png": "Red bars"}
WEIGHTS_SHA = "3f2a9c" * 10 + "beef"  # 64 hex digits
FINGERPRINT = "89626ce4d78bd0ee"


def draw_png(path: Path, kind: str) -> Path:
    """A small real PNG (Figure + Agg canvas, no pyplot state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3), dpi=60)
    ax = fig.subplots()
    x = np.arange(10)
    if kind == "bars":  # pure red fill: the browser test looks for these pixels in its screenshot
        ax.bar(x, x + 1, color=(1.0, 0.0, 0.0))
    elif kind == "curve":
        ax.plot(x, np.sqrt(x), color="tab:blue")
        ax.fill_between(x, np.sqrt(x) - 0.3, np.sqrt(x) + 0.3, alpha=0.3)
    else:
        ax.scatter(x, x[::-1], color="tab:green")
    ax.set_title(kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def leaderboard_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "model": ["convrnn", "convrnn", NASTY_LABEL, NASTY_LABEL],
        "region": ["V4", "IT", "V4", "IT"],
        "window": ["70-170", "70-170", "170-260", "170-260"],
        "score": [0.42345, 0.31271, 0.5, np.nan],
        "ci_low": [0.40071, 0.29, 0.47777, np.nan],
        "ci_high": [0.44439, 0.335, 0.5222, np.nan],
        "p": [3e-5, 0.0123, 1.0, np.nan],
        "n_neuroids": [64, 128, 64, 128],
    })


def small_assembly() -> xr.DataArray:
    rng = np.random.default_rng(0)
    return xr.DataArray(rng.normal(size=(6, 4, 3)), dims=("presentation", "neuroid", "time_bin"),
                        coords={"stimulus_id": ("presentation", [f"im{i}" for i in range(6)])})


def build_results(root: Path) -> Path:
    """Every part of a results folder, from real files."""
    root.mkdir(parents=True, exist_ok=True)
    kinds = {"b_curve.png": "curve", "a_bars.png": "bars", "c_extra.png": "scatter"}
    for name, kind in kinds.items():
        draw_png(root / "figures" / name, kind)
    (root / "figures" / "captions.json").write_text(json.dumps(CAPTIONS))
    leaderboard_frame().to_csv(root / "leaderboard.csv", index=False)
    (root / "comparison").mkdir()
    pd.DataFrame({"time_bin_start": [70, 80, 90], "median_diff": [0.1234, -0.0567, 0.0],
                  "p_fdr": [0.001, 0.5, 0.9]}).to_csv(root / "comparison" / "per_bin.csv", index=False)
    pd.DataFrame({"cluster": np.arange(40), "mass": np.linspace(0, 1, 40)}).to_csv(
        root / "comparison" / "clusters.csv", index=False)
    (root / "comparison" / "README.txt").write_text("how these were made\n")
    pd.DataFrame({"model": ["convrnn"], "median_ceiled": [0.25]}).to_csv(root / "per_bin_scores.csv", index=False)
    (root / "summary.txt").write_text("median ceiled score per bin\n  <script>alert(1)</script> & done\n")
    neural = small_assembly()
    prov = provenance(
        command="brainfit demo --config analyses/demo/demo.yaml",
        dataset={"name": "synthetic", "kwargs": {"n_v4": 4}, "sha256": dataset_sha256(neural), "n_stimuli": 960,
                 "n_neuroids": 192, "regions": ["V4", "IT"]},
        splits={"n_folds": 10, "seed": 0, "stratify": "category", "fingerprint": FINGERPRINT},
        models=[{"name": "convrnn_small_rgc", "label": NASTY_LABEL, "weights": "pretrained",
                 "weights_sha256": WEIGHTS_SHA, "trained_schedule": {"n_steps": 26, "on_steps": 10},
                 "n_steps": 26, "on_steps": 10, "temporal_map": {"kind": "one_to_one", "latency_ms": 0.0},
                 "params": 123456, "layers_selected": {"V4": ["conv3"], "IT": ["conv5"]}},
                {"name": "ff_small_wider_rgc", "label": "feedforward", "weights": "random", "weights_sha256": None,
                 "trained_schedule": None, "temporal_map": {"kind": "constant"}, "params": 120000}],
        settings={"mapping": "ridge", "alphas": [0.01, 1.0, 1e10], "n_bootstrap": 500, "n_permutations": 1000,
                  "windows": {"early": [70, 170], "late": [170, 260]}},
        extra_key={"note": "kept <as> given"},
    )
    (root / "provenance.json").write_text(json.dumps(prov, indent=2))
    return root


class Page(HTMLParser):
    """What a browser would see: element attributes, texts per element kind, table cells, and the
    (term, definition) pairs of definition lists (nested ones included)."""

    TEXT_TAGS = {"title", "h1", "h2", "h3", "pre", "figcaption", "summary", "dt", "dd", "p", "details"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.starts: list[tuple[str, dict]] = []
        self.texts: dict[str, list[str]] = {}
        self.tables: list[dict] = []  # {"source": ..., "rows": [[cell text, ...], ...], "in_details": bool}
        self._open: list[tuple[str, list[str]]] = []
        self._tables: list[dict] = []
        self._cells: list[list[str]] = []
        self._details = 0
        self.pairs: list[tuple[str, str]] = []
        self._terms: list[str] = []  # the last <dt> of each open <dl>
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.starts.append((tag, a))
        if tag in self.TEXT_TAGS:
            self._open.append((tag, []))
        self._details += tag == "details"
        if tag == "dl":
            self._terms.append("")
        if tag == "table":
            t = {"source": a.get("data-source"), "rows": [], "in_details": self._details > 0}
            self.tables.append(t)
            self._tables.append(t)
        elif tag == "tr" and self._tables:
            self._tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self._tables:
            self._cells.append([])

    def handle_endtag(self, tag):
        if tag in self.TEXT_TAGS and self._open and self._open[-1][0] == tag:
            _, parts = self._open.pop()
            text = "".join(parts).strip()
            self.texts.setdefault(tag, []).append(text)
            if tag == "dt" and self._terms:
                self._terms[-1] = text
            elif tag == "dd" and self._terms:
                self.pairs.append((self._terms[-1], text))
        if tag == "dl" and self._terms:
            self._terms.pop()
        self._details -= tag == "details"
        if tag == "table" and self._tables:
            self._tables.pop()
        elif tag in ("td", "th") and self._cells:
            self._tables[-1]["rows"][-1].append("".join(self._cells.pop()).strip())

    def handle_data(self, data):
        for _, parts in self._open:
            parts.append(data)
        for cell in self._cells:
            cell.append(data)

    def elements(self, tag: str) -> list[dict]:
        return [a for t, a in self.starts if t == tag]

    def table(self, source: str) -> dict:
        (t,) = [t for t in self.tables if t["source"] == source]
        return t
