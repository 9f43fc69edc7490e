"""Results folders and their HTML report.

:mod:`~brainfit.report.provenance` (``provenance.json``: versions, dataset hash),
:mod:`~brainfit.report.results` (:func:`write_comparison`: the tables and figures of a comparison
of models, written into a results folder) and :mod:`~brainfit.report.html` (:func:`write_report`:
one self-contained HTML page summarising a results folder).
"""

from brainfit.report.html import EXPECTED, render_report, write_report
from brainfit.report.provenance import dataset_sha256, provenance
from brainfit.report.results import summary_lines, write_comparison

__all__ = ["EXPECTED", "dataset_sha256", "provenance", "render_report", "summary_lines", "write_comparison", "write_report"]
