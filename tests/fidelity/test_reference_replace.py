"""``--overwrite`` replaces a reference vbench-cn wrote, never a folder of someone else's (17.1)."""

from __future__ import annotations

import numpy as np
import pytest

from vbench_cn.reference import ReferenceSetError, reference_dir, save_reference


def _dims() -> dict:
    features = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    return {"fvd_i3d": ({"features": features}, {"extractor": "i3d_fvd", "count": 4})}


def test_overwrite_replaces_only_a_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path))
    mine = reference_dir("my-videos")
    mine.mkdir(parents=True)
    (mine / "holiday.mp4").write_bytes(b"not a reference")
    with pytest.raises(ReferenceSetError, match="holds no vbench-cn reference"):
        save_reference("my-videos", _dims(), overwrite=True)
    assert (mine / "holiday.mp4").read_bytes() == b"not a reference"
    built = save_reference("ref-a", _dims())
    again = save_reference("ref-a", _dims(), overwrite=True)  # its own: replaced
    assert built == again and (again / "meta.json").is_file()
