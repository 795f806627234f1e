"""Everything the repository cites lives in it: every ``docs/<file>.md §N`` resolves."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Folders and files whose text may cite docs (code, specs, tests, benches, docs, data).
SCANNED = ("vbench_cn", "tests", "bench", "dimensions", "docs", "leaderboard", "prompts", ".ci")
TEXT = {".py", ".toml", ".md", ".json", ".html", ".js", ".css", ".txt", ""}
CITATION = re.compile(
    r"docs/(?P<file>[\w.-]+\.md)`*(?P<sections>(?:[\s,;]*§\d+(?:\s*[-–]\s*§?\d+)?)*)"
)
OUTSIDE_NOTES = re.compile(r"\bshared" + r"/[\w.-]+\.md")


def _texts() -> list[tuple[Path, str]]:
    paths = [REPO / "README.md", REPO / "pyproject.toml"]
    for top in SCANNED:
        paths += [p for p in (REPO / top).rglob("*") if p.is_file() and p.suffix in TEXT]
    return [
        (p, p.read_text(encoding="utf-8", errors="replace"))
        for p in paths
        if "__pycache__" not in p.parts and p != Path(__file__).resolve()  # its own examples
    ]


def _sections(cited: str) -> set[int]:
    out: set[int] = set()
    for lo, hi in re.findall(r"§(\d+)(?:\s*[-–]\s*§?(\d+))?", cited):
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _headings(doc: Path) -> set[int]:
    return {int(n) for n in re.findall(r"^#+ §(\d+)\b", doc.read_text(encoding="utf-8"), re.M)}


def test_every_docs_citation_resolves_to_a_file_and_section() -> None:
    problems, seen = [], 0
    for path, text in _texts():
        for match in CITATION.finditer(text):
            seen += 1
            doc = REPO / "docs" / match["file"]
            where = f"{path.relative_to(REPO)}: docs/{match['file']}"
            if not doc.is_file():
                problems.append(f"{where}: no such file")
                continue
            missing = _sections(match["sections"]) - _headings(doc)
            if missing:
                problems.append(f"{where}: no section {sorted(missing)}")
    assert seen >= 27, seen  # the specs, code and tests do cite docs/
    assert not problems, problems


def test_nothing_cites_notes_outside_the_repository() -> None:
    hits = [
        f"{p.relative_to(REPO)}: {m.group(0)}"
        for p, t in _texts()
        for m in OUTSIDE_NOTES.finditer(t)
    ]
    assert not hits, hits


def test_the_checker_finds_a_missing_section() -> None:
    text = "see docs/vbench-reference.md §2, §99"
    match = CITATION.search(text)
    assert match is not None and _sections(match["sections"]) == {2, 99}
    assert 99 not in _headings(REPO / "docs" / "vbench-reference.md")
    assert _sections("§15-16") == {15, 16} and _sections("§8-§11") == {8, 9, 10, 11}
