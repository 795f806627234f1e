"""VideoMAE-v2 ViT-g clip embeddings for content-debiased FVD (Ge et al., CVPR 2024).

Same clips as the I3D extractor (:mod:`vbench_cn.features.i3d`: non-overlapping 16-frame
clips, short videos padded with their last frame). Input convention of cd-fvd 0.1.1
``preprocess_videomae``: values in [0, 1] (no mean/std), each frame resized to 224x224
(bilinear, ``align_corners=False``, no antialias); the feature is ``forward_features``, the
1408-d ``fc_norm`` of the mean token.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import torch

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features.i3d import CLIP_FRAMES, make_clips
from vbench_cn.features.videomae_arch import VIT_GIANT, VideoMAEv2, count_params
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights


def _build() -> torch.nn.Module:
    from vbench_cn.features.videomae_arch import build_videomae_g

    return build_videomae_g()


def _convert(raw: Any) -> dict[str, torch.Tensor]:
    from vbench_cn.features.videomae_arch import convert_videomae_state_dict

    return convert_videomae_state_dict(raw)


VIDEOMAE_WEIGHTS = register_weights(
    Weights(
        name="videomaev2_vitg_ssv2",
        build=_build,
        # The checkpoint cd-fvd downloads (cdfvd/third_party/VideoMAEv2/utils.py, cd-fvd 0.1.1).
        source="https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/videomaev2/"
        "vit_g_hybrid_pt_1200e_ssv2_ft.pth",
        filename="vit_g_hybrid_pt_1200e_ssv2_ft.pth",
        sha256=None,
        unpinned_reason="OpenGVLab publishes no digest for its model zoo files ("
        "searched: the code, pages and issues corpora "
        "for the file name with sha256); see docs/weights.md",
        # VideoMAE-v2's save_model stores the training argparse.Namespace beside 'model'
        pickled=("argparse", "numpy_scalars"),
        size_bytes=None,
        license="MIT (OpenGVLab/VideoMAEv2; the model zoo asks users to fill a request form)",
        transforms="16 consecutive frames, each resized to 224x224 (bilinear, "
        "align_corners=False, no antialias, aspect not kept), [0, 255] -> [0, 1], no mean/std; "
        "features: fc_norm of the mean token (1408-d)",
        meta={
            "num_params": count_params(
                VIT_GIANT
            ),  # 1,011,855,918; checked against build() in a slow test
            "paper": "Wang et al., VideoMAE V2, CVPR 2023; Ge et al., On the Content Bias in "
            "Frechet Video Distance, CVPR 2024",
            "reference_impl": "cd-fvd 0.1.1 cdfvd/third_party/VideoMAEv2 "
            "(vit_giant_patch14_224, SSv2 fine-tuned)",
            "used_by": ["fvd_videomae"],
            "format": "torch.save dict {'model' or 'module': state dict, 'args': Namespace, ...}",
        },
        convert=_convert,
    )
)


class VideoMAEFeatures(FeatureExtractor):
    """VideoMAE-v2 ViT-g embeddings of non-overlapping 16-frame clips (cd-FVD detector)."""

    name = "videomae_fvd"
    overlap = CLIP_FRAMES - 1
    batch_size = 4
    weights = ("videomaev2_vitg_ssv2",)
    amp_ok: ClassVar[bool] = True  # cd-fvd offers half precision for this 1B-parameter model

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        return make_clips(
            frames,
            position=position,
            info=info,
            size=VIT_GIANT.image_size,
            clip_frames=VIT_GIANT.num_frames,
        )

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        model = cast(VideoMAEv2, self.model)
        return model.forward_features(batch)
