"""Our box-alignment AP against pycocotools' COCOeval (in ``.venv-parity``) on random boxes.

Frames are COCO images, objects are categories, the interpolated target boxes are the
ground truth, detections carry their scores; COCOeval's AP@[.5:.95], AP@0.5 and AP@0.75
(``stats[0:3]``, area "all", 100 detections) must equal :func:`box_alignment_metrics`'s
``map``, ``ap50`` and ``ap75`` (mean over objects, as COCO averages over categories).
Marker ``parity``: ``pytest -m parity tests/control``; skipped when the venv is absent.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
import torch

from vbench_cn.scorers.control import box_alignment_metrics

PARITY_PY = Path(__file__).resolve().parents[2] / ".venv-parity" / "bin" / "python"

REFERENCE = textwrap.dedent("""
    import json, sys, contextlib, io
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    case = json.load(open(sys.argv[1]))
    gt = COCO()
    gt.dataset = {"images": case["images"], "annotations": case["gt"], "categories": case["cats"]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(case["dt"]) if case["dt"] else None
        if dt is None:
            print(json.dumps([0.0, 0.0, 0.0]), file=sys.stderr)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate(); ev.accumulate(); ev.summarize()
    print(json.dumps([float(x) for x in ev.stats[:3]]))
""")


def _case(seed: int) -> tuple[dict, dict]:
    gen = torch.Generator().manual_seed(seed)
    frames, objects, cands = 16, 2, 3
    centres = torch.rand(frames, objects, 2, generator=gen) * 0.6 + 0.2
    size = torch.rand(frames, objects, 2, generator=gen) * 0.2 + 0.1
    targets = torch.cat([centres - size / 2, centres + size / 2], dim=-1)
    # detections: the target's centre and size jittered (always a proper box)
    d_centre = (
        centres[:, :, None] + (torch.rand(frames, objects, cands, 2, generator=gen) - 0.5) * 0.08
    )
    d_size = size[:, :, None] * (0.75 + 0.5 * torch.rand(frames, objects, cands, 2, generator=gen))
    dets = torch.cat([d_centre - d_size / 2, d_centre + d_size / 2], dim=-1).clamp(0, 1)
    scores = torch.rand(frames, objects, cands, generator=gen)
    scores[scores < 0.3] = 0.0  # missing detections
    ours = box_alignment_metrics(dets, scores, targets, min_score=0.1)
    scale = torch.tensor([1280.0, 720, 1280, 720])

    def xywh(b: torch.Tensor) -> list[float]:
        x0, y0, x1, y1 = (b * scale).tolist()
        return [x0, y0, x1 - x0, y1 - y0]

    gt, dt = [], []
    for f in range(frames):
        for q in range(objects):
            box = xywh(targets[f, q])
            gt.append(
                {
                    "id": len(gt) + 1,
                    "image_id": f,
                    "category_id": q + 1,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
            for m in range(cands):
                if scores[f, q, m] >= 0.1:
                    dt.append(
                        {
                            "image_id": f,
                            "category_id": q + 1,
                            "bbox": xywh(dets[f, q, m]),
                            "score": float(scores[f, q, m]),
                        }
                    )
    case = {
        "images": [{"id": f, "width": 1280, "height": 720} for f in range(frames)],
        "cats": [{"id": q + 1, "name": f"o{q}"} for q in range(objects)],
        "gt": gt,
        "dt": dt,
    }
    return case, ours


@pytest.mark.parity
@pytest.mark.skipif(not PARITY_PY.exists(), reason="no .venv-parity (tests/parity/README.md)")
@pytest.mark.parametrize("seed", range(4))
def test_average_precision_equals_cocoeval(tmp_path: Path, seed: int) -> None:
    case, ours = _case(seed)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    script = tmp_path / "ref.py"
    script.write_text(REFERENCE, encoding="utf-8")
    out = subprocess.run(
        [str(PARITY_PY), str(script), str(path)], capture_output=True, text=True, check=True
    )
    coco_map, coco_ap50, coco_ap75 = json.loads(out.stdout.strip().splitlines()[-1])
    assert ours["map"] == pytest.approx(coco_map, abs=1e-6)
    assert ours["ap50"] == pytest.approx(coco_ap50, abs=1e-6)
    assert ours["ap75"] == pytest.approx(coco_ap75, abs=1e-6)
