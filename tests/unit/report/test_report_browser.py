"""report.html in a real browser: headless Chromium renders it without console errors, and
the screenshot is not blank. Skipped (with the reason) only when Chromium is absent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from .conftest import SampleReport, render_page

SCREENSHOT_ENV = "MESHBENCH_SCREENSHOT"
"""Set to a file path to keep the screenshot (e.g. for a closing note)."""


def test_report_renders_in_headless_chromium(
    chromium: str, sample_report: SampleReport, tmp_path: Path
) -> None:
    page = sample_report.run_dir / "report.html"
    shot = tmp_path / "report.png"
    result = render_page(chromium, page.as_uri(), shot)
    assert result.errors == [], result.errors
    assert result.content_height_px > 3000  # tables and seven plots, not an empty page

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape[1] == 1280 and img.shape[0] > 3000
    assert img.std() > 20  # not one flat colour
    dark = (img < 128).mean()
    assert 0.005 < dark < 0.5, dark  # text and lines on a light background
    top = img[:400]
    assert (top < 128).mean() > 0.003  # the title and verdict rendered at the top
    if os.environ.get(SCREENSHOT_ENV):
        shutil.copyfile(shot, os.environ[SCREENSHOT_ENV])


def test_an_error_on_the_page_is_caught(chromium: str, tmp_path: Path) -> None:
    """The harness itself must see console errors, or the test above proves nothing."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!doctype html><html><head><link rel="icon" href="data:,"></head><body>'
        "<p>x</p><script>console.error('boom'); undefinedFunction();</script>"
        "</body></html>"
    )
    result = render_page(chromium, bad.as_uri(), tmp_path / "bad.png")
    assert any("boom" in e for e in result.errors), result.errors
    assert any("undefinedFunction" in e for e in result.errors), result.errors
