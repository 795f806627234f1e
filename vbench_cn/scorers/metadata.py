"""Duration-family scorers read from the probe: length, frame rate, resolution.

Each is capped (``cap_*`` in the spec) so a model cannot win a category by being longer,
faster or larger than any viewer needs; the spec normalises by the same cap.
"""

from __future__ import annotations

from typing import Any

from vbench_cn.scorers import NotApplicable, Score, scorer
from vbench_cn.video import VideoInfo


@scorer("metadata.duration_seconds")
def duration_seconds(_: Any, *, video: VideoInfo, cap_seconds: float = 60.0) -> Score:
    """Shown duration in seconds, capped at ``cap_seconds`` (longer is better up to the cap).

    Example:
        >>> from vbench_cn.video import VideoInfo
        >>> info = VideoInfo("a.mp4", 48, 8.0, 6.0, 64, 64, "h264", False, "decord")
        >>> duration_seconds(None, video=info, cap_seconds=60.0).value
        6.0
    """
    if video.duration_seconds <= 0:
        raise NotApplicable("duration unknown (no timestamps and no frame rate)")
    return Score(
        min(video.duration_seconds, cap_seconds), {"duration_seconds": video.duration_seconds}
    )


@scorer("metadata.frame_rate")
def frame_rate(_: Any, *, video: VideoInfo, cap_fps: float = 30.0) -> Score:
    """Average frames per second, capped at ``cap_fps`` (smoother is better up to the cap)."""
    if video.fps <= 0:
        raise NotApplicable("frame rate unknown")
    return Score(
        min(video.fps, cap_fps),
        {"fps": video.fps, "variable_frame_rate": video.variable_frame_rate},
    )


@scorer("metadata.resolution")
def resolution(_: Any, *, video: VideoInfo, cap_short_side: float = 1080.0) -> Score:
    """Shorter side in pixels, capped at ``cap_short_side`` (sharper is better up to the cap)."""
    short = min(video.width, video.height)
    if short <= 0:
        raise NotApplicable("frame size unknown")
    return Score(float(min(short, cap_short_side)), {"width": video.width, "height": video.height})
