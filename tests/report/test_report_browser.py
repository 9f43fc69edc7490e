"""The report in a real headless browser (Chromium): every embedded figure decodes, and the page
renders to a non-blank screenshot with the figures' pixels in it. Skips when no Chromium is found."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from report_world import FIGURE_ORDER, Page

from brainfit.report import write_report

pytestmark = pytest.mark.slow


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium binary on PATH ('chromium' or 'chromium-browser'; Debian: apt-get install chromium)")


def run_chromium(page: Path, *args: str, profile: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Headless Chromium on ``file://page`` with ``args`` (its own profile folder, no sandbox: tests
    run as root in containers); fails the test with the browser's stderr when it exits non-zero."""
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def figure_counts(html_path: Path, profile: Path) -> tuple[int, int]:
    """(data-figures-total, data-figures-loaded) that the page's load handler wrote on <body>."""
    dom = run_chromium(html_path, "--dump-dom", profile=profile).stdout
    (body,) = Page(dom).elements("body")
    assert "data-figures-total" in body, f"the load handler did not run; <body> attrs: {body}"
    return int(body["data-figures-total"]), int(body["data-figures-loaded"])


def test_every_figure_loads_in_the_browser(results_dir, tmp_path):
    page = write_report(results_dir)
    assert figure_counts(page, tmp_path / "profile") == (len(FIGURE_ORDER), len(FIGURE_ORDER))


def test_a_broken_figure_is_counted_as_not_loaded(results_dir, tmp_path):
    (results_dir / "figures" / "zz_broken.png").write_bytes(b"\x89PNG but not really")
    page = write_report(results_dir)
    assert figure_counts(page, tmp_path / "profile") == (len(FIGURE_ORDER) + 1, len(FIGURE_ORDER))


def test_screenshot_shows_the_page_and_its_figures(results_dir, tmp_path):
    from PIL import Image

    page = write_report(results_dir)
    shot = tmp_path / "report.png"
    run_chromium(page, f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars",
                 profile=tmp_path / "profile")
    assert shot.is_file() and shot.stat().st_size > 0
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert rgb.shape == (4000, 1280, 3)
    assert rgb.var() > 0
    # the bars figure is pure red (matplotlib draws (1, 0, 0) as 255, 0, 0): its pixels must be on screen
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
    assert red.sum() > 1000, f"only {red.sum()} red pixels: the bars figure did not render"
