"""Fixtures of the leaderboard tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[Path, list[dict]]:
    """One full site build (shipped submissions + two computed rows).

    Shared by the tests that only read it: the charts make a build take seconds.
    """
    from test_site_build import all_submissions, site_specs

    from vbench_cn.site import build_site

    out = tmp_path_factory.mktemp("site")
    subs = all_submissions()
    build_site(subs, site_specs(), out)
    return out, subs
