"""Fidelity tests: ``slow`` and ``parity`` ones run only when asked for.

``slow``: the 1-billion-parameter ViT-g, the full ``fidelity`` category end to end
(``pytest -m slow``); ``parity``: against cd-fvd (``pytest -m parity``).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = config.getoption("-m") or ""
    for item in items:
        if "tests/fidelity/" not in item.nodeid.replace("\\", "/"):
            continue  # the suite-wide rule for other folders lives in tests/conftest.py
        for marker, reason in (
            ("slow", "slow: ViT-g / full fidelity run on CPU; run `pytest -m slow`"),
            ("parity", "parity with cd-fvd (pip install --no-deps cd-fvd); run `pytest -m parity`"),
        ):
            if item.get_closest_marker(marker) is not None and marker not in asked:
                item.add_marker(pytest.mark.skip(reason=reason))
