"""The Control category in aggregation, submissions and the site, with Boximator's reported row
shown apart and marked as another benchmark's own measurement."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from vbench_cn.aggregation import CATEGORY_ROWS, aggregate
from vbench_cn.results import make_record
from vbench_cn.site.build import build_site
from vbench_cn.specs import load_specs, select_specs
from vbench_cn.submissions import load_submissions, make_submission, validate_submission

ROOT = Path(__file__).resolve().parents[2]
CONTROL = ("box_alignment", "box_alignment_ap50", "box_alignment_iou", "box_found")


def _records(model: str, box: float, motion: float) -> list[dict]:
    out = []
    for p in range(12):
        pid = f"mc-{p + 1:04d}"
        wobble = 0.05 * ((p % 3) - 1)
        for dim, value in (*((d, box + wobble) for d in CONTROL), ("motion_direction", motion)):
            out.append(
                dict(
                    make_record(
                        model=model,
                        video=f"{model}/{pid}-0.mp4",
                        prompt_id=pid,
                        sample=0,
                        dimension=dim,
                        score=max(0.0, min(1.0, value + wobble)),
                        weights="owlv2_b16@0123456789ab",
                    )
                )
            )
    return out


@pytest.fixture(scope="module")
def result():
    specs = load_specs()
    records = _records("boxed", 0.6, 0.8) + _records("text-only", 0.1, 0.7)
    return aggregate(records, specs, num_resamples=300)


def test_control_is_a_category_with_a_bootstrap_interval(result) -> None:
    assert "control" in CATEGORY_ROWS
    cats = result.categories.set_index(["model", "category"])
    boxed = cats.loc[("boxed", "control")]
    # weights: box_alignment 1, motion_direction 1, the three others 0
    assert boxed["score"] == pytest.approx((0.6 + 0.8) / 2, abs=1e-9)
    assert boxed["ci_low"] < boxed["score"] < boxed["ci_high"]
    assert boxed["n_dimensions"] == 2
    assert cats.loc[("text-only", "control")]["score"] == pytest.approx((0.1 + 0.7) / 2, abs=1e-9)
    dims = result.dimensions.set_index(["model", "dimension"])
    assert (
        dims.loc[("boxed", "box_alignment_iou")]["ci_low"]
        < 0.6
        < dims.loc[("boxed", "box_alignment_iou")]["ci_high"]
    )


def test_control_selects_the_five_dimensions_and_nothing_else() -> None:
    chosen = [s.id for s in select_specs(load_specs(), ["control"])]
    assert sorted(chosen) == sorted([*CONTROL, "motion_direction"])
    weights = {s.id: s.weight for s in select_specs(load_specs(), ["control"])}
    assert weights == {
        "box_alignment": 1.0,
        "box_alignment_ap50": 0.0,
        "box_alignment_iou": 0.0,
        "box_found": 0.0,
        "motion_direction": 1.0,
    }


def _site(tmp_path: Path, result) -> tuple[str, str]:
    specs = load_specs()
    subs = load_submissions(ROOT / "leaderboard" / "submissions", specs)
    doc = make_submission(
        result,
        run_model="boxed",
        model="Boxed Model",
        organisation="Lab",
        version="1",
        date="2026-01-01",
    )
    index = build_site([*subs, doc], specs, tmp_path)
    page = (tmp_path / "dimensions" / "box-alignment.html").read_text(encoding="utf-8")
    return index.read_text(encoding="utf-8"), page


def test_site_shows_control_with_cis_and_boximator_apart(tmp_path: Path, result) -> None:
    index, page = _site(tmp_path, result)
    section = index.split('<section id="control">')[1].split("</section>")[0]
    assert 'id="control-table"' in section and "Boxed Model" in section
    assert re.search(r"0\.600 <small class=\"ci\">\[0\.\d+, 0\.\d+\]</small>", section)
    reported = section.split('id="control-reported-table"')[1]
    assert "Boximator (PixelDance)" in reported and "0.349" in reported and "0.094" in reported
    assert "2402.01566" in reported
    note = section.split('id="control-reported-note"')[1].split("</p>")[0]
    assert "not our metric" in section and "never compare" in note
    assert "Boxed Model" not in reported  # computed and reported are never in one table
    # the computed table has a Control column too
    assert 'data-model="Boxed Model"' in index.split('id="computed-table"')[1].split("</table>")[0]
    # the dimension page lists the paper's numbers apart, with the caveat
    assert 'id="reported-elsewhere-table"' in page and "0.365" in page
    assert "not by this dimension" in page
    assert page.index('id="entries-table"') < page.index('id="reported-elsewhere-table"')


def test_reported_metric_must_name_a_real_category_and_dimension() -> None:
    specs = load_specs()
    subs = load_submissions(ROOT / "leaderboard" / "submissions", specs)
    doc = copy.deepcopy(next(s for s in subs if s["version"].endswith("(Box)")))
    doc.pop("_file", None)
    box_metrics = [m for m in doc["metrics"] if m.get("category") == "control"]
    assert {m["name"] for m in box_metrics} >= {"mAP (box alignment)"}
    validate_submission(copy.deepcopy(doc), specs)
    bad = copy.deepcopy(doc)
    bad["metrics"][-1]["category"] = "controll"
    with pytest.raises(ValueError, match=r"metrics\[\d\]\.category: 'controll' unknown"):
        validate_submission(bad, specs)
    bad = copy.deepcopy(doc)
    bad["metrics"][-1]["dimension"] = "box_align"
    with pytest.raises(ValueError, match="unknown dimension"):
        validate_submission(bad, specs)
    bad = copy.deepcopy(doc)
    bad["metrics"][-1]["unit"] = "%"
    with pytest.raises(ValueError, match=r"metrics\[\d\]\.unit: unknown field"):
        validate_submission(bad, specs)


def test_boximator_rows_copy_table_1() -> None:
    specs = load_specs()
    subs = load_submissions(ROOT / "leaderboard" / "submissions", specs)
    box = {
        (s["version"], m["name"]): m["value"]
        for s in subs
        if s["model"].startswith("Boximator")
        for m in s["metrics"]
        if m.get("category") == "control"
    }
    assert box[("PixelDance + Boximator (text only)", "mAP (box alignment)")] == 0.094
    assert box[("PixelDance + Boximator (Box)", "mAP (box alignment)")] == 0.349
    assert box[("PixelDance + Boximator (F0 + Box)", "AP50")] == 0.521
    assert box[("ModelScope + Boximator (Box)", "mAP (box alignment)")] == 0.312
    for s in subs:
        if s["model"].startswith("Boximator"):
            assert s["source"]["tag"] in ("P", "V") and "Table 1" in s["source"]["citation"]
            assert "not comparable" in s["notes"]
