"""Fixtures of the text tests: a CJK font (skip with the reason when absent) and one OCR model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cjk_font() -> Path:
    """A font covering Chinese; the test is skipped, saying how to get one, when none is found."""
    from vbench_cn.synthetic_text import CJK_FONT_ENV, find_cjk_font

    font = find_cjk_font()
    if font is None:
        pytest.skip(
            f"no CJK font found: apt-get install -y fonts-noto-cjk (or set ${CJK_FONT_ENV})"
        )
    return font


@pytest.fixture(scope="session")
def ocr():  # noqa: ANN201
    """The real rapidocr extractor on the CPU (PP-OCRv4 weights from the wheel), built once."""
    from vbench_cn.features import ExtractorOptions, build_extractor

    return build_extractor("rapidocr", ExtractorOptions())
