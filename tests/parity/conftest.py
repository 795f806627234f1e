"""Live parity tests (marker ``parity``) run only when asked for: ``pytest -m parity``."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "parity" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(
        reason="live VBench comparison: run `pytest -m parity` or tests/parity/run_live.py"
    )
    for item in items:
        if item.get_closest_marker("parity") is not None:
            item.add_marker(skip)
