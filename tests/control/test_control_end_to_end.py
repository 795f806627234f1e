"""``vbench-cn evaluate --dimensions control`` end to end on synthetic clips with known paths.

The clips are named after real suite prompts (``mc-*``) and drawn from their own target
boxes (:func:`vbench_cn.synthetic.box_path_clip`): along the target, the wrong way, standing
still, approaching and receding, two objects swapping sides or not, two moves in the wrong
order, an arc flown straight, and a camera that follows the object. Detection is the
test-only colour detector (``_crafted.BlobDetector``, the OWLv2 output layout without a
model) under ``--random-weights``: the answers depend on the paths, not on any weights. A
second run checks the real OWLv2 architecture (reduced, seeded random weights) through the
same pipeline, sharing its forward with object_class.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from semantic._tiny import tiny_registry
from typer.testing import CliRunner

from control._crafted import BlobDetector, backwards
from vbench_cn import features, synthetic
from vbench_cn.cli import app
from vbench_cn.motion_targets import interpolate_box, parse_motion
from vbench_cn.prompts import by_id
from vbench_cn.results import read_records

DOCS = Path(__file__).resolve().parents[2] / "docs" / "motion-control.md"

RED, BLUE, GREEN, YELLOW, CYAN = (230, 0, 0), (0, 0, 230), (0, 200, 0), (220, 220, 0), (0, 200, 200)
#: The suite prompts used, and the colour the test detector sees for each object name.
NAMES = {
    "brown dog": RED,  # mc-0001: left to right, static camera
    "sailboat": BLUE,  # mc-0010: left to right, free camera
    "horse": GREEN,  # mc-0077: approaches, static camera
    "jeep": GREEN,  # mc-0089: recedes
    "red toy car": RED,  # mc-0107: swaps sides with the blue toy car
    "blue toy car": BLUE,
    "cat": YELLOW,  # mc-0113: stays still while the ball of yarn rolls past
    "ball of yarn": CYAN,
    "helicopter": YELLOW,  # mc-0071: rises straight up, then flies off to the right
    "basketball": RED,  # mc-0051: tossed in a high arc from left to right
}
CONTROL = ("box_alignment", "box_alignment_ap50", "box_alignment_iou", "box_found")


def _keys(pid: str, index: int = 0) -> list[tuple[float, list[float]]]:
    obj = parse_motion(by_id()[pid].meta["motion"]).objects[index]
    return [(k.t, list(k.box)) for k in obj.keyframes]


def _fixed(box: list[float]) -> list[tuple[float, list[float]]]:
    return [(0.0, box), (1.0, box)]


def _clip(path: Path, *objects, pan: float = 0.0) -> None:
    frames = synthetic.box_path_clip(objects, 16, 72, 128, pan_pixels_per_frame=pan)
    synthetic.write_video(path, frames, fps=8.0)


def _evaluate(
    videos: Path, out: Path, dimensions: str, detector: type[BlobDetector] = BlobDetector
) -> list[dict]:
    """``vbench-cn evaluate`` with the colour detector in OWLv2's place; the run's records."""
    with pytest.MonkeyPatch.context() as mp:
        import vbench_cn.features.detector  # noqa: F401  (registers the real one first)

        mp.setitem(features.EXTRACTORS, "owlv2_coco", detector)
        mp.setattr(BlobDetector, "COLORS", dict(NAMES))
        result = CliRunner().invoke(
            app,
            ["evaluate", str(videos), "--dimensions", dimensions, "--random-weights"]
            + ["--out", str(out), "--no-progress", "--device", "cpu"],
        )
    assert result.exit_code == 0, result.output
    return read_records(out)


@pytest.fixture(scope="module")
def blob_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("control")
    videos = root / "videos"
    dog = _keys("mc-0001")
    mid = [0.42, 0.47, 0.58, 0.77]
    _clip(videos / "along" / "mc-0001-0.mp4", (RED, dog))
    _clip(videos / "wrong_way" / "mc-0001-0.mp4", (RED, backwards(dog)))
    _clip(videos / "static" / "mc-0001-0.mp4", (RED, _fixed(dog[0][1])))
    _clip(videos / "followed" / "mc-0001-0.mp4", (RED, _fixed(mid)), pan=3.0)
    boat = _keys("mc-0010")
    _clip(videos / "along" / "mc-0010-0.mp4", (BLUE, boat))
    _clip(videos / "followed" / "mc-0010-0.mp4", (BLUE, _fixed(mid)), pan=3.0)
    _clip(videos / "wrong_way" / "mc-0010-0.mp4", (BLUE, backwards(boat)))
    horse, jeep = _keys("mc-0077"), _keys("mc-0089")
    _clip(videos / "along" / "mc-0077-0.mp4", (GREEN, horse))
    _clip(videos / "wrong_way" / "mc-0077-0.mp4", (GREEN, backwards(horse)))
    _clip(videos / "along" / "mc-0089-0.mp4", (GREEN, jeep))
    _clip(videos / "wrong_way" / "mc-0089-0.mp4", (GREEN, backwards(jeep)))
    red, blue = _keys("mc-0107", 0), _keys("mc-0107", 1)
    _clip(videos / "along" / "mc-0107-0.mp4", (RED, red), (BLUE, blue))
    _clip(videos / "static" / "mc-0107-0.mp4", (RED, _fixed(red[0][1])), (BLUE, _fixed(blue[0][1])))
    _clip(  # both cars stop half way (the worked example of docs/motion-control.md)
        videos / "half_way" / "mc-0107-0.mp4",
        (RED, [red[0], (1.0, list(interpolate_box(red, 0.5)))]),
        (BLUE, [blue[0], (1.0, list(interpolate_box(blue, 0.5)))]),
    )
    _clip(videos / "wrong_way" / "mc-0107-0.mp4", (RED, backwards(red)), (BLUE, backwards(blue)))
    cat, yarn = _keys("mc-0113", 0), _keys("mc-0113", 1)
    _clip(videos / "along" / "mc-0113-0.mp4", (YELLOW, cat), (CYAN, yarn))
    _clip(videos / "wrong_way" / "mc-0113-0.mp4", (YELLOW, yarn), (CYAN, cat))
    heli = _keys("mc-0071")  # up, then right
    (t0, start), (_, _), (t1, end) = heli
    _clip(videos / "along" / "mc-0071-0.mp4", (YELLOW, heli))
    right_first = [end[0], start[1], end[2], start[3]]  # the same two moves, right then up
    _clip(
        videos / "wrong_order" / "mc-0071-0.mp4",
        (YELLOW, [(t0, start), (0.5, right_first), (t1, end)]),
    )
    ball = _keys("mc-0051")  # up to the top middle, then down on the right
    _clip(videos / "along" / "mc-0051-0.mp4", (RED, ball))
    _clip(videos / "wrong_order" / "mc-0051-0.mp4", (RED, [ball[0], ball[-1]]))  # no arc
    records = _evaluate(videos, root / "run", "control")
    return {(r["model"], r["prompt_id"], r["dimension"]): r for r in records}


def _s(run, model: str, pid: str, dim: str) -> float:
    rec = run[(model, pid, dim)]
    assert rec["status"] == "ok", rec.get("error")
    assert rec["random_weights"] is True
    return rec["score"]


def test_every_control_dimension_scores_every_clip(blob_run) -> None:
    models = {m for m, _, _ in blob_run}
    assert models == {"along", "wrong_way", "static", "followed", "half_way", "wrong_order"}
    assert {d for _, _, d in blob_run} == {*CONTROL, "motion_direction"}
    assert all(r["status"] == "ok" for r in blob_run.values()), [
        (k, r.get("error")) for k, r in blob_run.items() if r["status"] != "ok"
    ]


@pytest.mark.parametrize("pid", ["mc-0001", "mc-0010", "mc-0077", "mc-0089", "mc-0107", "mc-0113"])
def test_a_path_along_the_boxes_beats_the_wrong_way(blob_run, pid: str) -> None:
    for dim in ("box_alignment", "motion_direction"):
        good, bad = _s(blob_run, "along", pid, dim), _s(blob_run, "wrong_way", pid, dim)
        assert good > 0.6 and bad < 0.3 and good > bad + 0.4, (dim, good, bad)
    assert _s(blob_run, "along", pid, "box_found") == 1.0
    assert _s(blob_run, "along", pid, "box_alignment_ap50") >= _s(
        blob_run, "along", pid, "box_alignment"
    )


def test_standing_still_fails_a_moving_target(blob_run) -> None:
    for pid in ("mc-0001", "mc-0107"):
        assert _s(blob_run, "static", pid, "motion_direction") < 0.1
        assert _s(blob_run, "static", pid, "box_alignment") < 0.3
        assert _s(blob_run, "along", pid, "motion_direction") > 0.9


def test_two_objects_swapping_sides(blob_run) -> None:
    rec = blob_run[("along", "mc-0107", "motion_direction")]
    assert rec["details"]["relation"] > 0.9
    assert [o["name"] for o in rec["details"]["objects"]] == ["red toy car", "blue toy car"]
    assert blob_run[("static", "mc-0107", "motion_direction")]["details"]["relation"] == 0.0


def test_a_following_camera_counts_only_where_the_prompt_leaves_the_camera_free(blob_run) -> None:
    free = blob_run[("followed", "mc-0010", "motion_direction")]  # words leave the camera free
    fixed = blob_run[("followed", "mc-0001", "motion_direction")]  # words ask for a fixed one
    assert free["score"] > 0.8, free["details"]
    assert fixed["score"] < 0.1
    assert fixed["details"]["background_moved"][0] < -0.2  # measured, reported, not forgiven
    # box alignment holds a box-conditioned model to the frame-coordinate boxes either way
    assert _s(blob_run, "followed", "mc-0010", "box_alignment") < 0.3


def test_moves_in_the_wrong_order_or_without_the_waypoint(blob_run) -> None:
    # mc-0071 "rises straight up, then flies off to the right": wrong_order flies right,
    # then up (same start and end); mc-0051's arc over the top: wrong_order goes straight
    for pid in ("mc-0071", "mc-0051"):
        good = _s(blob_run, "along", pid, "motion_direction")
        bad = _s(blob_run, "wrong_order", pid, "motion_direction")
        assert good > 0.9 and bad < 0.6, (pid, good, bad)
        good = _s(blob_run, "along", pid, "box_alignment")
        bad = _s(blob_run, "wrong_order", pid, "box_alignment")
        assert good > 0.4 and bad < 0.15, (pid, good, bad)
    # the turn is at t = 0.5, between frames 7 and 8 of 16: the chosen split finds it
    (heli,) = blob_run[("along", "mc-0071", "motion_direction")]["details"]["objects"]
    assert heli["split"][0] == 0 and heli["split"][2] == 15 and 6 <= heli["split"][1] <= 9


def test_the_ranking_of_models_over_the_shared_prompts(blob_run) -> None:
    shared = ("mc-0001", "mc-0010", "mc-0077", "mc-0089", "mc-0107", "mc-0113")

    def mean(model: str, dim: str) -> float:
        return float(np.mean([_s(blob_run, model, p, dim) for p in shared]))

    for dim in ("box_alignment", "motion_direction", "box_alignment_iou"):
        assert mean("along", dim) > mean("wrong_way", dim) + 0.4, dim


def test_zh_prompts_query_the_detector_with_english_names(tmp_path: Path) -> None:
    videos = tmp_path / "videos" / "m"
    _clip(videos / "mc-0001-zh-0.mp4", (RED, _keys("mc-0001")))
    seen: list[tuple[tuple[str, ...], str]] = []

    class Recording(BlobDetector):
        def encode_text(self, texts, *, lang):
            seen.append((tuple(texts), lang))
            return super().encode_text(texts, lang=lang)

    (rec,) = _evaluate(videos, tmp_path / "run", "motion_direction", detector=Recording)
    assert rec["prompt_lang"] == "zh" and rec["status"] == "ok" and rec["score"] > 0.9
    assert seen == [(("brown dog",), "en")]


def test_real_owlv2_architecture_shares_one_forward_with_object_class(tmp_path: Path) -> None:
    """Reduced OWLv2 with seeded random weights: plumbing only (the answer needs real weights)."""
    videos = tmp_path / "videos"
    dog = _keys("mc-0001")
    manifest = []
    for i in range(2):
        _clip(videos / f"v{i}.mp4", (RED, dog))
        manifest.append(
            {
                "path": f"v{i}.mp4",
                "model": "m",
                "prompt": "一只狗从左向右跑。",
                "lang": "zh",
                "object": "dog",
                "motion": by_id()["mc-0001"].meta["motion"],
            }
        )
    (videos / "manifest.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in manifest), encoding="utf-8"
    )
    from vbench_cn.manifest import read_manifest
    from vbench_cn.runner import Runner, RunOptions
    from vbench_cn.specs import load_specs, select_specs

    # object class as OWLv2 scores it (whichever id that spec has beside other detectors)
    owl_object_class = min(
        s.id
        for s in load_specs().values()
        if s.backbone == "owlv2_coco" and s.id.startswith("object_class")
    )
    specs = select_specs(load_specs(), ["control", owl_object_class])
    with tiny_registry():
        runner = Runner(
            specs, RunOptions(out_dir=tmp_path / "run", random_weights=True, progress=False)
        )
        runner.run(read_manifest(videos / "manifest.jsonl"))
    records = read_records(tmp_path / "run")
    assert len(records) == 2 * 6
    for rec in records:
        assert rec["status"] == "ok", (rec["dimension"], rec.get("error"))
        assert 0.0 <= rec["score"] <= 1.0 and rec["weights"] == "random"
    # 2 videos x 16 frames, each frame through the detector once for all six dimensions
    assert runner.profile.frames["owlv2_coco"] == 2 * 16


def test_the_worked_example_in_the_docs_is_what_the_code_computes(blob_run) -> None:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- worked-example:start -->")[1].split("<!-- worked-example:end -->")[0]
    rows = [ln for ln in block.splitlines() if ln.startswith("| ") and "clip" not in ln]
    assert len(rows) == 4
    for line in rows:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        model = cells[0]
        box = blob_run[(model, "mc-0107", "box_alignment")]["details"]
        motion = blob_run[(model, "mc-0107", "motion_direction")]
        got = [box[k] for k in ("map", "ap50", "ap75", "mean_iou", "found")]
        got += [motion["score"], motion["details"]["relation"]]
        assert [float(c) for c in cells[1:]] == pytest.approx(got, abs=0.0015), cells[0]
