"""Paired comparison of two runs: finds real differences, none between identical distributions."""

from __future__ import annotations

import numpy as np
import pytest
from _lbhelpers import rec, spec, specs, write_run
from typer.testing import CliRunner

from vbench_cn.comparison import compare

SPECS = specs(
    spec("up"),
    spec("down", higher_is_better=False, category="semantic"),
    spec("flat", category="fidelity"),
)


def _runs(
    shift: dict[str, float], *, n_prompts: int = 40, seed: int = 0, prompts_b: range | None = None
):
    rng = np.random.default_rng(seed)
    a, b = [], []
    difficulty = {d: rng.normal(0.5, 0.15, size=n_prompts + 20) for d in SPECS}
    for dim in SPECS:
        for p in range(n_prompts):
            for s in range(2):
                a.append(rec("ckpt-a", dim, f"p{p}", s, difficulty[dim][p] + rng.normal(0, 0.02)))
        for p in prompts_b if prompts_b is not None else range(n_prompts):
            for s in range(2):
                b.append(
                    rec(
                        "ckpt-b",
                        dim,
                        f"p{p}",
                        s,
                        difficulty[dim][p] + shift.get(dim, 0.0) + rng.normal(0, 0.02),
                    )
                )
    return a, b


def test_real_difference_found_with_direction():
    a, b = _runs({"up": 0.03, "down": 0.03})
    table = compare(a, b, SPECS, num_permutations=2000).table.set_index("dimension")
    assert table.loc["up", "verdict"] == "better"
    assert table.loc["down", "verdict"] == "worse"  # lower is better, and B went up
    assert table.loc["up", "difference"] == pytest.approx(0.03, abs=0.01)
    assert table.loc["up", "ci_low"] > 0
    assert table.loc["flat", "verdict"] == "no detectable difference"
    assert table.loc["up", "p_holm"] >= table.loc["up", "p_value"]


def test_same_distribution_gives_no_difference():
    a, b = _runs({}, seed=3)
    result = compare(a, b, SPECS, num_permutations=2000)
    assert set(result.table["verdict"]) == {"no detectable difference"}
    assert (result.table["ci_low"] <= 0).all() and (result.table["ci_high"] >= 0).all()


def test_false_positive_rate_is_controlled_by_holm():
    # 20 comparisons of identical distributions: with Holm at 5 %, at most ~1 in 20 families
    # may contain a false "better"/"worse".
    families_with_error = 0
    for seed in range(20):
        a, b = _runs({}, seed=100 + seed, n_prompts=20)
        verdicts = compare(a, b, SPECS, num_resamples=300, num_permutations=500).table["verdict"]
        families_with_error += bool(set(verdicts) - {"no detectable difference"})
    assert families_with_error <= 3


def test_mismatched_prompts_are_reported_and_restricted():
    a, b = _runs({"up": 0.05}, prompts_b=range(10, 50), n_prompts=40)
    result = compare(a, b, SPECS, num_permutations=1000)  # A has p0..p39, B has p10..p49
    row = result.table.set_index("dimension").loc["up"]
    assert row["n_prompts"] == 30 and row["only_a"] == 10 and row["only_b"] == 10
    assert any("prompt sets differ" in w and "30 shared" in w for w in result.warnings)


def test_compare_cli(tmp_path, monkeypatch):
    from vbench_cn.cli import app, board
    from vbench_cn.specs import load_spec

    a, b = _runs({"up": 0.05})
    run_a, run_b = write_run(tmp_path / "a", a), write_run(tmp_path / "b", b)
    # the CLI loads the built-in specs: use a spec folder holding ours
    dims = tmp_path / "dims"
    dims.mkdir()
    for sid, extra in (("up", ""), ("down", "higher_is_better = false\n"), ("flat", "")):
        (dims / f"{sid}.toml").write_text(
            f'id = "{sid}"\nversion = 1\nname = {{ en = "{sid}", zh = "{sid}" }}\n'
            f'category = "quality"\ndescription = {{ en = "x", zh = "x" }}\n'
            f'scorer = "quality.temporal_flickering"\n{extra}',
            encoding="utf-8",
        )
    # Only our specs: the built-in folder is being filled by others and is not under test here.
    monkeypatch.setattr(
        board,
        "load_specs",
        lambda extra=(): {p.stem: load_spec(p) for d in extra for p in d.glob("*.toml")},
    )
    result = CliRunner().invoke(
        app, ["compare", str(run_a), str(run_b), "--dimensions-dir", str(dims), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert "up,True,40" in result.stdout and "better" in result.stdout


def test_runs_with_several_models_need_a_choice_and_pair_by_file_name():
    # Two models in one run, no prompt ids: prompts come from VBench-style file names.
    records = []
    for model, shift in (("steady", 0.0), ("flicker", -0.1)):
        for p in range(12):
            for s in range(2):
                records.append(
                    rec(
                        model,
                        "up",
                        None,
                        s,
                        0.8 + shift + 0.01 * p,
                        video=f"{model}/a prompt number {p}-{s}.mp4",
                    )
                )
    with pytest.raises(ValueError, match="run A holds 2 models .*choose one"):
        compare(records, records, SPECS)
    with pytest.raises(ValueError, match="no model 'steddy'; did you mean steady"):
        compare(records, records, SPECS, model_a="steddy", model_b="flicker")
    result = compare(
        records, records, SPECS, model_a="steady", model_b="flicker", num_permutations=500
    )
    row = result.table.set_index("dimension").loc["up"]
    assert row["n_prompts"] == 12 and row["verdict"] == "worse"
    assert row["difference"] == pytest.approx(-0.1)
    assert result.warnings == []
