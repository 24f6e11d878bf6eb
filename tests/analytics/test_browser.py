"""The HTML report opened in a real headless Chromium: the screenshot shows the charts.

Needs the Debian package ``chromium`` (``make test-slow``; CI installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from orchestrator.analytics import html
from orchestrator.analytics.reader import Log, read_lines
from orchestrator.analytics.report import build
from tests.analytics.population import run

pytestmark = pytest.mark.slow
WIDTH, HEIGHT = 1000, 1400


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_page_renders_its_funnel_and_arm_charts(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "the Debian package chromium is needed for this test"
    sim, _ = run(300)
    log = Log()
    read_lines(log, "sim", sim.log)
    page = tmp_path / "report.html"
    page.write_text(html.page(build(log)), encoding="utf-8")
    assert "http" not in page.read_text().replace('"http://www.w3.org/2000/svg"', "")  # nothing fetched
    shot = tmp_path / "report.png"
    subprocess.run(  # noqa: S603 - a fixed command line
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    pixels = Counter({colour: count for count, colour in image.getcolors(WIDTH * HEIGHT) or []})
    # Bars of the funnel (reached, sent, goal) and of the arms (baseline grey, arms blue) are drawn.
    for colour in (html.COLOURS["reached"], html.COLOURS["sent"], html.COLOURS["goal"]):
        assert pixels[_rgb(colour)] > 500, colour
    assert pixels[(255, 255, 255)] < WIDTH * HEIGHT * 0.95  # not a blank page
