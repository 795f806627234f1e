"""What motion control costs on top of the detector the semantic dimensions already run.

Measures, on the full OWLv2 B/16 architecture at 960 px with seeded random weights (the cost
does not depend on the weights):

* the detector's forward per frame with and without the open-vocabulary proposals and the
  thumbnail (the extra heads run on the same patch features: one image forward either way);
* the bytes a frame's output takes (COCO rows only vs COCO + proposals + thumbnail);
* the control scorers per video (16 frames, two objects): query scoring + NMS, AP, tracks,
  background motion.

    python bench/control_bench.py --frames 4 --repeat 2          # CPU; ~2 min on 2 cores
    python bench/control_bench.py --device cuda --frames 32      # a GPU

Prints one JSON object; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vbench_cn.features import ExtractorOptions, build_extractor
from vbench_cn.features.detector import MAX_BOXES, Owlv2Coco
from vbench_cn.prompts import by_id
from vbench_cn.scorers.control import box_alignment, motion_direction
from vbench_cn.video import VideoInfo


def _time(fn, repeat: int) -> float:
    fn()  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4, help="frames per forward batch")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    ext: Owlv2Coco = build_extractor(
        "owlv2_coco", ExtractorOptions(device=device, random_weights=True)
    )
    info = VideoInfo("x.mp4", 16, 8.0, 2.0, 1280, 720, "h264", False, "pyav")
    frames = torch.randint(0, 255, (args.frames, 720, 1280, 3), dtype=torch.uint8)
    batch = ext.to_device(ext.prepare(frames, position=0, info=info))

    def coco_only() -> torch.Tensor:  # what the forward computed before motion control
        with torch.inference_mode():
            model = ext.model
            from vbench_cn.features._transforms import CLIP_MEAN, CLIP_STD, normalize

            fmap = model.image_embedder(pixel_values=normalize(batch, CLIP_MEAN, CLIP_STD))[0]
            b, gh, gw, d = fmap.shape
            feats = fmap.reshape(b, gh * gw, d)
            q = ext.query_embeds.to(fmap.dtype).unsqueeze(0).expand(b, -1, -1)
            probs = torch.sigmoid(model.class_predictor(feats, q)[0].float())
            boxes = model.box_predictor(feats, fmap)
            xyxy = torch.cat(
                [boxes[..., :2] - boxes[..., 2:] / 2, boxes[..., :2] + boxes[..., 2:] / 2], -1
            )
            return ext._coco_rows(batch, probs, xyxy.float() * ext.image_size)

    def full() -> torch.Tensor:
        with torch.inference_mode():
            return ext.forward(batch)

    t_coco = _time(coco_only, args.repeat) / args.frames
    t_full = _time(full, args.repeat) / args.frames
    # the added work alone, on patch features of the same shape (independent of the ViT's noise)
    side = ext.image_size // ext.model.config.vision_config.patch_size
    width = ext.model.config.vision_config.hidden_size
    patch_feats = torch.randn(args.frames, side * side, width, device=device)
    patch_boxes = torch.rand(args.frames, side * side, 4, device=device)

    def extra() -> torch.Tensor:
        with torch.inference_mode():
            rows = ext._proposal_rows(patch_feats, patch_boxes)
            gray = batch.float().mean(1, keepdim=True)
            return rows, torch.nn.functional.adaptive_avg_pool2d(gray, ext.thumb_size)

    t_extra = _time(extra, max(args.repeat, 3)) / args.frames
    out = full()
    # scorers on one video of 16 frames: the packed outputs of 16 frames, two named objects
    rows = out.repeat((16 + args.frames - 1) // args.frames, 1)[:16].cpu()
    feats = ext.finalize(rows, info=info)
    prompt = by_id()["mc-0107"]
    from types import SimpleNamespace

    p = SimpleNamespace(meta=prompt.meta)
    with torch.inference_mode():
        queries = ext.encode_text(["red toy car", "blue toy car"], lang="en").cpu()
    times = torch.linspace(0, 1, 16)
    t_box = _time(
        lambda: box_alignment(feats, prompt=p, text_features=queries, frame_times=times),
        args.repeat,
    )
    t_motion = _time(
        lambda: motion_direction(feats, prompt=p, text_features=queries, frame_times=times),
        args.repeat,
    )
    print(
        json.dumps(
            {
                "device": str(device),
                "threads": torch.get_num_threads(),
                "frames_per_batch": args.frames,
                "forward_s_per_frame_coco_only": round(t_coco, 3),
                "forward_s_per_frame_with_proposals_and_thumbnail": round(t_full, 3),
                "extra_s_per_frame_proposals_and_thumbnail": round(t_extra, 4),
                "extra_share_of_coco_forward": round(t_extra / t_coco, 4),
                "output_bytes_per_frame_coco_only": MAX_BOXES * 7 * 4,
                "output_bytes_per_frame": int(out.shape[1]) * 4,
                "box_alignment_s_per_video": round(t_box, 4),
                "motion_direction_s_per_video": round(t_motion, 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
