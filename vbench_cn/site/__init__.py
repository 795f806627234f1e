"""The static bilingual leaderboard site (jinja2 templates, matplotlib SVG, vanilla JS)."""

from __future__ import annotations

from vbench_cn.site.build import build_site, build_site_from_run

__all__ = ["build_site", "build_site_from_run"]
