"""``vbench-cn prompts export|stats|validate`` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbench_cn.cli.prompts import app
from vbench_cn.prompts import load_suite
from vbench_cn.specs import load_specs

runner = CliRunner()


def _record(pid: str, en: str, zh: str, scene: str = "beach") -> str:
    record = {
        "id": pid,
        "tags": ["scene"],
        "en": en,
        "zh": zh,
        "category": "scenery",
        "meta": {"scene": scene},
    }
    return json.dumps(record, ensure_ascii=False)


def _suite(tmp_path: Path, lines: list[str]) -> Path:
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "scene.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_export_txt_zh_to_stdout_clean_with_naming_note_on_stderr(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        [
            _record("sn-0001", "A beach at dawn.", "黎明的海滩。"),
            _record("sn-0002", "A glacier under stars.", "星空下的冰川。", "glacier"),
        ],
    )
    result = runner.invoke(app, ["export", "--lang", "zh", "--suite", str(suite)])
    assert result.exit_code == 0, result.output
    # stdout is the clean list a generation script reads (17.10); the naming rule is on stderr
    assert result.stdout.splitlines() == ["sn-0001\t黎明的海滩。", "sn-0002\t星空下的冰川。"]
    assert "2 prompts, 10 videos" in result.stderr and "{prompt_id}-{i}.mp4" in result.stderr


def test_export_json_for_one_dimension_to_file(tmp_path: Path) -> None:
    out = tmp_path / "scene.json"
    result = runner.invoke(
        app,
        ["export", "--lang", "en", "--dimension", "background_consistency", "--format", "json"]
        + ["--samples", "3", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    items = json.loads(out.read_text(encoding="utf-8"))
    scene = [p for p in load_suite() if "scene" in p.tags]
    assert [i["id"] for i in items] == [p.id for p in scene]
    assert [i["text"] for i in items] == [p.en for p in scene]
    assert items[0]["files"] == [f"{items[0]['id']}-{i}.mp4" for i in range(3)]
    assert result.stdout == ""


@pytest.mark.parametrize("spec", load_specs(check_registries=False).values(), ids=lambda s: s.id)
def test_export_works_for_every_dimension_spec(spec) -> None:
    """Each dimension exports the prompts its spec's ``prompts`` field names (all for "any")."""
    result = runner.invoke(
        app, ["export", "--lang", "en", "--dimension", spec.id, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    suite = load_suite()
    expected = [p.id for p in suite if spec.prompts == "any" or spec.prompts in p.tags]
    assert expected, f"{spec.id}: no prompt carries the tag {spec.prompts!r}"
    assert [i["id"] for i in json.loads(result.stdout)] == expected


def test_unknown_dimension_exits_2_with_suggestion() -> None:
    result = runner.invoke(app, ["export", "--lang", "zh", "--dimension", "subject_consistancy"])
    assert result.exit_code == 2
    assert "unknown dimension 'subject_consistancy'; did you mean subject_consistency?" in (
        result.stderr
    )


def test_bad_language_is_a_usage_error() -> None:
    result = runner.invoke(app, ["export", "--lang", "fr"])
    assert result.exit_code == 2


def test_stats_table_and_json(tmp_path: Path) -> None:
    suite = _suite(tmp_path, [_record("sn-0001", "A beach at dawn.", "黎明的海滩。")])
    result = runner.invoke(app, ["stats", "--suite", str(suite)], terminal_width=200)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "scene" in line)
    assert "1" in row and "86" in row and "NO" in row
    result = runner.invoke(app, ["stats", "--suite", str(suite), "--json"])
    counts = json.loads(result.stdout)
    assert counts["scene"] == {"total": 1, "en": 1, "zh": 1, "minimum": 86}


def test_validate_passes_on_the_shipped_suite() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ok: {len(load_suite())} prompts")


def test_validate_fails_on_near_duplicates(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        [
            _record("sn-0001", "A beach at dawn.", "黎明的海滩。"),
            _record("sn-0002", "a beach at dawn", "清晨的海边。"),
        ],
    )
    result = runner.invoke(app, ["validate", "--suite", str(suite)])
    assert result.exit_code == 1
    assert "near-duplicate (en, 1.00): sn-0001 ~ sn-0002" in result.stderr


def test_validate_fails_on_broken_record_naming_file_and_line(tmp_path: Path) -> None:
    suite = _suite(
        tmp_path,
        [
            _record("sn-0001", "A beach at dawn.", "黎明的海滩。"),
            _record("sn-0002", "A ballroom.", "一个ballroom。", "ballroom"),
        ],
    )
    result = runner.invoke(app, ["validate", "--suite", str(suite)])
    assert result.exit_code == 1
    assert f"{suite / 'scene.jsonl'}:2: zh: Latin word 'ballroom'" in result.stderr
