"""Shared fixtures: tiny synthetic videos with known answers, written once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("VBENCH_CN_OFFLINE", "1")  # tests never touch the network


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``slow`` tests run only when asked for (``pytest -m slow``), everywhere in the suite.

    Folders with their own rule (tests/fidelity) keep it; ``parity`` tests skip themselves
    with the command that runs them.
    """
    asked = config.getoption("-m") or ""
    for item in items:
        if "tests/fidelity/" in item.nodeid.replace("\\", "/"):
            continue
        if item.get_closest_marker("slow") is not None and "slow" not in asked:
            item.add_marker(pytest.mark.skip(reason="slow: run `pytest -m slow`"))


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of small videos: static, alternating, noise, translating, scene cut."""
    from vbench_cn import synthetic as s

    folder = tmp_path_factory.mktemp("clips")
    s.write_video(folder / "static-0.mp4", s.static_clip(16, 64, 64))
    s.write_video(folder / "alternating-0.mp4", s.alternating_clip(16, 64, 64))
    s.write_video(folder / "noise-0.mp4", s.noise_clip(16, 64, 64))
    s.write_video(folder / "translating-0.mp4", s.translating_clip(16, 64, 64, pixels_per_frame=2))
    s.write_video(folder / "cut-0.mp4", s.scene_cut_clip(16, 64, 64, cut_at=8))
    return folder


def read_jsonl(path: Path) -> list[dict]:
    """Records of one JSONL file."""
    import json

    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


@pytest.fixture()
def rng() -> np.random.Generator:
    """A seeded generator."""
    return np.random.default_rng(0)
