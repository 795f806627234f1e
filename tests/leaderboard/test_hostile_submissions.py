"""Hostile submissions: validation and the site build agree (17.9).

Every case goes through ``load_submissions`` (what ``leaderboard validate`` and ``build``
run); what it accepts goes through ``build_site``. Whatever validation accepts, the build
renders, which is the same as: whatever the build cannot render, validation refuses. Each
case then says which it expects: a refusal naming the file and the cause on one line, or a
page that shows the row safely.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _lbhelpers import rec, spec, specs

from vbench_cn.aggregation import aggregate
from vbench_cn.prompts import load_suite
from vbench_cn.site import build_site
from vbench_cn.submissions import SubmissionError, load_submissions, make_submission

SPECS = specs(
    spec("a", normalization={"min": 0.0, "max": 1.0}),
    spec("b", category="semantic"),
    spec("c", category="semantic"),
)
PROMPTS = sorted(p.id for p in load_suite())[:4]


def computed(model: str = "Alpha", dims: tuple[str, ...] = ("a", "b"), level: float = 0.5) -> dict:
    records = [
        rec(model, d, p, s, level + 0.01 * k, weights="dino_vitb16@0123456789ab")
        for d in dims
        for k, p in enumerate(PROMPTS)
        for s in range(2)
    ]
    return make_submission(
        aggregate(records, SPECS, num_resamples=100),
        model=model,
        organisation="Lab",
        version="v1",
        date="2026-01-02",
        link="https://example.org/model",
    )


def reported_other(model: str = "Other", n_metrics: int = 1) -> dict:
    return {
        "schema_version": 1,
        "kind": "reported",
        "benchmark": "other",
        "model": model,
        "organisation": "Lab",
        "version": "1",
        "date": "2025-01",
        "prompt_lang": "en",
        "link": None,
        "source": {"citation": "A paper, Table 1", "tag": "P"},
        "metrics": [{"name": f"m{i}", "value": 1.0} for i in range(n_metrics)],
    }


def edit(doc: dict, **fields: Any) -> dict:
    doc = copy.deepcopy(doc)
    doc.update(fields)
    return doc


def with_category(doc: dict, cat: str, score: float) -> dict:
    doc = copy.deepcopy(doc)
    doc["categories"][cat] = {"score": score}
    return doc


def with_normalized(doc: dict, dim: str, value: float) -> dict:
    doc = copy.deepcopy(doc)
    doc["dimensions"][dim]["normalized"] = value
    return doc


def pages(site: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(site.rglob("*.html")))


def table(site: Path, table_id: str) -> str:
    html = (site / "index.html").read_text(encoding="utf-8")
    return html.split(f'id="{table_id}"')[1].split("</table>")[0]


def unranked_only(name: str) -> Callable[[Path], None]:
    def check(site: Path) -> None:
        html = (site / "index.html").read_text(encoding="utf-8")
        assert 'id="computed-table"' not in html or name not in table(site, "computed-table")
        listed = html.split('id="computed-unranked"')[1].split("</ul>")[0]
        assert name in listed

    return check


def separate_tables(site: Path) -> None:
    """A row with fewer dimensions and a higher Total is not ranked above the others."""
    first, second = table(site, "computed-table"), table(site, "computed-table-2")
    assert ("Alpha" in first) != ("Alpha" in second)
    assert ("Narrow" in first) != ("Narrow" in second)
    assert ("Alpha" in first) == ("Beta" in first)


def recomputed_total(site: Path) -> None:
    html = table(site, "computed-table")
    assert "99.00" not in html and "50." in html  # the dimensions give about 51


def dollar_name(site: Path) -> None:
    """The chart library would read ``$…$`` as mathematics and fail on ``x^{2``."""
    assert any("x^{2" in p.read_text(encoding="utf-8") for p in (site / "plots").glob("*.svg"))
    assert "Gen $x^{2$" in (site / "index.html").read_text(encoding="utf-8")


def no_bidi(site: Path) -> None:
    text = pages(site)
    assert "\u202e" not in text and "\u2066" not in text and "evil" in text


def test_bidi_controls_never_reach_a_page_even_unvalidated(tmp_path):
    build_site([edit(computed(), organisation="evil\u202etxt", notes="x\u2066y")], SPECS, tmp_path)
    no_bidi(tmp_path)


BIG_NOTES = "x" * 300_000
CASES: list[tuple[str, Callable[[], list[dict]], str | Callable[[Path], None]]] = [
    ("zero suite prompts", lambda: [edit(computed(), n_prompts=0)], "n_prompts: 0 prompts"),
    (
        "no n_prompts",
        lambda: [{k: v for k, v in computed().items() if k != "n_prompts"}],
        "missing field 'n_prompts'",
    ),
    ("negative n_prompts", lambda: [edit(computed(), n_prompts=-5)], "non-negative integer"),
    ("301-digit n_prompts", lambda: [edit(computed(), n_prompts=10**300)], "not a plausible"),
    ("n_prompts above the suite", lambda: [edit(computed(), n_prompts=10**6)], "out of range"),
    ("301-digit count", lambda: [computed() | {"samples_per_prompt": 10**300}], "plausible"),
    (
        "different dimension sets",
        lambda: [computed(), computed("Beta"), computed("Narrow", dims=("a",), level=0.9)],
        separate_tables,
    ),
    ("spoofed total", lambda: [with_category(computed(), "total", 0.99)], "categories.total"),
    (
        "category on a 0-100 scale",
        lambda: [with_category(computed(), "quality", 50.5)],
        "categories.quality",
    ),
    (
        "category without its dimensions",
        lambda: [with_category(computed(), "duration", 0.96)],
        "categories.duration",
    ),
    ("spoofed normalised", lambda: [with_normalized(computed(), "a", 0.99)], "normalized"),
    ("$ in a model name", lambda: [computed("Gen $x^{2$")], dollar_name),
    (
        "bidi override in the organisation",
        lambda: [edit(computed(), organisation="evil\u202etxt.exe")],
        "bidirectional control",
    ),
    ("bidi isolate in notes", lambda: [edit(computed(), notes="evil\u2066x")], "bidirectional"),
    ("bidi override in the name", lambda: [computed("Al\u202epha")], "control characters"),
    ("look-alike letters mixed", lambda: [computed("\u0405ora")], "mixes Latin with CYRILLIC"),
    (
        "whole-script look-alike",
        lambda: [computed("BETA"), computed("\u0412\u0415\u0422\u0410")],
        "read the same",
    ),
    ("case variant", lambda: [computed("Alpha"), computed("alpha")], "read the same"),
    ("space variant", lambda: [computed("Alpha 1"), computed("Alpha\u00a01")], "read the same"),
    ("doubled space", lambda: [computed("Alpha  1")], "doubled spaces"),
    ("oversized file", lambda: [edit(computed(), notes=BIG_NOTES)], "at most 256 KiB"),
    ("too many metrics", lambda: [reported_other(n_metrics=600)], "more than 500 entries"),
]


@pytest.mark.parametrize(("name", "make", "expect"), CASES, ids=[c[0] for c in CASES])
def test_validate_and_build_agree(tmp_path, name, make, expect):
    docs = make()
    folder = tmp_path / "subs"
    folder.mkdir()
    for i, doc in enumerate(docs):
        (folder / f"{i}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    try:
        load_submissions(folder, SPECS)
        refused = None
    except SubmissionError as exc:
        refused = str(exc)
    if refused is None:  # accepted: the build must render it
        build_site(docs, SPECS, tmp_path / "site")
    if isinstance(expect, str):
        assert refused is not None, f"{name}: accepted"
        assert expect in refused and "\n" not in refused, refused
        assert re.match(r"^\S+\.json: ", refused), refused
        assert len(refused) < 400, refused
    else:
        assert refused is None, refused
        expect(tmp_path / "site")


def test_a_build_failure_leaves_no_half_built_site(tmp_path, monkeypatch):
    """A chart that cannot be drawn leaves the folder as it was (the build renders first)."""
    from vbench_cn.site import build as site_build

    def broken(*args, **kwargs):
        raise ValueError("chart failed")

    monkeypatch.setattr(site_build, "bars_svg", broken)
    with pytest.raises(ValueError, match="chart failed"):
        build_site([computed()], SPECS, tmp_path / "site")
    assert not (tmp_path / "site").exists() or not any((tmp_path / "site").iterdir())


def test_imported_vbench_run_says_what_to_do_instead(tmp_path):
    from typer.testing import CliRunner

    from vbench_cn.cli import app

    results = {"subject consistency": [0.9, [{"video_path": "a cat-0.mp4", "video_results": 0.9}]]}
    (tmp_path / "r.json").write_text(json.dumps(results), encoding="utf-8")
    runner = CliRunner()
    run = tmp_path / "run"
    imported = runner.invoke(
        app, ["import-vbench", str(tmp_path / "r.json"), "--model", "M", "--out", str(run)]
    )
    assert imported.exit_code == 0, imported.output
    result = runner.invoke(
        app,
        [
            *("leaderboard", "submit", str(run), "--model", "M", "--org", "O"),
            *("--submissions", str(tmp_path / "subs")),
        ],
    )
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and "imported from VBench" in line, line
    assert "reported" in line and "evaluate" in line, line
