"""Scene (Tag2Text) parity harness, our side: videos, vocabulary, seeded checkpoint, our captions.

VBench's scene needs what the seven quality dimensions do not: prompts with a scene label
(its standard mode and ``VBench_full_info.json``: videos are named ``{scene}-0.mp4``; ours map
them to our suite's prompts with the same ``meta.scene`` through a manifest), a BERT
vocabulary (built here: the real one cannot be fetched offline) and a checkpoint in VBench's
layout, ``{"model": state_dict}``, whose seeded random heads tag and caption like a model:
a few percent of the tags pass the 0.7 threshold (two deleted tags always do, so the deletion
is exercised) and the LM head favours a small set of words that includes the scene labels, so
captions vary with the frames and the substring rule meets both outcomes.

``reference_scene.py`` runs the other side in ``.venv-parity``.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from seeded import seeded_state_dict  # noqa: E402

KEYS = HERE / "fixtures" / "tag2text_keys.json"
BACKBONE = "tag2text_swin_14m"
#: Words the seeded LM head favours: the prompt, the harness scene labels, fillers.
CAPTION_WORDS = (
    "a picture of alley bar sky amusement park street with the and in on people view "
    "building road water light night city red blue green tree car man woman"
).split()
PROMPT_WORDS = ("a", "picture", "of")
#: Tags whose bias is raised so they always pass the threshold: two of VBench's deleted ones.
ALWAYS_TAGGED = (127, 3351)


@dataclass(frozen=True)
class SceneCase:
    """One scene video: VBench's prompt (its scene label), our prompt id, frames, codec."""

    scene: str
    prompt_id: str
    make: Callable[[], np.ndarray]
    codec: str = "libx264"
    fps: float = 8.0

    @property
    def name(self) -> str:
        return f"{self.scene}-0.mp4"


def _cases() -> list[SceneCase]:
    from vbench_cn import synthetic as s

    return [
        SceneCase("alley", "sn-0001", lambda: s.translating_clip(20, 128, 160, pixels_per_frame=2)),
        SceneCase("bar", "sn-0008", lambda: s.noise_clip(5, 131, 157, seed=4), codec="libx264rgb"),
        SceneCase("sky", "sn-0086", lambda: s.scene_cut_clip(17, 144, 176, cut_at=7)),
        SceneCase(
            "amusement park", "sn-0002", lambda: s.translating_clip(16, 96, 128, pixels_per_frame=5)
        ),
    ]


CASES: list[SceneCase] = _cases()
#: Videos of the default (frozen) run: kept small for 2 cores.
DEFAULT_VIDEOS = ("alley-0.mp4", "bar-0.mp4")  # 20 frames; 5 frames (VBench pads with the last)


def write_videos(folder: Path, names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Encode the cases into ``folder``; returns each file's decoded-frames sha256."""
    from harness import decoded_sha256  # the quality harness's digest

    from vbench_cn import synthetic as s

    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for case in CASES:
        if names is not None and case.name not in names:
            continue
        path = folder / case.name
        s.write_video(path, case.make(), fps=case.fps, codec=case.codec)
        digests[case.name] = decoded_sha256(path)
    return digests


def write_manifest(videos: Path, path: Path) -> Path:
    """A manifest mapping each video to our prompt with the same scene label."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "model", "prompt_id", "sample"])
        for case in CASES:
            if (videos / case.name).exists():
                w.writerow([str(videos / case.name), "parity", case.prompt_id, 0])
    return path


def vocabulary() -> list[str]:
    """The test vocabulary: BERT's special tokens at their ids, the prompt, tags, caption words."""
    from vbench_cn.features.tag2text import tag_list
    from vbench_cn.features.wordpiece import synthetic_vocab

    return synthetic_vocab([" ".join(CAPTION_WORDS), *tag_list()])


def _template(size: str) -> dict[str, torch.Tensor]:
    layout = json.loads(KEYS.read_text(encoding="utf-8"))[size]
    return {
        k: torch.empty(shape, dtype=getattr(torch, dtype), device="meta")
        for k, shape, dtype in layout
    }


def seeded_checkpoint(seed: int, size: str) -> dict[str, torch.Tensor]:
    """The seeded ``model`` state dict in VBench's layout: realistic heads, shared tensors."""
    state = seeded_state_dict(seed, _template(size), backbone=BACKBONE)
    # tensors VBench shares are one tensor in a real checkpoint: give both names one value
    for key in list(state):
        if key.startswith("vision_multi.encoder.layer."):
            twin = key.replace("vision_multi.", "tag_encoder.", 1)
            if twin in state:
                state[twin] = state[key]
    head = "text_decoder.cls.predictions."
    state["text_decoder.bert.embeddings.word_embeddings.weight"] = state[head + "decoder.weight"]
    state[head + "bias"] = state[head + "decoder.bias"]
    with torch.no_grad():
        bias = state["fc.b"]
        bias[0, list(ALWAYS_TAGGED)] += 6.0
        vocab = vocabulary()
        # the prompt's words are in the vocabulary but not favoured: with the decoder's tied
        # embeddings a favoured prompt word repeats itself (it is in every prefix)
        favoured = [vocab.index(w) for w in dict.fromkeys(CAPTION_WORDS) if w not in PROMPT_WORDS]
        state[head + "decoder.bias"][favoured] += 10.0
        state[head + "decoder.bias"][102] += 9.0  # [SEP]: captions end at varied lengths
    # positional ids and Swin index buffers, as a saved model holds them
    for key, tensor in _template(size).items():
        if key.endswith("position_ids"):
            state[key] = torch.arange(tensor.shape[-1]).expand(tuple(tensor.shape)).clone()
    return state


def fixture_path(seed: int) -> Path:
    """The frozen VBench outputs of the scene parity run with ``seed``."""
    return HERE / "fixtures" / f"vbench-0.1.5-scene-seed{seed}.json"


def write_inputs(seed: int, work: Path, size: str | None) -> dict[str, str]:
    """Write what both sides read into ``work``; returns our ``--weights`` overrides.

    ``work/bert-base-uncased/`` (vocab, config, empty weights: VBench's ``from_pretrained`` needs
    the folder; every tensor is then overwritten by the checkpoint), ``work/vocab.txt`` and
    ``work/vbench_cache/caption_model/tag2text_swin_14m.pth`` = ``{"model": ...}`` (not with
    ``size=None``: the vocabulary alone, for dumping VBench's layout).
    """
    bert = work / "bert-base-uncased"
    bert.mkdir(parents=True, exist_ok=True)
    text = "\n".join(vocabulary()) + "\n"
    (bert / "vocab.txt").write_text(text, encoding="utf-8")
    (work / "vocab.txt").write_text(text, encoding="utf-8")
    config = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "do_lower_case": True}
    (bert / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (bert / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True}), encoding="utf-8"
    )
    torch.save({}, bert / "pytorch_model.bin")
    if size is None:
        return {"bert_base_uncased_vocab": str(work / "vocab.txt")}
    ckpt = work / "vbench_cache" / "caption_model" / "tag2text_swin_14m.pth"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": seeded_checkpoint(seed, size)}, ckpt)
    return {BACKBONE: str(ckpt), "bert_base_uncased_vocab": str(work / "vocab.txt")}


def our_scene(
    videos: Path, overrides: dict[str, str], out_dir: Path
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Our per-video scene scores and per-frame captions (VBench's order), one thread."""
    from harness import pinned_threads

    from vbench_cn.api import evaluate

    manifest = write_manifest(videos, out_dir.parent / f"{out_dir.name}-manifest.csv")
    with pinned_threads(1):
        records = evaluate(
            [manifest],
            dimensions=["scene"],
            out_dir=out_dir,
            progress=False,
            device="cpu",
            weights_overrides=dict(overrides),
        )
    scores: dict[str, float] = {}
    captions: dict[str, list[str]] = {}
    for rec in records:
        if rec.get("status") != "ok":
            raise RuntimeError(f"scene {rec['video']}: {rec.get('status')}: {rec.get('error')}")
        name = Path(rec["video"]).name
        scores[name] = float(rec["score"])
        captions[name] = list(rec["details"]["captions"])
    return scores, captions


def compare(
    ours: tuple[dict[str, float], dict[str, list[str]]], reference: dict[str, Any]
) -> list[str]:
    """Every difference between our scores/captions and VBench's, as lines (empty: identical)."""
    scores, captions = ours
    problems = []
    for name in sorted(set(reference["scores"]) | set(scores)):
        if name not in scores or name not in reference["scores"]:
            problems.append(f"{name}: scored by one side only")
            continue
        if scores[name] != reference["scores"][name]:
            problems.append(f"{name}: score {scores[name]} != VBench {reference['scores'][name]}")
        for f, (a, b) in enumerate(zip(captions[name], reference["captions"][name], strict=True)):
            if a != b:
                problems.append(f"{name} frame {f}: {a!r} != VBench {b!r}")
    return problems
