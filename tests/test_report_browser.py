"""The report as a person sees it: headless Chromium opens results/report.html (of the tiny
study), and the test fails on JavaScript/console errors, on any image that does not decode,
or on a page wider than a phone's screen; it saves a full-page screenshot."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=10000"]

# Injected into a copy of the report: records errors and, after load, what the page shows.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.target.src)), true);
const __ce = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); __ce(...a); };
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt);
  const top = e => e.getBoundingClientRect().top + window.scrollY;
  const starts = [...document.querySelectorAll('h2[id^="changes"], #across, #appendices')];
  document.documentElement.setAttribute('data-probe', JSON.stringify({
    images: imgs.length, bad: bad, errors: window.__errors,
    parts: starts.slice(0, -1).map((e, i) => [e.id, top(starts[i + 1]) - top(e)]),
    open: document.querySelectorAll('details[open]').length,
    height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth,
    viewport: document.documentElement.clientWidth}));
});
</script>"""

if not CHROMIUM and os.environ.get("CI"):
    raise RuntimeError("CI needs Chromium for the report test: apt-get install chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed "
                                "(apt-get install chromium)")


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)


def probe(page: Path, profile: Path, width: int) -> dict:
    dom = chromium(profile, f"--window-size={width},900", "--dump-dom", page.as_uri()).stdout
    found = re.search(r"data-probe=\"([^\"]*)\"", dom)
    assert found, f"the page did not finish loading: {dom[:500]}"
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.fixture(scope="module")
def page(tiny_study, tmp_path_factory):
    copy = tmp_path_factory.mktemp("browser") / "report.html"
    html = (tiny_study / "report.html").read_text()
    copy.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    return copy


def test_report_loads_without_errors_and_every_image_decodes(page, tmp_path):
    result = probe(page, tmp_path / "profile", width=1280)
    assert result["errors"] == []
    assert result["images"] > 50 and result["bad"] == []


def test_each_part_reads_in_a_few_screens_with_its_evidence_folded(page, tmp_path):
    """At 1280 px, every details closed: each dataset's part (the answer, design, results,
    pictures) and the section across datasets end within 12,000 px (issue 32; before, the
    default report was 30,700 px tall); the appendices follow."""
    result = probe(page, tmp_path / "profile", width=1280)
    assert result["open"] == 0
    names = [name for name, _ in result["parts"]]
    assert names[0].startswith("changes") and len(names) >= 1
    assert all(height <= 12_000 for _, height in result["parts"]), result["parts"]


def test_report_fits_a_phone_screen(page, tmp_path):
    # Headless Chromium keeps a window at least ~500 px wide: a narrow viewport all the same.
    result = probe(page, tmp_path / "profile", width=390)
    assert result["viewport"] <= 520
    assert result["width"] <= result["viewport"], "the page scrolls sideways on a phone"


def test_full_page_screenshot(page, tmp_path):
    height = probe(page, tmp_path / "profile", width=1280)["height"]
    shot = page.parent / "report.png"
    chromium(tmp_path / "profile2", f"--window-size=1280,{min(height, 16000)}",
             f"--screenshot={shot}", page.as_uri())
    import imageio.v3 as iio

    pixels = iio.imread(shot)[..., :3]  # [H, W, 3]: what a person sees, not only a file
    assert pixels.shape[:2] == (min(height, 16000), 1280)
    ink = (pixels < 200).any(axis=-1)  # text, plots, pictures and rules against the white page
    assert 0.02 < ink.mean() < 0.9, ink.mean()
    rows = ink.any(axis=1)  # the page is drawn top to bottom, not blank below the first screen
    assert rows[: len(rows) // 2].mean() > 0.3 and rows[len(rows) // 2:].mean() > 0.3
