"""Our VBench rule recomputes the published Total/Quality/Semantic of every full reported row."""

from __future__ import annotations

from pathlib import Path

import pytest
from _lbhelpers import SECTION_18, section18_specs, shipped_specs

from vbench_cn.aggregation import vbench_totals
from vbench_cn.submissions import load_submissions

REPO = Path(__file__).resolve().parents[2]
TOLERANCE_PERCENT = 0.01


def _full_rows(specs) -> list[dict]:
    subs = load_submissions(REPO / "leaderboard" / "submissions", specs)
    rows = [
        s
        for s in subs
        if s["kind"] == "reported"
        and s.get("published")
        and {d for d, _, _, _, _ in SECTION_18} <= set(s.get("dimensions") or {})
    ]
    assert len(rows) >= 9, [s["model"] for s in rows]
    return rows


def _check(rows, specs) -> None:
    for row in rows:
        norm = {
            d: specs[d].normalize(v["score"]) for d, v in row["dimensions"].items() if d in specs
        }
        got = vbench_totals(norm, specs)
        assert got["complete"], row["model"]
        for part in ("total", "quality", "semantic"):
            assert 100 * got[part] == pytest.approx(
                row["published"][part], abs=TOLERANCE_PERCENT
            ), (row["model"], part)


def test_reported_rows_recomputed_with_section18_specs():
    """Always runs: specs typed in from the §18 table."""
    specs = section18_specs()
    _check(_full_rows(specs), specs)


def test_reported_rows_recomputed_with_shipped_specs():
    """The same check with the spec files of the suite."""
    shipped = shipped_specs()
    _check(_full_rows(shipped), shipped)


def test_shipped_specs_carry_section18_constants():
    """The 16 VBench dimension specs carry §18's bounds, weight and group, and no other
    spec claims a VBench name."""
    shipped = shipped_specs()
    for dim_id, lo, hi, weight, group in SECTION_18:
        s = shipped[dim_id]
        assert (s.normalization, s.weight, s.category) == ((lo, hi), weight, group), dim_id
        assert s.vbench_name, dim_id
    assert {s.id for s in shipped.values() if s.vbench_name} == {d for d, *_ in SECTION_18}


def test_tolerance_is_tight_enough_to_fail():
    """A one-point change in one dimension moves the Total by more than the tolerance."""
    specs = section18_specs()
    row = _full_rows(specs)[0]
    row["dimensions"]["aesthetic_quality"]["score"] -= 0.01
    with pytest.raises(AssertionError):
        _check([row], specs)
