"""The HTML report of a results folder: ONE self-contained page (figures as base64 ``data:`` URIs,
inline CSS, a tiny inline script, nothing fetched) with, in order: a title line, the summary, the
leaderboard, the figures, the statistics tables, the score files, the settings, the provenance.

A results folder may hold any of these (each is optional; a folder with none is refused)::

    provenance.json          settings and provenance (:func:`provenance` fills versions and time)
    summary.txt              plain-text summary
    leaderboard.csv / .md    model x region x window table with CIs (the CSV when both exist)
    comparison/*.csv, *.csv  statistics tables (per bin, clusters, ...) and any other table
    figures/*.png            figures; figures/captions.json {"file.png": "caption"} gives captions and
                             order (figures it does not name follow by name); top-level *.png last
    scores/*.nc              score Datasets (only their sizes and key attrs are read)

A part that cannot be read (bad JSON, a damaged CSV or netCDF file) becomes a note in its section,
not an error: the report is also how one looks at a half-finished or broken run. The HTML is
written by hand (no template engine, not ``DataFrame.to_html``): the tables need per-column number
formats, row caps and collapsing that the pandas writer lacks. All text goes through
:func:`html.escape`; the page is pure ASCII (other characters become character references).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainfit import __version__
from brainfit._io import atomic_write_text, read_netcdf_attrs

__all__ = ["write_report", "render_report", "EXPECTED"]

log = logging.getLogger(__name__)

#: What a results folder may hold; the error for a folder with none of them lists these.
EXPECTED = ("provenance.json", "summary.txt", "leaderboard.csv", "leaderboard.md", "comparison/*.csv", "*.csv",
            "figures/*.png", "*.png", "scores/*.nc")
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_COLLAPSE_ROWS = 25  # longer tables are collapsed in <details>
_MAX_ROWS = 2000  # longer tables are cut (the file has every row); keeps the page loadable
_HASH = re.compile(r"[0-9a-fA-F]{16,}")
#: Leading columns of tables of records (models in provenance.json, score files), when present.
_LEAD = ("file", "kB", "sizes", "problem", "name", "label", "weights", "weights_sha256", "params", "n_steps",
         "on_steps", "trained_schedule", "temporal_map", "layers_selected")
_SCORE_ATTRS = ("mapping", "temporal_map", "splits", "layer_selection", "n_bootstrap", "brainfit_version")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


# ----------------------------------------------------------------------------- reading the folder


@dataclass
class _Results:
    root: Path
    provenance: dict | None = None
    summary: str | None = None
    leaderboard: pd.DataFrame | None = None
    leaderboard_md: str | None = None
    figures: list[tuple[Path, str]] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame | None, str | None]] = field(default_factory=list)  # (name, df, error)
    other_files: list[str] = field(default_factory=list)
    scores: list[Path] = field(default_factory=list)
    # section id -> problems; a damaged known file is noted, and still makes the folder a results folder
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, section: str, text: str) -> None:
        log.warning("%s", text)
        self.notes.setdefault(section, []).append(text)


def _read_csv(path: Path) -> tuple[pd.DataFrame | None, str | None]:
    try:
        return pd.read_csv(path), None
    except (ValueError, OSError) as err:  # empty, malformed, not UTF-8, unreadable
        return None, f"{path.name} could not be read ({type(err).__name__}: {err})"


def _read_text(res: _Results, path: Path, section: str) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        res.note(section, f"{path.name} could not be read ({type(err).__name__}: {err})")
        return None


def _read_object(res: _Results, path: Path, section: str) -> dict | None:
    """A JSON object from ``path``; ``None`` (with a note when the file is there) otherwise."""
    text = _read_text(res, path, section) if path.is_file() else None
    try:
        data = None if text is None else json.loads(text)
    except ValueError as err:
        res.note(section, f"{path.name} is not valid JSON ({err}); ignored")
        return None
    if data is not None and not isinstance(data, dict):
        res.note(section, f"{path.name} holds a JSON {type(data).__name__}, not an object; ignored")
        return None
    return data


def _read(root: Path) -> _Results:
    res = _Results(root)
    res.provenance = _read_object(res, root / "provenance.json", "provenance")
    if (root / "summary.txt").is_file():
        res.summary = _read_text(res, root / "summary.txt", "summary")
    if (root / "leaderboard.csv").is_file():
        res.leaderboard, error = _read_csv(root / "leaderboard.csv")
        if error:
            res.note("leaderboard", error)
    elif (root / "leaderboard.md").is_file():
        res.leaderboard_md = _read_text(res, root / "leaderboard.md", "leaderboard")
    _read_figures(res)
    comparison = root / "comparison"
    if comparison.is_dir():
        for p in sorted(comparison.iterdir()):
            if p.is_file() and p.suffix.lower() == ".csv":
                res.tables.append((f"comparison/{p.name}", *_read_csv(p)))
            elif p.is_file() and not p.name.startswith("."):
                res.other_files.append(f"comparison/{p.name}")
    for p in sorted(root.glob("*.csv")):
        if p.is_file() and p.name != "leaderboard.csv":
            res.tables.append((p.name, *_read_csv(p)))
    if (root / "scores").is_dir():
        res.scores = sorted(p for p in (root / "scores").glob("*.nc") if p.is_file())
    return res


def _read_figures(res: _Results) -> None:
    folder = res.root / "figures"
    data = _read_object(res, folder / "captions.json", "figures") or {}
    captions = {str(k): "" if v is None else str(v) for k, v in data.items()}
    images = {p.name: p for p in (sorted(folder.iterdir()) if folder.is_dir() else [])
              if p.is_file() and p.suffix.lower() in _IMAGE_TYPES}
    for name, caption in captions.items():
        if name in images:
            res.figures.append((images.pop(name), caption))
        else:
            res.note("figures", f"figures/captions.json names {name!r}, which is not in figures/")
    res.figures += [(p, "") for p in images.values()]
    res.figures += [(p, "") for p in sorted(res.root.iterdir())
                    if p.is_file() and p.suffix.lower() in _IMAGE_TYPES]


_NONE = '<span class="none">&mdash;</span>'


def _number(x: Any, digits: int | None = None) -> str:
    """A number as text: ``digits`` decimals (tiny non-zero values in e-notation so they do not
    read as 0), or Python's shortest round-trip form when ``digits`` is None."""
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return _NONE
    if digits is None or math.isinf(x):
        return _e(repr(x))
    if x != 0 and abs(x) < 0.5 * 10.0**-digits:
        return f"{x:.1e}"
    return f"{x:.{digits}f}"


def _text(s: str) -> str:
    return f'<code class="hash">{_e(s)}</code>' if _HASH.fullmatch(s) else _e(s)


def _value(v: Any, depth: int = 0) -> str:
    """Any JSON-like value as HTML: mappings as definition lists, lists of records as tables."""
    if v is None:
        return _NONE
    if isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)):
        return _number(v)
    if isinstance(v, str):
        return _text(v)
    if depth > 6:
        return f"<code>{_e(json.dumps(v, default=str))}</code>"
    if isinstance(v, Mapping):
        return _dl(v, depth + 1) if v else '<span class="none">(empty)</span>'
    if isinstance(v, (list, tuple)):
        if not v:
            return '<span class="none">(empty)</span>'
        if all(x is None or isinstance(x, (str, bool, int, float)) for x in v):
            return ", ".join(_value(x, depth + 1) for x in v)
        if all(isinstance(x, Mapping) for x in v):
            return _records(v, depth + 1)
        return "<ol>" + "".join(f"<li>{_value(x, depth + 1)}</li>" for x in v) + "</ol>"
    return _e(repr(v))


def _dl(d: Mapping, depth: int = 0) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_value(v, depth)}</dd>" for k, v in d.items())
    return f"<dl>{items}</dl>"


def _records(rows: Sequence[Mapping], depth: int = 0) -> str:
    """A list of mappings as a table; ``_LEAD`` columns (when present) first, the rest in order seen."""
    seen = dict.fromkeys(k for row in rows for k in row)
    columns = [c for c in _LEAD if c in seen] + [c for c in seen if c not in _LEAD]
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_value(row.get(c), depth)}</td>" for c in columns) + "</tr>"
                   for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _column_formatter(s: pd.Series):
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
        return lambda v: _NONE if pd.isna(v) else _number(v)
    if pd.api.types.is_float_dtype(s):
        finite = s.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        whole = finite.size > 0 and bool(np.all(finite == np.round(finite))) and bool(np.all(np.abs(finite) < 1e15))
        return lambda v: _NONE if pd.isna(v) else _number(v, 0 if whole else 3)
    return lambda v: _NONE if pd.isna(v) else _text(str(v))


def _table(df: pd.DataFrame, name: str) -> str:
    """A DataFrame as an HTML table (floats to 3 decimals; columns of whole numbers without
    decimals), collapsed in <details> past ``_COLLAPSE_ROWS`` rows and cut at ``_MAX_ROWS``."""
    n = len(df)
    shown = df.iloc[:_MAX_ROWS]
    formats = [_column_formatter(df[c]) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    attr = [' class="num"' if num else "" for num in numeric]
    head = "".join(f"<th{a}>{_e(c)}</th>" for c, a in zip(df.columns, attr))
    rows = []
    for values in shown.itertuples(index=False, name=None):
        cells = "".join(f"<td{a}>{fmt(v)}</td>" for v, fmt, a in zip(values, formats, attr))
        rows.append(f"<tr>{cells}</tr>")
    table = (f'<div class="scroll"><table data-source="{_e(name)}"><thead><tr>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table></div>')
    if n > _MAX_ROWS:
        table += f'<p class="note">first {_MAX_ROWS} of {n} rows shown; {_e(name)} has them all.</p>'
    shape = f"{n} row{'s' * (n != 1)} &times; {df.shape[1]} column{'s' * (df.shape[1] != 1)}"
    if n > _COLLAPSE_ROWS:
        return f"<details><summary>{shape} (click to expand)</summary>{table}</details>"
    return f'<p class="source"><code>{_e(name)}</code> ({shape})</p>{table}'


def _notes(res: _Results, section: str) -> str:
    return "".join(f'<p class="note warn">{_e(t)}</p>' for t in res.notes.get(section, []))


def _missing(what: str) -> str:
    return f'<p class="none">{_e(what)}</p>'


def _lede(res: _Results) -> str:
    prov = res.provenance or {}
    parts = []
    ds = prov.get("dataset")
    if isinstance(ds, Mapping) and ds:
        detail = [f"{ds[k]} {word}" for k, word in (("n_stimuli", "stimuli"), ("n_neuroids", "neuroids"))
                  if ds.get(k) is not None]
        regions = ds.get("regions") if isinstance(ds.get("regions"), (list, tuple)) else None
        detail += [", ".join(map(str, regions))] if regions else []
        parts.append(f"dataset {ds.get('name', '(unnamed)')}" + (f" ({'; '.join(detail)})" if detail else ""))
    models = prov.get("models")
    if isinstance(models, list) and models:
        labels = [str(m.get("label") or m.get("name") or "?") if isinstance(m, Mapping) else str(m) for m in models]
        parts.append(f"{len(models)} model{'s' * (len(models) != 1)}: " + ", ".join(labels))
    elif res.leaderboard is not None and "model" in res.leaderboard.columns:
        k = res.leaderboard["model"].nunique()
        parts.append(f"{k} model{'s' * (k != 1)} (from the leaderboard)")
    if not parts:
        parts.append("dataset and models not recorded (no provenance.json)")
    if prov.get("created"):
        parts.append(f"created {prov['created']}")
    parts.append(f"{len(res.figures)} figure{'s' * (len(res.figures) != 1)}")
    return '<p class="lede">' + " &middot; ".join(_e(p) for p in parts) + "</p>"


def _summary(res: _Results) -> str:
    return f"<pre>{_e(res.summary)}</pre>" if res.summary is not None else _missing("no summary.txt")


def _leaderboard(res: _Results) -> str:
    if res.leaderboard is not None:
        return _notes(res, "leaderboard") + _table(res.leaderboard, "leaderboard.csv")
    if res.leaderboard_md is not None:
        return f'<p class="source"><code>leaderboard.md</code></p><pre>{_e(res.leaderboard_md)}</pre>'
    return _notes(res, "leaderboard") + _missing("no leaderboard.csv or leaderboard.md")


def _figures(res: _Results) -> str:
    out = [_notes(res, "figures")]
    for i, (path, caption) in enumerate(res.figures):
        name = path.relative_to(res.root).as_posix()
        try:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
        except OSError as err:
            out.append(f'<p class="note warn">{_e(name)} could not be read ({_e(err)})</p>')
            continue
        uri = f"data:{_IMAGE_TYPES[path.suffix.lower()]};base64,{data}"
        label = caption or name
        out.append(f'<figure id="figure-{i + 1}"><img src="{uri}" alt="{_e(label)}" data-file="{_e(name)}">'
                   f'<figcaption><span class="fignum">Figure {i + 1}.</span> {_e(caption)} '
                   f'<code>{_e(name)}</code></figcaption></figure>')
    if not res.figures:
        out.append(_missing("no figures (figures/*.png)"))
    return "".join(out)


def _statistics(res: _Results) -> str:
    out = []
    for name, df, error in res.tables:
        out.append(f"<h3>{_e(name)}</h3>")
        out.append(f'<p class="note warn">{_e(error)}</p>' if df is None else _table(df, name))
    if res.other_files:
        out.append('<p class="source">other files: ' + ", ".join(f"<code>{_e(f)}</code>" for f in res.other_files)
                   + "</p>")
    return "".join(out) or _missing("no statistics tables (comparison/*.csv, *.csv)")


def _score_files(res: _Results) -> str:
    if not res.scores:
        return _missing("no score files (scores/*.nc)")
    import xarray as xr

    rows = []
    for path in res.scores:
        row: dict[str, Any] = {"file": f"scores/{path.name}", "kB": round(path.stat().st_size / 1024)}
        try:
            with xr.open_dataset(path, engine="h5netcdf") as ds:  # lazy: only the header is read
                attrs = read_netcdf_attrs(ds).attrs
                row["sizes"] = ", ".join(f"{k}={v}" for k, v in ds.sizes.items())
            for key in _SCORE_ATTRS:
                value = attrs.get(key)
                if isinstance(value, Mapping):  # the identifying field of splits / temporal_map
                    value = value.get("fingerprint", value.get("kind", value))
                row[key] = value
        except Exception as err:  # noqa: BLE001 -- any unreadable file is a row, not a failed report
            row["problem"] = f"unreadable ({type(err).__name__}: {err})"
        rows.append(row)
    return _records(rows)


def _settings(res: _Results) -> str:
    settings = (res.provenance or {}).get("settings")
    return _missing("no settings recorded (in provenance.json)") if settings is None else _value(settings)


def _provenance(res: _Results) -> str:
    prov = res.provenance
    if prov is None:
        return _notes(res, "provenance") + _missing("no provenance.json")
    out = [_notes(res, "provenance"), _dl({k: prov[k] for k in ("created", "command") if k in prov})]
    # a list of models becomes a table (one row per model, _LEAD columns first)
    out += [f"<h3>{key.capitalize()}</h3>{_value(prov[key])}" for key in ("versions", "dataset", "splits", "models")
            if key in prov]
    rest = {k: v for k, v in prov.items() if k not in {"created", "command", "versions", "dataset", "splits",
                                                        "models", "settings"}}
    return "".join(out) + (f"<h3>Other</h3>{_dl(rest)}" if rest else "")


_CSS = """body{font:15px/1.45 system-ui,sans-serif;color:#1d2330;max-width:1180px;margin:0 auto;padding:1.5em 2em 4em}
h1{font-size:1.7em;margin:.2em 0}h2{border-bottom:2px solid #dfe3ea;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin:1.4em 0 .4em}.lede{color:#4a5568;margin-top:0}nav a{margin-right:1em;color:#2b6cb0}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:.8em;overflow:auto;font-size:.85em;line-height:1.35}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.86em;margin:.4em 0}th{background:#eef1f6}
th,td{border:1px solid #dfe3ea;padding:.22em .6em;text-align:left;vertical-align:top}
tbody tr:nth-child(even){background:#f8f9fb}.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.2em 0;padding:.6em;border:1px solid #e6e9ef}figure img{max-width:100%;display:block;margin:auto}
figcaption{font-size:.9em;margin-top:.4em}.fignum{font-weight:600}code.hash{overflow-wrap:anywhere;color:#6b4fbb}
dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.3em 0}dt{font-weight:600}dd{margin:0}
summary{cursor:pointer}.none{color:#8a94a6;font-style:italic}.warn{color:#9c4221}.note,.source{font-size:.88em}
footer{margin-top:3em;font-size:.8em;color:#8a94a6}"""

# After load, count the images the browser could decode (a broken data URI is complete but has
# naturalWidth 0) and record the counts on <body> for headless checks.
_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.getElementsByTagName("img"), n = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) { n++; } }
  document.body.setAttribute("data-figures-total", String(imgs.length));
  document.body.setAttribute("data-figures-loaded", String(n));
});
"""

_SECTIONS = (("summary", "Summary", _summary), ("leaderboard", "Leaderboard", _leaderboard),
             ("figures", "Figures", _figures), ("statistics", "Statistics tables", _statistics),
             ("scores", "Score files", _score_files), ("settings", "Settings", _settings),
             ("provenance", "Provenance", _provenance))


# ----------------------------------------------------------------------------- public API


def render_report(results_dir: str | Path, *, title: str | None = None) -> str:
    """The HTML page (one self-contained ASCII string) summarising the results folder
    ``results_dir`` (see the module docstring for what it may hold); ``title`` defaults to
    ``"brainfit report: <folder name>"``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        When ``results_dir`` does not exist or is not a folder.
    ValueError
        When the folder holds nothing a report is made of (naming what was expected).
    """
    root = Path(results_dir)
    if not root.exists():
        raise FileNotFoundError(f"results folder not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder (expected a results folder)")
    res = _read(root)
    if not any([res.provenance, res.summary is not None, res.leaderboard is not None, res.leaderboard_md,
                res.figures, res.tables, res.scores, res.notes]):
        raise ValueError(f"{root}: nothing to report; expected any of {', '.join(EXPECTED)}")
    title = title or f"brainfit report: {root.resolve().name}"
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in _SECTIONS)
    sections = "".join(f'<section id="{sid}"><h2>{_e(name)}</h2>{render(res)}</section>'
                       for sid, name, render in _SECTIONS)
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
            f"<body><header><h1>{_e(title)}</h1>{_lede(res)}<nav>{nav}</nav></header>\n{sections}\n"
            f"<footer>brainfit {_e(__version__)} report of <code>{_e(root.resolve())}</code></footer>"
            f"<script>{_SCRIPT}</script></body></html>\n")
    return page.encode("ascii", "xmlcharrefreplace").decode("ascii")


def write_report(results_dir: str | Path, out: str | Path | None = None, *, title: str | None = None) -> Path:
    """Write the HTML report of ``results_dir`` (:func:`render_report`) atomically to ``out``
    (default ``results_dir/report.html``) and return its path."""
    page = render_report(results_dir, title=title)
    path = Path(out) if out is not None else Path(results_dir) / "report.html"
    atomic_write_text(path, page)
    log.info("report written to %s (%d kB)", path, len(page) // 1024)
    return path
