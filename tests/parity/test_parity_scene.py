"""Scene parity with VBench 0.1.5 (Tag2Text): our run against frozen VBench outputs; live rerun.

The fixture holds what VBench's own ``scene`` produced on the scene videos with a seeded
checkpoint in its layout (reduced sizes, so this runs in the default suite): per-video scores,
every frame's caption, tag string and token ids. The default run recreates videos, vocabulary
and checkpoint from the seed and requires our per-video scores and captions to be identical;
``pytest -m parity`` reruns VBench in ``.venv-parity`` (``run_live_scene.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness_scene as hs  # noqa: E402

SEED = 0


@pytest.fixture(scope="module")
def fixture() -> dict:
    path = hs.fixture_path(SEED)
    assert path.exists(), f"no scene fixture: run tests/parity/run_live_scene.py --freeze ({path})"
    return json.loads(path.read_text(encoding="utf-8"))


def test_fixture_says_how_it_was_made_and_exercises_both_outcomes(fixture: dict) -> None:
    assert fixture["vbench_version"] == "0.1.5" and fixture["threads"] == 1
    assert fixture["transformers_version"] == "4.33.2" and fixture["size"] == "reduced"
    assert fixture["command"].startswith("python tests/parity/run_live_scene.py --freeze")
    assert set(fixture["videos"]) == {c.name for c in hs.CASES}
    captions = [c for caps in fixture["captions"].values() for c in caps]
    assert len(set(captions)) >= 4, "the seeded decoder should write varied captions"
    scores = fixture["scores"].values()
    assert any(s > 0 for s in scores) and any(s < 1 for s in scores)
    tags = [t for ts in fixture["tags"].values() for t in ts]
    assert all(t for t in tags), "every frame should have tags over the threshold"
    from vbench_cn.features.tag2text import DELETED_TAGS, tag_list

    deleted = {tag_list()[i] for i in DELETED_TAGS}
    assert not any(deleted & set(t.split(" | ")) for t in tags)
    for caps in fixture["captions"].values():  # VBench's batch quirk: frame f shows f//3's caption
        assert all(caps[f] == caps[3 * (f // 3)] for f in range(len(caps)))


@pytest.mark.parametrize("size", ["reduced", "full"])
def test_architecture_has_vbenchs_checkpoint_layout(size: str) -> None:
    from vbench_cn.features.tag2text_arch import Tag2Text, config_from_state_dict

    layouts = json.loads(hs.KEYS.read_text(encoding="utf-8"))
    if size not in layouts:
        pytest.fail(f"{hs.KEYS} lacks the {size} layout: run_live_scene.py --keys")
    vbench = {k: (tuple(s), d) for k, s, d in layouts[size]}
    derived = ("relative_position_index", "attn_mask", "position_ids")
    template = {k: torch.empty(s, device="meta") for k, (s, _) in vbench.items()}
    with torch.device("meta"):
        ours = Tag2Text(config_from_state_dict(template)).state_dict()
    assert {k: (tuple(v.shape), str(v.dtype)[6:]) for k, v in ours.items()} == {
        k: v for k, v in vbench.items() if not k.endswith(derived)
    }


def test_scene_matches_frozen_vbench(fixture: dict, tmp_path: Path) -> None:
    digests = hs.write_videos(tmp_path / "videos", hs.DEFAULT_VIDEOS)
    changed = [n for n, d in digests.items() if d != fixture["videos"][n]["decoded_sha256"]]
    assert not changed, f"the encoder now makes other frames for {changed}: refreeze"
    overrides = hs.write_inputs(SEED, tmp_path / "work", fixture["size"])
    ours = hs.our_scene(tmp_path / "videos", overrides, tmp_path / "run")
    reference = {
        key: {n: v for n, v in fixture[key].items() if n in hs.DEFAULT_VIDEOS}
        for key in ("scores", "captions")
    }
    assert set(ours[0]) == set(hs.DEFAULT_VIDEOS)
    problems = hs.compare(ours, reference)
    assert not problems, "\n".join(problems)


def test_comparison_can_fail() -> None:
    ref = {"scores": {"a.mp4": 0.5}, "captions": {"a.mp4": ["x y", "z"]}}
    assert hs.compare(({"a.mp4": 0.5}, {"a.mp4": ["x y", "z"]}), ref) == []
    assert hs.compare(({"a.mp4": 0.5}, {"a.mp4": ["x y", "zz"]}), ref)
    assert hs.compare(({"a.mp4": 0.4375}, {"a.mp4": ["x y", "z"]}), ref)
    assert hs.compare(({}, {}), ref)


@pytest.mark.parity
def test_live_scene_against_vbench_in_the_parity_venv() -> None:
    from run_live import parity_python
    from run_live_scene import extra_path

    if not parity_python().exists() or not extra_path().exists():
        pytest.skip("no parity venv or Tag2Text extras (see tests/parity/README.md)")
    proc = subprocess.run(
        [sys.executable, str(hs.HERE / "run_live_scene.py")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
