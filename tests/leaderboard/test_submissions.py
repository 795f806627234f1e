"""Submission schema: valid files pass, broken or hostile ones fail with one readable line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from _lbhelpers import rec, shipped_specs, spec, specs, suite_ids, write_run
from typer.testing import CliRunner

from vbench_cn.aggregation import aggregate
from vbench_cn.submissions import (
    SubmissionError,
    load_submissions,
    make_submission,
    read_submission,
    validate_submission,
    write_submission,
)

REPO = Path(__file__).resolve().parents[2]
SPECS = specs(spec("a", normalization={"min": 0.0, "max": 1.0}), spec("b", category="semantic"))


def _computed() -> dict:
    records = [
        rec("m", d, suite_ids(4)[k], s, 0.5 + 0.01 * k, weights="dino_vitb16@0123456789ab")
        for d in SPECS
        for k in range(4)
        for s in range(2)
    ]
    doc = make_submission(
        aggregate(records, SPECS, num_resamples=200),
        model="My Model",
        organisation="Lab",
        version="ckpt-1",
        date="2026-01-02",
        link="https://example.org/model",
    )
    return validate_submission(doc, SPECS)


def _write(tmp_path: Path, doc_or_text) -> Path:
    path = tmp_path / "sub.json"
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    path.write_text(text, encoding="utf-8")
    return path


def test_computed_submission_roundtrip(tmp_path):
    doc = _computed()
    assert doc["kind"] == "computed" and doc["samples_per_prompt"] == 2 and doc["n_prompts"] == 4
    assert doc["weights"] == ["dino_vitb16@0123456789ab"]
    assert {s["id"] for s in doc["specs"]} == {"a", "b"}
    path = write_submission(doc, tmp_path, SPECS)
    assert path.name == "my-model--ckpt-1.json"
    loaded = load_submissions(tmp_path, SPECS)
    assert loaded[0]["dimensions"]["a"]["score"] == pytest.approx(doc["dimensions"]["a"]["score"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("organisation"), "missing field 'organisation'"),
        (lambda d: d.pop("weights"), "missing field 'weights'"),
        (lambda d: d.update(model="<script>alert(1)</script>"), "model: contains HTML"),
        (
            lambda d: d.update(notes="nice <img src=x onerror=alert(1)>"),
            "notes: contains HTML or script",
        ),
        (lambda d: d.update(model="../../etc/passwd"), "looks like a path"),
        (lambda d: d.update(model="team/model"), "looks like a path"),
        (lambda d: d.update(model="bad\x07name"), "model: contains control characters"),
        (
            lambda d: d["dimensions"].update(ghost={"score": 0.5}),
            "dimensions.ghost: unknown dimension",
        ),
        (
            lambda d: d["dimensions"]["a"].update(score=96.2, ci_low=95.0, ci_high=97.0),
            "out of range for a",
        ),
        (lambda d: d.update(random_weights=True), "random weights"),
        (lambda d: d.update(weights=["random"]), "random weights"),
        (lambda d: d.update(link="javascript:alert(1)"), "contains HTML or script"),
        (lambda d: d.update(link="ftp://x"), "must be an http(s) URL"),
        (lambda d: d.update(date="yesterday"), "date: 'yesterday' is not YYYY-MM-DD"),
        (lambda d: d.update(kind="guessed"), "kind 'guessed' not one of"),
        (
            lambda d: d.update(organization="Lab"),
            "unknown field 'organization'; did you mean organisation?",
        ),
    ],
)
def test_broken_or_hostile_submission_fails_with_one_line(tmp_path, mutate, message):
    doc = copy.deepcopy(_computed())
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(SubmissionError) as info:
        read_submission(path, SPECS)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text, text


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_rejected(tmp_path, token):
    doc = json.loads(json.dumps(_computed()))
    doc["dimensions"]["a"]["score"] = "__TOKEN__"
    path = _write(tmp_path, json.dumps(doc).replace('"__TOKEN__"', token))
    with pytest.raises(SubmissionError) as info:
        read_submission(path, SPECS)
    assert str(info.value).startswith(f"{path}: ") and ("finite" in str(info.value)), str(
        info.value
    )


def test_invalid_json_and_missing_file_are_one_line(tmp_path):
    with pytest.raises(SubmissionError, match=r"sub.json: invalid JSON \(.* at line 1\)"):
        read_submission(_write(tmp_path, "{not json"), SPECS)
    with pytest.raises(SubmissionError, match="nope.json: cannot read"):
        read_submission(tmp_path / "nope.json", SPECS)


def test_random_weights_run_is_refused():
    records = [rec("m", "a", "p", 0, 0.5, weights="random", random_weights=True)]
    with pytest.raises(ValueError, match="random weights"):
        make_submission(
            aggregate(records, SPECS, num_resamples=100),
            model="M",
            organisation="O",
            version="1",
            date="2026-01-01",
        )


def test_submit_cli_refuses_random_weights_and_writes_real_ones(tmp_path, monkeypatch):
    from vbench_cn.cli import app, board

    monkeypatch.setattr(board, "_specs", lambda extra: SPECS)
    bad = write_run(
        tmp_path / "bad", [rec("m", "a", "p", 0, 0.5, weights="random", random_weights=True)]
    )
    args = [
        "leaderboard",
        "submit",
        str(bad),
        "--model",
        "M",
        "--org",
        "O",
        "--submissions",
        str(tmp_path / "subs"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "random weights" in result.output
    good = write_run(
        tmp_path / "good",
        [rec("m", "a", p, 0, 0.5, weights="clip_vitb32@abcdef012345") for p in suite_ids(3)],
    )
    args[2] = str(good)
    result = CliRunner().invoke(app, [*args, "--date", "2026-02-03"])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "subs" / "m--1.json").read_text(encoding="utf-8"))
    assert written["date"] == "2026-02-03" and written["kind"] == "computed"


def test_duplicate_model_versions_rejected(tmp_path):
    doc = _computed()
    write_submission(doc, tmp_path, SPECS)
    (tmp_path / "copy.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SubmissionError, match="duplicate"):
        load_submissions(tmp_path, SPECS)


# ---- the shipped submissions ------------------------------------------------------------


def _shipped() -> list[dict]:
    return load_submissions(REPO / "leaderboard" / "submissions", shipped_specs())


def test_shipped_submissions_are_valid_and_cover_the_required_models():
    subs = _shipped()
    names = {s["model"] for s in subs}
    for required in (
        "Sora",
        "Kling",
        "Gen-3",
        "Luma (Dream Machine)",
        "Vidu",
        "HunyuanVideo",
        "Pika-1.0",
        "ModelScope",
        "LaVie",
        "Wan2.1-T2V-14B",
        "MiniMax-Video-01 (Hailuo)",
        "CogVideoX-5B",
        "Open-Sora 2.0",
        "Boximator (PixelDance)",
    ):
        assert required in names, required
    for sub in subs:
        if sub["kind"] == "reported":
            assert sub["source"]["citation"] and sub["source"]["tag"] in "PVRU"
    full = [s for s in subs if len(s.get("dimensions") or {}) == 16]
    assert len(full) >= 9
    boximator = [s for s in subs if s["model"].startswith("Boximator")]
    assert boximator and all(
        s["benchmark"] == "other" and not s.get("dimensions") for s in boximator
    )
    assert {m["name"] for m in boximator[0]["metrics"]} >= {"FVD", "CLIPSIM"}
