"""What a run is asked to do: :class:`RunOptions`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from vbench_cn.video import DEFAULT_CHUNK_FRAMES
from vbench_cn.video_torchcodec import DEFAULT_DECODER

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Everything a run needs besides the videos and the specs."""

    out_dir: Path
    device: str = "auto"
    random_weights: bool = False
    weights_dir: str | None = None
    weights_overrides: dict[str, str] = field(default_factory=dict)
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    max_pending_videos: int = 8
    retry_errors: bool = False
    all_prompts: bool = False
    rank: int = 0
    world_size: int = 1
    reference: str | None = None
    progress: bool = True
    profile: bool = False
    amp: bool = True
    precision: str = "parity"  # vbench_cn.device_setup.PRECISIONS
    batch_sizes: dict[str, int] = field(default_factory=dict)
    decode_workers: int = 0  # 0: Runner.decode_workers decides
    decoder: str = DEFAULT_DECODER  # vbench_cn.video_torchcodec.DECODERS
    decode_queue_bytes: int = 0  # 0: DECODE_QUEUE_BYTES; decoded frames waiting, all workers
