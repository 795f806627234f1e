"""What determines a score, so that a resumed run reuses a record only while it still holds.

A record is identified by (model, video, dimension, version); whether it may be reused
depends on its inputs, written into it when it is scored:

* ``source``: the video file (size, modification time, sha256 of the content). A file
  whose size and mtime are unchanged is taken as unchanged (one ``stat``); otherwise its
  content hash decides, so a copied or touched file is not scored again but a regenerated
  one is.
* ``probe``: what the probe found (frames, fps, duration, size, codec, rotation, pixel
  aspect); a probe that disagrees with the stored one means the video changed, or the
  frames the backbones see did, whatever the file system says.
* ``spec_sha256``, ``weights`` (the checkpoint's ``name@sha256`` or ``"random"``),
  ``random_weights``: which spec and which weights scored it.
* ``inputs``: the prompt (for dimensions that read it), the numeric precision, and the
  decoder of the native-size frames (``pyav``, ``torchcodec-cpu``, ``torchcodec-cuda``:
  NVDEC's pixels differ from FFmpeg's), for dimensions that read them.

:func:`changes` lists, in words, every input that differs; an empty list means reuse.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from vbench_cn.video_torchcodec import DEFAULT_DECODER

#: Probe fields a score can depend on (the path and decoder backend are not among them).
PROBE_FIELDS = (
    "num_frames",
    "fps",
    "duration_seconds",
    "width",
    "height",
    "codec",
    "rotation",
    "sample_aspect_ratio",
)

#: What a stored probe without the field meant: records older than the probe's display
#: handling were scored on frames as coded (not turned, pixels not stretched).
PROBE_DEFAULTS: dict[str, Any] = {"rotation": 0, "sample_aspect_ratio": "1:1"}

#: What a stored ``inputs`` without the field meant: records older than ``--decoder`` were
#: decoded by PyAV.
INPUT_DEFAULTS: dict[str, Any] = {"decoder": DEFAULT_DECODER}


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"size", "mtime_ns", "sha256"}`` of a file (reads it once)."""
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()}


def file_changed(stored: Mapping[str, Any] | None, path: str | os.PathLike[str]) -> str | None:
    """Why the file at ``path`` is not the one ``stored`` describes, or None when it is.

    Size and mtime equal: unchanged (no read). Otherwise the content hash decides.
    """
    if not isinstance(stored, Mapping) or not stored.get("sha256"):
        return "no file identity in the record (made by an older vbench-cn)"
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot stat the file ({exc.strerror})"
    if st.st_size == stored.get("size") and st.st_mtime_ns == stored.get("mtime_ns"):
        return None
    if st.st_size == stored.get("size") and file_identity(path)["sha256"] == stored["sha256"]:
        return None  # copied or touched, same content
    return "the video file changed on disk"


def probe_changed(stored: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str | None:
    """The first probe field that differs (``"fps 8.0 → 24.0"``), or None."""
    if not isinstance(stored, Mapping):
        return None
    for key in PROBE_FIELDS:
        before = stored.get(key, PROBE_DEFAULTS.get(key))
        if before is not None and key in current and before != current[key]:
            return f"the probe differs ({key} {before} → {current[key]})"
    return None


def digest(value: Any) -> str:
    """A short stable hash of a JSON-able value (prompt texts and metadata)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def changes(
    record: Mapping[str, Any],
    expected: Mapping[str, Any],
    *,
    path: str | os.PathLike[str] | None = None,
    probe: Mapping[str, Any] | None = None,
    memo: dict[Any, str | None] | None = None,
) -> list[str]:
    """Why ``record`` cannot be reused: each input that differs from ``expected``, in words.

    Args:
        record: the stored record.
        expected: what a record scored now would hold: ``spec_sha256``, ``weights``,
            ``random_weights``, ``inputs`` and, for a video, ``prompt_id``, ``prompt_lang``
            and ``sample`` (a score filed under another prompt would be aggregated wrongly).
        path: the video file (video-level records), checked against ``record["source"]``.
        probe: the video's probe now (``VideoInfo.to_dict()``), when known.
        memo: a dict kept across calls, so a file shared by many records is checked once.
    """
    reasons: list[str] = []
    if record.get("spec_sha256") != expected.get("spec_sha256"):
        reasons.append("the dimension's spec changed")
    if bool(record.get("random_weights")) != bool(expected.get("random_weights")):
        was, now = ("random", "real") if record.get("random_weights") else ("real", "random")
        reasons.append(f"weights {was} → {now}")
    elif record.get("weights") != expected.get("weights"):
        reasons.append(f"weights {record.get('weights')} → {expected.get('weights')}")
    for key in ("prompt_id", "prompt_lang", "sample"):  # what aggregation groups the score by
        if key in expected and record.get(key) != expected[key]:
            reasons.append(f"the video's {key.replace('_', ' ')} changed")
            break
    stored_inputs = record.get("inputs")
    if not isinstance(stored_inputs, Mapping):
        reasons.append("no input fingerprint in the record (made by an older vbench-cn)")
    else:
        for key, value in sorted((expected.get("inputs") or {}).items()):
            before = stored_inputs.get(key, INPUT_DEFAULTS.get(key))
            if before != value:
                reasons.append(
                    f"{key} {before} → {value}" if key in INPUT_DEFAULTS else f"{key} changed"
                )
    if path is not None:
        source = record.get("source")
        key = (os.fspath(path), json.dumps(source, sort_keys=True, default=str))
        if memo is not None and key in memo:
            why = memo[key]
        else:
            why = file_changed(source, path)
            if memo is not None:
                memo[key] = why
        if why:
            reasons.append(why)
    if probe is not None and not reasons:
        why = probe_changed(record.get("probe"), probe)
        if why:
            reasons.append(why)
    return reasons
