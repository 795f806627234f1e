"""Lazy registration table: extractor name -> module that defines it (no model code imported)."""

from __future__ import annotations

from vbench_cn.features import add_builtin

# One line per extractor. Modules register their classes with @register_extractor.
add_builtin("frame_difference", "vbench_cn.features.pixels")
add_builtin("video_metadata", "vbench_cn.features.pixels")
add_builtin("rapidocr", "vbench_cn.features.ocr")
add_builtin("owlv2_coco", "vbench_cn.features.detector")
add_builtin("umt_l16_k400", "vbench_cn.features.umt")
add_builtin("clip_places365", "vbench_cn.features.scene")
add_builtin("viclip_l14", "vbench_cn.features.viclip")
add_builtin("cnclip_vitb16", "vbench_cn.features.cnclip")
add_builtin("cnclip_vitl14", "vbench_cn.features.cnclip")
add_builtin("video_text", "vbench_cn.features.cnclip")
add_builtin("style_clip", "vbench_cn.features.cnclip")
add_builtin("amt_s", "vbench_cn.features.amt")
add_builtin("tiny_pixels", "vbench_cn.features.windows")
add_builtin("sharpness_noise", "vbench_cn.features.windows")
add_builtin("dino_vitb16", "vbench_cn.features.dino")
add_builtin("clip_vitb32", "vbench_cn.features.clip")
add_builtin("clip_vitl14_aesthetic", "vbench_cn.features.clip")
add_builtin("raft_things", "vbench_cn.features.raft")
add_builtin("musiq_spaq", "vbench_cn.features.musiq")
add_builtin("i3d_fvd", "vbench_cn.features.i3d")
add_builtin("videomae_fvd", "vbench_cn.features.videomae")
add_builtin("inception_fid", "vbench_cn.features.inception")
