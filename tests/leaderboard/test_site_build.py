"""The static site: every page is there, hostile text is escaped, the build is deterministic."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _lbhelpers import rec, section18_specs, spec, suite_ids, write_run

from vbench_cn.aggregation import aggregate
from vbench_cn.site import build_site, build_site_from_run
from vbench_cn.submissions import load_submissions, make_submission

REPO = Path(__file__).resolve().parents[2]


def site_specs():
    sp = section18_specs()
    sp["fvd"] = spec(
        "fvd",
        level="set",
        higher_is_better=False,
        category="fidelity",
        normalization={"min": 0.0, "max": 2000.0},
    )
    sp["duration_seconds"] = spec(
        "duration_seconds", category="duration", normalization={"min": 0, "max": 60}
    )
    return dict(sorted(sp.items()))


def computed_submission(model: str, offset: float) -> dict:
    sp = site_specs()
    records = [
        rec(
            model,
            d,
            suite_ids(5)[k],
            s,
            0.5 + offset + 0.01 * k,
            weights="dino_vitb16@0123456789ab",
        )
        for d in ("subject_consistency", "aesthetic_quality", "color")
        for k in range(5)
        for s in range(2)
    ]
    records += [rec(model, "duration_seconds", p, 0, 4.0 + offset) for p in suite_ids(5)]
    records.append(
        rec(
            model,
            "fvd",
            None,
            0,
            300.0 - 100 * offset,
            level="set",
            video=None,
            details={"n_videos": 10, "reference": "ref-a", "ci_low": 280.0, "ci_high": 330.0},
        )
    )
    return make_submission(
        aggregate(records, sp, num_resamples=200),
        model=model,
        organisation="Lab",
        version="v1",
        date="2026-01-01",
        link="https://example.org",
    )


def all_submissions() -> list[dict]:
    return load_submissions(REPO / "leaderboard" / "submissions", site_specs()) + [
        computed_submission("Alpha", 0.1),
        computed_submission("Beta 测试", 0.0),
    ]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_pages_for_every_model_and_dimension(built):
    tmp_path, subs = built
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    for sub in subs:
        assert f'data-model="{sub["model"]}"' in html, sub["model"]
    models = sorted((tmp_path / "models").glob("*.html"))
    assert len(models) == len(subs)
    for dim in ("subject-consistency", "fvd", "duration-seconds", "aesthetic-quality"):
        assert (tmp_path / "dimensions" / f"{dim}.html").is_file(), dim
    assert (tmp_path / "dimensions" / "index.html").read_text(encoding="utf-8").count(
        '<tr id="dim-'
    ) == len(site_specs())
    # computed and reported rows live in different tables
    computed_table = html.split('id="computed-table"')[1].split("</table>")[0]
    reported_table = html.split('id="reported-table"')[1].split("</table>")[0]
    assert "Alpha" in computed_table and "Sora" not in computed_table
    assert "Sora" in reported_table and "Alpha" not in reported_table
    # no network: no absolute http(s) resource in src=/href= of stylesheets or scripts
    for page in tmp_path.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', text), page
    radar = (tmp_path / "plots").glob("radar-*.svg")
    assert any(radar)
    bars = (tmp_path / "plots" / "bars-subject-consistency.svg").read_text(encoding="utf-8")
    assert bars.startswith("<?xml") and "<svg" in bars


def test_build_is_byte_deterministic(built, tmp_path):
    """Rebuilt in another process, with another hash seed and the input reversed: same bytes."""
    first, _ = built
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_site_build import all_submissions, site_specs;"
        "from vbench_cn.site import build_site;"
        "build_site(list(reversed(all_submissions())), site_specs(), sys.argv[2])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    here = str(Path(__file__).resolve().parent)
    subprocess.run([sys.executable, "-c", script, here, str(tmp_path / "two")], check=True, env=env)
    one, two = tree_digest(first), tree_digest(tmp_path / "two")
    assert one == two and len(one) > 40


def test_text_is_escaped_even_if_validation_were_bypassed(tmp_path):
    sub = computed_submission("Gamma", 0.05)
    sub["organisation"] = '<script>alert("x")</script>'
    sub["notes"] = '"><img src=x onerror=alert(1)>'
    sub["link"] = "javascript:alert(1)"
    build_site([sub], site_specs(), tmp_path)
    pages = [p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.html")]
    joined = "\n".join(pages)
    assert (
        "<script>alert" not in joined and "<img src=x" not in joined and "javascript:" not in joined
    )
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in joined
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in joined


def test_bilingual_headers_present(built):
    tmp_path, _ = built
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert (
        '<span class="en" lang="en">Model</span><span class="zh" lang="zh-CN">模型</span>' in html
    )
    assert "static/site.js" in html and (tmp_path / "static" / "site.js").is_file()


def test_build_site_from_run_flags_random_weights(tmp_path):
    records = [
        rec(
            m,
            "subject_consistency",
            f"p{k}",
            0,
            0.9 - 0.1 * i,
            weights="random",
            random_weights=True,
        )
        for i, m in enumerate(("demo-a", "demo-b"))
        for k in range(4)
    ]
    run = write_run(tmp_path / "run", records)
    index = build_site_from_run(run, tmp_path / "site", specs=site_specs())
    html = index.read_text(encoding="utf-8")
    assert "demo-a" in html and "demo-b" in html and "random weights: demo only" in html


def test_build_site_from_empty_run_fails_clearly(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(ValueError, match="no records found"):
        build_site_from_run(tmp_path / "run", tmp_path / "site", specs=site_specs())
