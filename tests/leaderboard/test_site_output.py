"""``leaderboard build --out DIR`` never deletes or overwrites what it did not write (17.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from test_site_build import computed_submission, site_specs
from typer.testing import CliRunner

from vbench_cn.site import build_site
from vbench_cn.site.output import SITE_MARKER, SiteError

REPO = Path(__file__).resolve().parents[2]


def _user_tree(root: Path) -> dict[Path, bytes]:
    """Files a user keeps in a folder that happens to have the site's sub-folder names."""
    files = {
        root / "dimensions" / "subject_consistency.toml": b'id = "subject_consistency"\n',
        root / "models" / "notes.txt": b"my notes\n",
        root / "plots" / "figure.png": b"\x89PNG not really\n",
        root / "static" / "mine.css": b"body { color: red }\n",
        root / "index.html": b"<p>my own page</p>\n",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def _cli(*args: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    from vbench_cn.cli import app

    monkeypatch.chdir(cwd)
    return CliRunner().invoke(app, list(args))


def test_build_into_a_folder_it_did_not_make_deletes_nothing(tmp_path, monkeypatch):
    """The failure: ``--out .`` at the repository root removed every dimension spec."""
    files = _user_tree(tmp_path / "repo")
    proc = _cli(
        "leaderboard",
        "build",
        "--out",
        ".",
        "--submissions",
        str(REPO / "leaderboard" / "submissions"),
        cwd=tmp_path / "repo",
        monkeypatch=monkeypatch,
    )
    for path, data in files.items():
        assert path.read_bytes() == data, f"{path} was deleted or overwritten"
    assert proc.exit_code == 2, proc.output
    assert proc.output.count("\n") == 1 and "not empty" in proc.output, proc.output
    assert not (tmp_path / "repo" / SITE_MARKER).exists()


def test_rebuild_replaces_only_its_own_files(tmp_path):
    specs = site_specs()
    out = tmp_path / "site"
    alpha, beta = computed_submission("Alpha", 0.1), computed_submission("Beta", 0.0)
    build_site([alpha, beta], specs, out)
    owned = set(json.loads((out / SITE_MARKER).read_text(encoding="utf-8"))["files"])
    beta_pages = {p for p in owned if p.startswith("models/") and "beta" in p}
    assert beta_pages and all((out / p).is_file() for p in beta_pages)
    (out / "models" / "README.txt").write_text("kept\n", encoding="utf-8")  # the user's file
    build_site([alpha], specs, out)
    assert not any((out / p).exists() for p in beta_pages), "stale pages of a removed row stay"
    assert (out / "models" / "README.txt").read_text(encoding="utf-8") == "kept\n"
    assert (out / "index.html").is_file() and "Beta" not in (out / "index.html").read_text(
        encoding="utf-8"
    )


def test_a_user_file_where_the_site_writes_is_refused(tmp_path):
    specs = site_specs()
    out = tmp_path / "site"
    build_site([computed_submission("Alpha", 0.1)], specs, out)
    mine = out / "models" / "beta-v1.html"
    mine.write_text("mine\n", encoding="utf-8")
    with pytest.raises(SiteError, match="not written by vbench-cn"):
        build_site([computed_submission("Beta", 0.0)], specs, out)
    assert mine.read_text(encoding="utf-8") == "mine\n"


def test_a_tampered_marker_cannot_delete_outside_the_site(tmp_path):
    specs = site_specs()
    out = tmp_path / "site"
    build_site([computed_submission("Alpha", 0.1)], specs, out)
    victim = tmp_path / "precious.txt"
    victim.write_text("keep\n", encoding="utf-8")
    marker = json.loads((out / SITE_MARKER).read_text(encoding="utf-8"))
    marker["files"] += ["../precious.txt", str(victim)]
    (out / SITE_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    build_site([computed_submission("Alpha", 0.1)], specs, out)
    assert victim.read_text(encoding="utf-8") == "keep\n"


def test_out_onto_a_file_is_one_line_exit_2(tmp_path, monkeypatch):
    target = tmp_path / "site.html"
    target.write_text("x\n", encoding="utf-8")
    proc = _cli(
        "leaderboard",
        "build",
        "--out",
        str(target),
        "--submissions",
        str(REPO / "leaderboard" / "submissions"),
        cwd=tmp_path,
        monkeypatch=monkeypatch,
    )
    assert proc.exit_code == 2 and proc.output.count("\n") == 1, proc.output
    assert "not a folder" in proc.output and target.read_text(encoding="utf-8") == "x\n"
