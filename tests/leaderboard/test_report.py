"""One renderer for aggregate, compare and language parity: every kind in every format."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from _lbhelpers import rec, spec, specs, write_run
from typer.testing import CliRunner

from vbench_cn.aggregation import aggregate
from vbench_cn.comparison import compare
from vbench_cn.language_parity import LanguageParityResult, language_parity
from vbench_cn.report import FORMATS, aggregate_table, render

SPECS = specs(spec("a"), spec("b", category="semantic"))


def _records(model: str, shift: float) -> list[dict]:
    return [
        rec(model, d, f"p{k}", s, 0.4 + shift + 0.05 * k + 0.01 * s)
        for d in SPECS
        for k in range(6)
        for s in range(2)
    ]


def _parity_records() -> list[dict]:
    return [
        rec("m", "a", f"p{k}", 0, score, prompt_lang=lang)
        for k in range(5)
        for lang, score in (("zh", 0.3 + 0.01 * k), ("en", 0.5 + 0.01 * k))
    ]


def _results() -> dict[str, object]:
    a, b = _records("ckpt-a", 0.0), _records("ckpt-b", 0.05)
    return {
        "aggregate": aggregate(a + b, SPECS, num_resamples=200),
        "compare": compare(a, b, SPECS, num_resamples=200, num_permutations=200),
        "parity": LanguageParityResult(language_parity(_parity_records(), SPECS)),
    }


@pytest.mark.parametrize("kind", ["aggregate", "compare", "parity"])
def test_every_kind_renders_in_every_format(kind: str) -> None:
    result = _results()[kind]
    md, csv, doc, parquet = (render(result, f) for f in FORMATS)
    assert md.startswith(("# ", "| ")) and md.endswith("\n")
    assert json.loads(doc)
    table = pd.read_csv(io.StringIO(csv))
    assert len(table) > 0
    back = pd.read_parquet(io.BytesIO(parquet))
    assert list(back.columns) == list(table.columns) and len(back) == len(table)


def test_parquet_holds_the_same_numbers_as_csv() -> None:
    result = _results()["aggregate"]
    table = aggregate_table(result)
    back = pd.read_parquet(io.BytesIO(render(result, "parquet")))
    pd.testing.assert_series_equal(back["score"], table["score"].astype(float))
    assert set(back["row"]) == {"dimension", "category"}


def test_unknown_format_and_unknown_result_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 'html'; one of md, csv, json, parquet"):
        render(_results()["compare"], "html")
    with pytest.raises(TypeError, match="cannot render a DataFrame"):
        render(pd.DataFrame(), "md")


def test_empty_language_parity_says_so() -> None:
    empty = LanguageParityResult(language_parity([], SPECS))
    assert render(empty, "md") == "no prompt was scored in both languages\n"


def test_cli_writes_parquet_for_aggregate_and_compare(tmp_path) -> None:
    from vbench_cn.cli import app

    run_a = write_run(tmp_path / "a", _records("ckpt-a", 0.0))
    run_b = write_run(tmp_path / "b", _records("ckpt-b", 0.05))
    runner = CliRunner()
    for args, out in (
        (["aggregate", str(run_a)], tmp_path / "agg.parquet"),
        (["compare", str(run_a), str(run_b)], tmp_path / "cmp.parquet"),
    ):
        dims = ["--dimensions-dir", str(_spec_dir(tmp_path))]
        result = runner.invoke(app, [*args, *dims, "--format", "parquet", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert len(pd.read_parquet(out)) > 0


def _spec_dir(tmp_path) -> object:
    folder = tmp_path / "specs"
    if not folder.exists():
        folder.mkdir()
        for dim, category in (("a", "quality"), ("b", "semantic")):
            (folder / f"{dim}.toml").write_text(
                f'id = "{dim}"\nversion = 1\nname = {{ en = "{dim}", zh = "{dim}" }}\n'
                f'category = "{category}"\ndescription = {{ en = "d", zh = "d" }}\n'
                'scorer = "quality.temporal_flickering"\nbackbone = "frame_difference"\n',
                encoding="utf-8",
            )
    return folder
