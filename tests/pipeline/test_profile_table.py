"""`--profile`'s table: one row per extractor, each column read from the profile summary."""

from __future__ import annotations

import io

from vbench_cn.runner.progress import Profile, print_profile


def test_profile_table_shows_each_extractors_figures() -> None:
    profile = Profile()
    profile.frames["clip_b32"] = 10
    profile.batches["clip_b32"] = 3
    profile.forward_seconds["clip_b32"] = 2.0
    profile.wall_seconds = 4.0
    profile.videos = 1
    out = io.StringIO()
    print_profile(profile, out)
    row = next(line for line in out.getvalue().splitlines() if "clip_b32" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["clip_b32", "10", "3", "2.0", "0.0", "5.0", "0.5"]


def test_decode_workers_add_their_seconds_under_the_profiles_lock() -> None:
    """Several decode threads add to one profile: an add waits while another holds the lock."""
    import threading

    profile = Profile()
    profile.add_background(probe=1.0, decode=2.0)
    with profile._lock:  # another worker is adding
        worker = threading.Thread(target=profile.add_background, kwargs={"decode": 5.0})
        worker.start()
        worker.join(timeout=0.3)
        assert worker.is_alive() and profile.decode_seconds == 2.0  # it waits its turn
    worker.join(timeout=5)
    assert (profile.probe_seconds, profile.decode_seconds) == (1.0, 7.0)
