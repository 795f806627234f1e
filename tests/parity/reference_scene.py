"""Run VBench 0.1.5's own scene dimension (Tag2Text) on a folder of videos; write what it saw.

Runs INSIDE ``.venv-parity`` with the Tag2Text extras on ``sys.path`` (``--extra``: transformers
4.33.2, huggingface_hub 0.25.2, fairscale 0.4.13; see tests/parity/README.md); never imports
vbench_cn. ``--work`` must hold ``bert-base-uncased/`` (``vocab.txt``, ``config.json``, a weights
file) and ``vbench_cache/caption_model/tag2text_swin_14m.pth`` (``harness_scene.write_inputs``).

    .venv-parity/bin/python tests/parity/reference_scene.py --videos DIR --work DIR \\
        --size reduced --out ref.json --extra .venv-parity/tag2text-extra

VBench is called as a user would (``VBench(...).evaluate(..., mode='vbench_standard')`` with
VBench's own ``VBench_full_info.json``, videos named ``{prompt}-0.mp4``). Two wrappers only
record what passes through VBench's own functions: ``Tag2Text_Caption.generate`` (captions and
tag strings) and the text decoder's ``generate`` (token ids). ``--size reduced`` shrinks the
sizes VBench reads from its config files (Swin width and depth, BERT depth and FFN width) so the
comparison runs in seconds; ``--keys`` dumps the model's state-dict layout instead of scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

#: Sizes of the reduced model (``--size reduced``): what VBench's config files are read as.
REDUCED_SWIN = {
    "embed_dim": 16,
    "depths": [2, 2, 2, 2],
    "num_heads": [1, 2, 2, 4],
    "window_size": 12,
}
REDUCED_BERT = {"num_hidden_layers": 2, "intermediate_size": 256}
REDUCED_Q2L = {"num_hidden_layers": 1, "intermediate_size": 256}


def shrink_configs() -> None:
    """Make VBench's Tag2Text read reduced sizes from its config files (code paths unchanged)."""
    from vbench.third_party.tag2Text import tag2text as t2t

    real_read_json = t2t.read_json

    def read_json(path: str) -> dict:
        cfg = real_read_json(path)
        if path.endswith("config_swinB_384.json"):
            cfg = {**cfg, **REDUCED_SWIN}
            cfg["vision_width"] = REDUCED_SWIN["embed_dim"] * 2 ** (len(REDUCED_SWIN["depths"]) - 1)
        return cfg

    t2t.read_json = read_json
    real_from_json = t2t.BertConfig.from_json_file.__func__

    def from_json_file(cls: type, path: str):  # type: ignore[no-untyped-def]
        cfg = real_from_json(cls, path)
        for key, value in (REDUCED_Q2L if "q2l" in str(path) else REDUCED_BERT).items():
            setattr(cfg, key, value)
        return cfg

    t2t.BertConfig.from_json_file = classmethod(from_json_file)


def record_generation(record: dict) -> None:
    """Wrap VBench's ``generate`` methods so their outputs are kept (results unchanged)."""
    from vbench.third_party.tag2Text import med
    from vbench.third_party.tag2Text.tag2text import Tag2Text_Caption

    caption_generate = Tag2Text_Caption.generate
    decoder_generate = med.BertLMHeadModel.generate

    def generate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = caption_generate(self, *args, **kwargs)
        captions, tags = out
        record["calls"].append({"captions": list(captions), "tags": list(tags)})
        if "keys" not in record:
            record["keys"] = layout(self)
        return out

    def decoder(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = decoder_generate(self, *args, **kwargs)
        record["tokens"].append(out.tolist())
        return out

    Tag2Text_Caption.generate = generate
    med.BertLMHeadModel.generate = decoder


def layout(model) -> list[list[object]]:  # type: ignore[no-untyped-def]
    """``[name, shape, dtype]`` of every state-dict entry (VBench's checkpoint layout)."""
    return [
        [k, list(v.shape), str(v.dtype).removeprefix("torch.")]
        for k, v in model.state_dict().items()
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=Path, help="folder of {scene}-0.mp4 files")
    p.add_argument("--work", required=True, type=Path, help="bert-base-uncased/ and vbench_cache/")
    p.add_argument("--size", choices=("full", "reduced"), default="reduced")
    p.add_argument("--extra", type=Path, required=True, help="folder with transformers 4.33.2 etc.")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--keys", action="store_true", help="only dump the model's state-dict layout")
    args = p.parse_args(argv)
    work = args.work.resolve()
    os.environ["VBENCH_CACHE_DIR"] = str(work / "vbench_cache")  # read by vbench.utils at import
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    sys.path.insert(0, str(args.extra.resolve()))
    os.chdir(work)  # 'bert-base-uncased' resolves to the local folder
    import torch

    torch.set_num_threads(args.threads)
    if args.size == "reduced":
        shrink_configs()
    if args.keys:
        from vbench.third_party.tag2Text.tag2text import tag2text_caption

        model = tag2text_caption(pretrained="", image_size=384, vit="swin_b")
        args.out.write_text(json.dumps({"keys": layout(model)}), encoding="utf-8")
        return 0
    record: dict = {"calls": [], "tokens": []}
    record_generation(record)
    from vbench import VBench

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vbench-scene-") as tmp:
        info = Path(tmp) / "info.json"
        labels = {v.name.rsplit("-", 1)[0] for v in args.videos.glob("*.mp4")}
        full = json.loads(
            (Path(sys.modules["vbench"].__file__).parent / "VBench_full_info.json").read_text()
        )
        info.write_text(
            json.dumps([e for e in full if e["prompt_en"] in labels and "scene" in e["dimension"]])
        )
        bench = VBench("cpu", str(info), tmp)
        bench.evaluate(
            str(args.videos.resolve()), "parity_scene", dimension_list=["scene"], local=True
        )
        result = json.loads((Path(tmp) / "parity_scene_eval_results.json").read_text())["scene"]
    seconds = time.perf_counter() - t0
    videos = [Path(v["video_path"]).name for v in result[1]]
    out = {
        "size": args.size,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "transformers_version": sys.modules["transformers"].__version__,
        "aggregate": result[0],
        "scores": {n: float(v["video_results"]) for n, v in zip(videos, result[1], strict=True)},
        "captions": {n: c["captions"] for n, c in zip(videos, record["calls"], strict=True)},
        "tags": {n: c["tags"] for n, c in zip(videos, record["calls"], strict=True)},
        "tokens": dict(zip(videos, record["tokens"], strict=True)),
        "keys": record.get("keys"),
        "seconds": seconds,
    }
    args.out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
