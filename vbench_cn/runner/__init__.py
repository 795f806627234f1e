"""The runner: plan, decode each video once, batch backbones across videos, score, record.

For each video the selected dimensions are grouped by feature key (extractor, sampling):
dimensions that share a key share the decoded frames and the extractor's outputs. The
union of the frames every group needs is decoded once, chunk by chunk; on an accelerator
each chunk is uploaded once (:mod:`vbench_cn.frame_upload`) and shared by the extractors that
prepare on the device. Each chunk is prepared per group and queued in a per-extractor batcher
that mixes videos, so a forward pass sees full batches. When all of a video's outputs are
back its scorers run and its records are written (flushed) at once: a killed run loses at
most the videos in flight. Set-level dimensions are scored in one pass after the run.

One module per job: :mod:`~vbench_cn.runner.core` (the loop and per-video scoring),
:mod:`~vbench_cn.runner.decode` (probe, decode workers, byte-bounded queue),
:mod:`~vbench_cn.runner.batching` (batchers, out-of-memory back-off, batch sizes),
:mod:`~vbench_cn.runner.transfer` (device-to-host copies), :mod:`~vbench_cn.runner.progress`
(profile, progress bar), :mod:`~vbench_cn.runner.sets` (the set-level pass) and
:mod:`~vbench_cn.runner.options`. The names below are the package's interface.
"""

from vbench_cn.runner.batching import (
    BATCH_REFERENCE_FREE_BYTES,
    Batcher,
    Group,
    autocast_for,
    scaled_batch_size,
    select_frames,
)
from vbench_cn.runner.core import Runner, clip_fractions, prompt_text_field
from vbench_cn.runner.decode import (
    CHUNK_BYTES,
    DECODE_QUEUE_BYTES,
    chunk_frames_for,
    infos_of,
    probe_all,
)
from vbench_cn.runner.options import RunOptions
from vbench_cn.runner.progress import Profile, print_profile

# The names these had when the runner was one module (tests and benches import them).
_Batcher, _Group, _autocast, _select = Batcher, Group, autocast_for, select_frames

__all__ = [
    "BATCH_REFERENCE_FREE_BYTES",
    "CHUNK_BYTES",
    "DECODE_QUEUE_BYTES",
    "Batcher",
    "Group",
    "Profile",
    "RunOptions",
    "Runner",
    "autocast_for",
    "chunk_frames_for",
    "clip_fractions",
    "infos_of",
    "print_profile",
    "probe_all",
    "prompt_text_field",
    "scaled_batch_size",
    "select_frames",
]
