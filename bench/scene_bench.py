"""Scene (Tag2Text): memory of loading the 4.48 GB checkpoint; speed against VBench, same frames.

    python bench/scene_bench.py memory            # peak RSS loading a file of the real layout/size
    python bench/scene_bench.py speed --size full # ours vs VBench 0.1.5 on the scene videos, CPU
    python bench/scene_bench.py profile           # where our time goes, per stage (full size)

``memory`` writes (under ``bench/out/``, git-ignored; deleted afterwards unless ``--keep``) a
checkpoint with the real layout and size from seeded random values: ``{"model": the full
Tag2Text state dict (VBench's key names), "optimizer": Adam's ``exp_avg``/``exp_avg_sq`` for
every parameter, "config", "epoch"}`` = 4.48 GB like ``tag2text_swin_14m.pth``. Then, each in
a fresh process (peak RSS from ``os.wait4``): our ``load_tag2text`` (memory-mapped, assigned),
and VBench's ``tag2text_caption(pretrained=...)`` in ``.venv-parity`` (``torch.load`` of the
whole file, then ``load_state_dict`` into a model built with random weights).

``speed`` is ``tests/parity/run_live_scene.py`` (same videos, vocabulary and seeded checkpoint
for both sides, one thread each) and reports both wall times and whether every caption agreed.
``profile`` times our stages (Swin, tagging head, tag encoder, beam search) on 16 frames.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "tests" / "parity"))


def write_real_size_checkpoint(path: Path, seed: int = 0) -> int:
    """A file shaped like tag2text_swin_14m.pth (model, Adam state; float32); returns its size."""
    import torch

    from vbench_cn.features.tag2text_arch import Tag2Text

    with torch.device("meta"):
        layout = Tag2Text().state_dict()
    gen = torch.Generator().manual_seed(seed)
    model, seen = {}, {}
    for key, t in layout.items():
        base = key.replace("tag_encoder.", "vision_multi.", 1)
        if key.startswith("tag_encoder.encoder.layer.") and base in layout:
            continue  # stored once, under both names (filled below)
        model[key] = torch.randn(t.shape, generator=gen) * 0.02
    for key in layout:
        if key not in model:
            model[key] = model[key.replace("tag_encoder.", "vision_multi.", 1)]
    head = "text_decoder.cls.predictions."
    model["text_decoder.bert.embeddings.word_embeddings.weight"] = model[head + "decoder.weight"]
    model[head + "bias"] = model[head + "decoder.bias"]
    for key in list(model):
        seen.setdefault(model[key].data_ptr(), key)
    params = [model[k] for k in seen.values()]
    # Adam's two moments: zeros from one sparse memory-mapped file, so writing 3 GB of them
    # costs page cache, not process memory (the reader below never looks at them anyway)
    total = sum(p.numel() for p in params)
    moments_file = path.with_suffix(".moments")
    moments_file.write_bytes(b"")
    os.truncate(moments_file, 2 * total * 4)
    flat = torch.from_file(str(moments_file), shared=True, size=2 * total, dtype=torch.float32)
    state, start = {}, 0
    for i, p in enumerate(params):
        n = p.numel()
        avg = flat[start : start + n].view(p.shape)
        sq = flat[total + start : total + start + n].view(p.shape)
        state[i] = {"step": torch.tensor(1000.0), "exp_avg": avg, "exp_avg_sq": sq}
        start += n
    groups = [
        {
            "lr": 1e-5,
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "weight_decay": 0.05,
            "amsgrad": False,
            "params": list(range(len(params))),
        }
    ]
    torch.save(
        {
            "model": model,
            "optimizer": {"state": state, "param_groups": groups},
            "config": {"image_size": 384, "vit": "swin_b"},
            "epoch": 4,
        },
        path,
    )
    moments_file.unlink()
    return path.stat().st_size


#: Appended to each measured script: the process's own high-water mark (``VmHWM``). ``wait4``'s
#: ``ru_maxrss`` would also count what the forked child inherited before ``exec``.
HIGH_WATER = """
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print("VmHWM_kB", hwm)
"""


def _peak_rss(cmd: list[str]) -> tuple[float, float]:
    """Run a measured script; returns (seconds, its peak RSS in GiB). Output goes to a log."""
    log = OUT / "scene-memory.log"
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed (exit {proc.returncode}); see {log}")
    hwm = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("VmHWM_kB")]
    return time.perf_counter() - t0, int(hwm[-1]) / 1024**2


OURS_LOAD = (
    """
import sys, torch
from vbench_cn.features import ExtractorOptions
from vbench_cn.features.tag2text import load_tag2text
files = {"tag2text_swin_14m": sys.argv[1], "bert_base_uncased_vocab": sys.argv[2]}
opts = ExtractorOptions(weights_overrides=files)
model, tok, wid = load_tag2text(opts)
with torch.inference_mode():
    x = sum(float(p.sum()) for p in model.parameters())  # touch every weight once
print(wid, sum(p.numel() for p in model.parameters()))
"""
    + HIGH_WATER
)

VBENCH_LOAD = (
    """
import os, sys
sys.path.insert(0, sys.argv[3]); os.chdir(sys.argv[2])
from vbench.third_party.tag2Text.tag2text import tag2text_caption
model = tag2text_caption(pretrained=sys.argv[1], image_size=384, vit="swin_b")
print(sum(p.numel() for p in model.parameters()))
"""
    + HIGH_WATER
)


def memory(args: argparse.Namespace) -> dict:
    import harness_scene as hs
    from run_live_scene import extra_path, parity_python

    OUT.mkdir(parents=True, exist_ok=True)
    ckpt = OUT / "tag2text_swin_14m-random.pth"
    work = OUT / "scene-work"
    overrides = hs.write_inputs(0, work, None)
    t0 = time.perf_counter()
    if not ckpt.exists():  # in a child, so this process stays small
        code = f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import scene_bench as b; "
        subprocess.run(
            [sys.executable, "-c", code + f"b.write_real_size_checkpoint(b.Path({str(ckpt)!r}))"],
            check=True,
        )
    size = ckpt.stat().st_size
    result = {"file_bytes": size, "write_seconds": round(time.perf_counter() - t0, 1)}
    try:
        vocab = overrides["bert_base_uncased_vocab"]
        sec, rss = _peak_rss([sys.executable, "-c", OURS_LOAD, str(ckpt), vocab])
        result["ours"] = {"seconds": round(sec, 1), "peak_rss_gib": round(rss, 2)}
        if parity_python().exists() and not args.skip_vbench:
            cmd = [str(parity_python()), "-c", VBENCH_LOAD, str(ckpt), str(work), str(extra_path())]
            sec, rss = _peak_rss(cmd)
            result["vbench"] = {"seconds": round(sec, 1), "peak_rss_gib": round(rss, 2)}
    finally:
        if not args.keep:
            ckpt.unlink(missing_ok=True)
    return result


def speed(args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "parity" / "run_live_scene.py"),
        "--size",
        args.size,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return {
        "size": args.size,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "exit": proc.returncode,
        "report": proc.stdout[-3000:],
    }


def profile(args: argparse.Namespace) -> dict:
    import torch

    from vbench_cn.features import tag2text as T
    from vbench_cn.features.tag2text_arch import Tag2Text, Tag2TextConfig
    from vbench_cn.features.wordpiece import WordPieceTokenizer
    from vbench_cn.weights import randomize_

    torch.set_num_threads(args.threads)
    cfg = Tag2TextConfig()
    model = randomize_(Tag2Text(cfg), 0).eval()
    T._make_realistic(model, torch.Generator().manual_seed(0))
    cap = T.Captioner(model, WordPieceTokenizer(T.random_mode_vocab()), T.tag_list())
    images = torch.randn(args.frames, 3, 384, 384)
    times = {}
    with torch.inference_mode():
        t = time.perf_counter()
        emb = model.encode_image(images)
        times["swin"] = time.perf_counter() - t
        t = time.perf_counter()
        logits = model.tag_logits(emb)
        times["tag_head"] = time.perf_counter() - t
        keep = cap.tag_mask(logits)
        t = time.perf_counter()
        cap(images)
        times["whole_forward"] = time.perf_counter() - t
    times["tags_per_frame"] = float(keep.sum(1).float().mean())
    times["decoder_and_tag_encoder"] = times["whole_forward"] - times["swin"] - times["tag_head"]
    return {
        "frames": args.frames,
        "threads": args.threads,
        **{k: round(v, 2) for k, v in times.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--keep", action="store_true")
    m.add_argument("--skip-vbench", action="store_true")
    s = sub.add_parser("speed")
    s.add_argument("--size", choices=("reduced", "full"), default="full")
    f = sub.add_parser("profile")
    f.add_argument("--frames", type=int, default=16)
    f.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    result = {"memory": memory, "speed": speed, "profile": profile}[args.what](args)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"scene-{args.what}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
