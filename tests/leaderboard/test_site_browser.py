"""The built site in headless Chromium: rows render, sorting reorders, the language switch works.

Needs a Chromium binary (Debian: ``apt-get install chromium``; or set ``$CHROMIUM``); the
browser is driven over ``--remote-debugging-pipe`` with the standard library (``_cdp.py``).
Skipped, with the reason, when no binary is found. The screenshots are written to
``$VBENCH_CN_SCREENSHOTS`` (default: the test's tmp folder) so a person can look at them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _cdp import Browser, find_chromium

pytestmark = pytest.mark.browser

CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip(
        "no chromium binary found (apt-get install chromium, or set $CHROMIUM)",
        allow_module_level=True,
    )

HEADERS_JS = (
    "Array.from(document.querySelectorAll('#{t} thead th'))"
    ".map(h => h.innerText.replace(/[↕▲▼]/g, '').trim())"
)
MODELS_JS = (
    "Array.from(document.querySelectorAll('#{t} tbody tr')).map(r => r.getAttribute('data-model'))"
)
CELLS_JS = (
    "Array.from(document.querySelectorAll('#{t} tbody tr'))"
    ".map(r => r.cells[{i}].getAttribute('data-value'))"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(CHROMIUM, tmp_path_factory.mktemp("chrome-profile")) as b:
        yield b


def _shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VBENCH_CN_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_index_renders_sorts_and_switches_language(built, browser, tmp_path):
    out, subs = built
    browser.navigate((out / "index.html").as_uri())
    shown = set()
    for table in ("computed-table", "reported-table", "other-table"):
        shown |= set(browser.evaluate(MODELS_JS.format(t=table)))
    assert shown == {s["model"] for s in subs}

    # sorting: click "VBench Total" in the reported table, twice
    headers = browser.evaluate(HEADERS_JS.format(t="reported-table"))
    col = headers.index("VBench Total")
    before = browser.evaluate(MODELS_JS.format(t="reported-table"))
    browser.evaluate(f"document.querySelectorAll('#reported-table thead th')[{col}].click()")
    desc = [float(v) for v in browser.evaluate(CELLS_JS.format(t="reported-table", i=col))]
    assert desc == sorted(desc, reverse=True)
    browser.evaluate(f"document.querySelectorAll('#reported-table thead th')[{col}].click()")
    asc_models = browser.evaluate(MODELS_JS.format(t="reported-table"))
    asc = [float(v) for v in browser.evaluate(CELLS_JS.format(t="reported-table", i=col))]
    assert asc == sorted(asc) and asc_models != before and sorted(asc_models) == sorted(before)
    # text column: model names ascending, case-insensitive
    browser.evaluate("document.querySelectorAll('#reported-table thead th')[1].click()")
    names = [n.lower() for n in browser.evaluate(MODELS_JS.format(t="reported-table"))]
    assert names == sorted(names)

    # language switch: headers change to Chinese and back
    assert "Model" in headers
    browser.evaluate("document.getElementById('lang-toggle').click()")
    zh = browser.evaluate(HEADERS_JS.format(t="reported-table"))
    assert "模型" in zh and "Model" not in zh
    assert browser.evaluate("document.documentElement.lang") == "zh-CN"
    browser.screenshot(_shots_dir(tmp_path) / "index-zh.png")
    browser.evaluate("document.getElementById('lang-toggle').click()")
    assert browser.evaluate(HEADERS_JS.format(t="reported-table")) == headers

    shot = browser.screenshot(_shots_dir(tmp_path) / "index-en.png")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert browser.console_errors() == []


def test_lang_query_flag_and_subpages(built, browser, tmp_path):
    out, subs = built
    browser.navigate((out / "index.html").as_uri() + "?lang=zh")
    assert "模型" in browser.evaluate(HEADERS_JS.format(t="computed-table"))
    browser.evaluate(
        "document.getElementById('lang-toggle').click()"
    )  # back to English for the next pages
    model_pages = sorted((out / "models").glob("*.html"))
    for page in (
        model_pages[0],
        model_pages[-1],
        out / "dimensions" / "index.html",
        out / "dimensions" / "subject-consistency.html",
    ):
        browser.navigate(page.as_uri())
        images = browser.evaluate(
            "Array.from(document.images)"
            ".map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
        )
        assert all(ok for _, ok in images), images  # every chart loaded from disk
    browser.navigate((out / "dimensions" / "subject-consistency.html").as_uri())
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1200, "height": 1600, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.screenshot(_shots_dir(tmp_path) / "dimension.png")
    browser.send("Emulation.clearDeviceMetricsOverride")
    assert browser.console_errors() == []
