"""Live scene parity: VBench's own scene (Tag2Text, .venv-parity) and vbench-cn on the same inputs.

    python tests/parity/run_live_scene.py                   # reduced model, every scene video
    python tests/parity/run_live_scene.py --size full       # the real architecture (slow on CPU)
    python tests/parity/run_live_scene.py --freeze          # rewrite the fixture (reduced)
    python tests/parity/run_live_scene.py --keys            # refresh fixtures/tag2text_keys.json

Steps: encode the scene videos (``{scene}-0.mp4``); write the test vocabulary and the seeded
checkpoint in VBench's layout; run ``reference_scene.py`` with the parity venv's python (one
thread); run ``vbench-cn`` (``evaluate``, one thread) with ``--weights`` overrides; compare
per-video scores and per-frame captions, which must be identical. Exit status 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import harness_scene as hs  # noqa: E402
from run_live import parity_python  # noqa: E402


def extra_path() -> Path:
    """``$VBENCH_CN_PARITY_EXTRA`` or ``<parity venv>/tag2text-extra`` (transformers 4.33.2...)."""
    env = os.environ.get("VBENCH_CN_PARITY_EXTRA")
    return Path(env) if env else parity_python().parents[1] / "tag2text-extra"


def run_reference(
    work: Path, size: str, out: Path, *, videos: Path | None = None, keys: bool = False
) -> dict:
    """Run ``reference_scene.py`` in the parity venv; returns its JSON."""
    cmd = [str(parity_python()), str(harness.HERE / "reference_scene.py"), "--work", str(work)]
    cmd += ["--size", size, "--extra", str(extra_path()), "--out", str(out), "--threads", "1"]
    cmd += ["--keys"] if keys else ["--videos", str(videos)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reference_scene.py failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", choices=("reduced", "full"), default="reduced")
    p.add_argument(
        "--freeze", action="store_true", help="write fixtures/vbench-0.1.5-scene-seed<S>.json"
    )
    p.add_argument("--keys", action="store_true", help="refresh fixtures/tag2text_keys.json")
    p.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = p.parse_args(argv)
    if not parity_python().exists() or not extra_path().exists():
        print(
            f"no parity venv or extras ({parity_python()}, {extra_path()}): "
            "see tests/parity/README.md",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="vbench-cn-scene-") as tmp:
        work = (args.keep or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        if args.keys:
            hs.write_inputs(args.seed, work, None)  # vocabulary only
            layouts = {
                s: run_reference(work, s, work / f"keys-{s}.json", keys=True)["keys"]
                for s in ("reduced", "full")
            }
            hs.KEYS.write_text(json.dumps(layouts, separators=(",", ":")) + "\n", encoding="utf-8")
            print(f"wrote {hs.KEYS.relative_to(harness.REPO)}")
            return 0
        digests = hs.write_videos(work / "videos")
        overrides = hs.write_inputs(args.seed, work, args.size)
        t0 = time.perf_counter()
        ref = run_reference(work, args.size, work / "reference.json", videos=work / "videos")
        t1 = time.perf_counter()
        ours = hs.our_scene(work / "videos", overrides, work / "ours")
        t2 = time.perf_counter()
        problems = hs.compare(ours, ref)
        for name in sorted(ref["scores"]):
            print(
                f"{name}: VBench {ref['scores'][name]:.4f}  "
                f"ours {ours[0].get(name, float('nan')):.4f}"
            )
        print("\n".join(problems) or "identical: every per-video score and every frame's caption")
        print(
            f"\nVBench {t1 - t0:.1f} s, vbench-cn {t2 - t1:.1f} s "
            f"(1 thread each, {args.size} model)"
        )
        if args.freeze:
            fixture = {
                "vbench_version": harness.VBENCH_VERSION,
                "size": args.size,
                "seed": args.seed,
                "threads": ref["threads"],
                "torch_version": ref["torch_version"],
                "transformers_version": ref["transformers_version"],
                "command": "python tests/parity/run_live_scene.py --freeze "
                f"--seed {args.seed} --size {args.size}",
                "videos": {
                    c.name: {"codec": c.codec, "fps": c.fps, "decoded_sha256": digests[c.name]}
                    for c in hs.CASES
                },
                **{k: ref[k] for k in ("scores", "captions", "tags", "tokens", "aggregate")},
            }
            path = hs.fixture_path(args.seed)
            path.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"wrote {path.relative_to(harness.REPO)}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
