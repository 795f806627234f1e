"""End to end with random weights: ``reference build`` on smooth videos, then ``--reference``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vbench_cn import synthetic as s
from vbench_cn.cli import app

cli = CliRunner()


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reference: smooth textures sliding; generated: other smooth ones, and noise."""
    root = tmp_path_factory.mktemp("fidelity")
    for i in range(3):
        s.write_video(root / "real" / f"real-{i}.mp4", s.translating_clip(16, 32, 32, seed=i))
    for i in range(2):
        s.write_video(
            root / "gen" / "smooth" / f"smooth-{i}.mp4", s.translating_clip(16, 32, 32, seed=50 + i)
        )
        s.write_video(root / "gen" / "noise" / f"noise-{i}.mp4", s.noise_clip(16, 32, 32, seed=i))
    s.write_video(
        root / "gen" / "smooth" / "short-0.mp4", s.translating_clip(6, 32, 32, seed=60)
    )  # padded clip
    return root


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def records(run: Path) -> list[dict]:
    out = []
    for path in sorted(run.rglob("*.jsonl")):
        out += [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    return out


def test_build_then_evaluate(
    videos: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VBENCH_CN_HOME", str(home))
    res = cli.invoke(
        app,
        [
            "reference",
            "build",
            str(videos / "real"),
            "--name",
            "smooth",
            "--random-weights",
            "--dimensions",
            "fvd,kid_frames",
            "--device",
            "cpu",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "fvd: a full-rank 400x400 covariance needs more than 400" in " ".join(res.output.split())
    meta = json.loads((home / "references" / "smooth" / "meta.json").read_text())
    assert (
        meta["dimensions"]["fvd"]["count"] == 3
        and meta["dimensions"]["fvd"]["weights_id"] == "random"
    )
    assert (
        meta["dimensions"]["kid_frames"]["count"] == 48
        and meta["dimensions"]["kid_frames"]["sampling"] == "frames=16"
    )
    with np.load(home / "references" / "smooth" / "kid_frames.npz") as z:
        assert z["features"].shape == (48, 2048)

    listed = cli.invoke(app, ["reference", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["name"] == "smooth"

    run = tmp_path / "run"
    res = cli.invoke(
        app,
        [
            "evaluate",
            str(videos / "gen"),
            "--dimensions",
            "fvd,kid_frames",
            "--reference",
            "smooth",
            "--random-weights",
            "--device",
            "cpu",
            "--out",
            str(run),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    sets = {(r["model"], r["dimension"]): r for r in records(run) if r["level"] == "set"}
    kid_noise, kid_smooth = sets[("noise", "kid_frames")], sets[("smooth", "kid_frames")]
    assert kid_noise["status"] == "ok" and kid_smooth["status"] == "ok"
    assert kid_noise["score"] > 10 * max(kid_smooth["score"], 1e-6)
    assert kid_smooth["details"]["samples"] == 48 and kid_smooth["details"]["reference"] == "smooth"
    assert kid_noise["details"]["ci_low"] > kid_smooth["details"]["ci_high"]
    # 3 clips (the 6-frame video padded to one clip) cannot give a full-rank 400x400 covariance.
    fvd = sets[("smooth", "fvd")]
    assert fvd["status"] == "skipped" and fvd["score"] is None
    assert "set too small: 3 feature vectors from 3 videos" in fvd["error"]

    # The same videos without random weights would use the real detector: the cache is refused.
    from vbench_cn.reference import ReferenceSetError, load_reference
    from vbench_cn.specs import load_specs

    with pytest.raises(ReferenceSetError, match="built with detector random"):
        load_reference(
            "smooth", load_specs()["kid_frames"], weights_id="inception_v3_fid@0123456789ab"
        )


def test_unknown_reference_is_a_clear_record(
    videos: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VBENCH_CN_HOME", str(home))
    run = tmp_path / "run"
    res = cli.invoke(
        app,
        [
            "evaluate",
            str(videos / "gen" / "noise"),
            "--model",
            "noise",
            "--dimensions",
            "fvd",
            "--reference",
            "nope",
            "--random-weights",
            "--device",
            "cpu",
            "--out",
            str(run),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    (rec,) = [r for r in records(run) if r["level"] == "set"]
    assert rec["status"] == "error" and "unknown reference 'nope'" in rec["error"]


def test_import_and_usage_errors(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VBENCH_CN_HOME", str(home))
    src = tmp_path / "stats.npz"
    np.savez(src, mu=np.zeros(400), sigma=np.eye(400))
    res = cli.invoke(
        app,
        ["reference", "import", str(src), "--name", "pub", "--dimension", "fvd", "--count", "2048"],
    )
    assert res.exit_code == 0, res.output
    meta = json.loads((home / "references" / "pub" / "meta.json").read_text())
    assert (
        meta["dimensions"]["fvd"]["count"] == 2048
        and meta["dimensions"]["fvd"]["weights_id"] == "i3d_kinetics400"
    )
    again = cli.invoke(
        app, ["reference", "import", str(src), "--name", "pub", "--dimension", "fvd"]
    )
    assert again.exit_code == 2 and "already exists" in again.output
    bad = cli.invoke(app, ["reference", "build", str(tmp_path / "missing"), "--name", "x"])
    assert bad.exit_code == 2 and "no such file or folder" in bad.output


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_whole_fidelity_category(
    videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All four dimensions, the 1-billion-parameter VideoMAE-v2 included (many minutes on CPU)."""
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path / "home"))
    res = cli.invoke(
        app,
        [
            "reference",
            "build",
            str(videos / "real"),
            "--name",
            "all",
            "--random-weights",
            "--device",
            "cpu",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    res = cli.invoke(
        app,
        [
            "evaluate",
            str(videos / "gen"),
            "--dimensions",
            "fidelity",
            "--reference",
            "all",
            "--random-weights",
            "--device",
            "cpu",
            "--out",
            str(run),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    sets = {(r["model"], r["dimension"]): r for r in records(run) if r["level"] == "set"}
    assert {d for _, d in sets} == {"fvd", "fvd_videomae", "fid_frames", "kid_frames"}
    assert sets[("noise", "kid_frames")]["score"] > sets[("smooth", "kid_frames")]["score"]
    assert "set too small" in sets[("noise", "fvd_videomae")]["error"]


def test_build_without_weights_offline_is_one_line(
    videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VBENCH_CN_OFFLINE", "1")
    res = cli.invoke(
        app,
        [
            "reference",
            "build",
            str(videos / "real"),
            "--name",
            "real",
            "--dimensions",
            "fvd",
            "--device",
            "cpu",
            "--no-progress",
        ],
    )
    assert res.exit_code == 2
    line = res.output.strip().splitlines()[-1]
    assert (
        line.startswith("error: i3d_fvd: i3d_kinetics400: missing ")
        and "i3d_pretrained_400.pt" in line
    )
    assert not (tmp_path / "home" / "references" / "real").exists()
