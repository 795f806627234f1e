"""Tag2Text captions of sampled frames, as VBench's scene dimension makes them (vbench/scene.py).

Per frame: decoded at 384x384 (the decoder's bilinear scale, as decord does for VBench),
``/255`` and ImageNet mean/std; Swin-B; tags whose sigmoid exceeds 0.7, minus six deleted
tag indices, joined by ``" | "``; the tag string encoded against the image; a caption by beam
search (3 beams, 10 to 30 tokens with the prompt ``"[DEC] a picture of"``) with the prompt
stripped. Constants and their VBench files: ``docs/tag2text.md``.

VBench quirk kept: VBench captions a video's 16 frames in one ``generate`` call, and
transformers 4.33 expands the already beam-expanded tag encodings once more while the
decoder keeps the first rows, so frame ``f`` is captioned from the tags and image of frame
``f // 3`` (frames 0-2 share frame 0's caption, ..., 15 has frame 5's). :class:`FrameCaptions`
gives VBench's captions and each frame's own caption.

Memory: the checkpoint (4.48 GB) holds the model (1.5 GB, float32) and the optimiser state;
it is memory-mapped, so only the model's tensors are ever read, and the model is built on the
meta device and takes those tensors as they are (no random init, no second copy).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

import torch
from torch import nn

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import IMAGENET_MEAN, IMAGENET_STD, normalize, to_float_nchw
from vbench_cn.features.beam_search import beam_search
from vbench_cn.features.outputs import FrameCaptions
from vbench_cn.features.tag2text_arch import Tag2Text, config_from_state_dict
from vbench_cn.features.wordpiece import VOCAB, WordPieceTokenizer, synthetic_vocab
from vbench_cn.video import VideoInfo
from vbench_cn.weights import StateDict, Weights, WeightsError, register_weights

#: vbench/scene.py: ``load_video(num_frames=16, width=384, height=384)``, tag2text_transform(384).
IMAGE_SIZE = 384
#: vbench/third_party/tag2Text/tag2text.py: ``threshold = 0.7``, ``delete_tag_index``.
TAG_THRESHOLD = 0.7
DELETED_TAGS = (127, 3351, 3265, 3338, 3355, 3359)
#: tag2text.py ``generate``: tags tokenized to 40 tokens; prompt; beam search settings.
TAG_TOKENS = 40
PROMPT = "a picture of "
NUM_BEAMS, MIN_LENGTH, MAX_LENGTH = 3, 10, 30
#: vbench/scene.py ``generate`` call batches a video's frames; frame f uses frame f // 3.
CAPTION_SOURCE_STRIDE = 3

#: Upstream file of the shipped tag list (Apache-2.0), byte for byte; a test checks its sha256.
TAG_LIST_SOURCE = (
    "https://github.com/xinyu1205/recognize-anything/blob/"
    "7cb804a8609e9f4b1a50b7f31436d2df40bb9481/ram/data/tag_list.txt"
)
TAG_LIST_SHA256 = "7d05c7cb88ed46a2aee1434776964f6bdbda0c0f4233c8633e109084382d3a45"

CHECKPOINT = "tag2text_swin_14m"


@lru_cache(maxsize=1)
def tag_list() -> tuple[str, ...]:
    """Tag2Text's 3429 tag names (``data/labels/tag2text_tags.txt``, VBench's ``tag_class.py``)."""
    from importlib.resources import files

    text = files("vbench_cn").joinpath("data/labels/tag2text_tags.txt").read_text(encoding="utf-8")
    return tuple(text.split("\n"))


def random_mode_vocab() -> list[str]:
    """The stand-in vocabulary of ``--random-weights`` runs: the prompt, the tags, Places365."""
    from vbench_cn.features.scene import places365_labels

    words = [
        PROMPT,
        *tag_list(),
        *(s.replace("/", " ").replace("_", " ") for s in places365_labels()),
    ]
    return synthetic_vocab(words)


# --------------------------------------------------------------------------- weights


def _convert(raw: Any) -> StateDict:
    """The checkpoint's ``model`` dict without the index buffers VBench recomputes.

    VBench's ``load_checkpoint_swinbase`` deletes ``relative_position_index`` and ``attn_mask``;
    the ``position_ids`` buffers are ``arange`` (built here on the fly). The optimiser state
    stays unread in the memory-mapped file.
    """
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw = raw["model"]
    if not isinstance(raw, dict):
        raise WeightsError("Tag2Text checkpoint has no 'model' state dict")
    derived = ("relative_position_index", "attn_mask", "position_ids")
    return {k: v for k, v in raw.items() if not k.endswith(derived)}


def _make_realistic(model: nn.Module, gen: torch.Generator) -> None:
    """Random weights that tag and caption like a trained model would, roughly.

    A random ``fc`` gives every tag probability ~0.5 (below the 0.7 threshold) and a random LM
    head spreads over 30k ``[unused]`` fillers: a few percent of tags are pushed over the
    threshold and the words of :func:`random_mode_vocab` (and the end token) are favoured.
    """
    m: Any = model
    with torch.no_grad():
        fc = m.fc  # logits ~ N(-2, 1.5²): about 3 % of the tags pass sigmoid > 0.7
        fc.W.mul_(1.5 / (float(fc.W.std()) * fc.W.shape[-1] ** 0.5))
        fc.b.add_(-2.0)
        head = m.text_decoder.cls.predictions
        words = [i for i, t in enumerate(random_mode_vocab()) if not t.startswith("[")]
        head.bias[torch.tensor(words)] += 6.0
        head.bias[102] += 4.0  # [SEP]: captions end, at varied lengths


def _build() -> nn.Module:
    return Tag2Text()


register_weights(
    Weights(
        name=CHECKPOINT,
        build=_build,
        source="https://huggingface.co/spaces/xinyu1205/recognize-anything/resolve/main/tag2text_swin_14m.pth",
        filename="tag2text_swin_14m.pth",
        # HF LFS digest of the 4,478,705,095-byte file (also pinned by an independent VBench
        # cache verifier); docs/tag2text.md says what could not be checked offline.
        sha256="4ce96f0ce98f940a6680d567f66a38ccc9ca8c4e638e5f5c5c2e881a0e3502ac",
        size_bytes=4_478_705_095,
        license="Apache-2.0 (xinyu1205/recognize-anything)",
        transforms="decode-time 384x384 bilinear scale (decord/FFmpeg), /255, ImageNet mean/std",
        meta={
            "num_params": 372_007_193,
            "paper": "Huang et al., Tag2Text: Guiding Vision-Language Model via Image Tagging, "
            "ICLR 2024",
            "vbench_file": "vbench/scene.py",
            "vbench_cache_path": "caption_model/tag2text_swin_14m.pth",
            "used_by": ["scene"],
        },
        convert=_convert,
        randomize=_make_realistic,
    )
)


def load_tag2text(options: ExtractorOptions) -> tuple[Tag2Text, WordPieceTokenizer, str]:
    """The model (verified weights, or seeded random ones), its tokenizer and the weights id.

    Real weights: the checkpoint is memory-mapped and its tensors become the parameters
    (strict: every key of the architecture present with its shape, no other key). Random
    weights use the stand-in vocabulary of :func:`random_mode_vocab`.
    """
    from vbench_cn import weights as W

    if options.random_weights:
        model = W.build_random(CHECKPOINT, options.seed)
        tokenizer = WordPieceTokenizer(random_mode_vocab())
        return model.eval().to(options.device), tokenizer, "random"  # type: ignore[return-value]
    vocab_path = W.ensure(VOCAB, options)
    W.check_file(VOCAB, vocab_path, pinned=VOCAB not in options.weights_overrides)
    tokenizer = WordPieceTokenizer.from_file(vocab_path)
    state, weights_id = W.load_state_dict(CHECKPOINT, options, mmap=True)
    try:
        cfg = config_from_state_dict(state)
    except (KeyError, IndexError, ValueError) as exc:
        raise WeightsError(f"{CHECKPOINT}: not a Tag2Text checkpoint ({_first(exc)})") from None
    with torch.device("meta"):
        model = Tag2Text(cfg)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"{CHECKPOINT}: checkpoint does not fit Tag2Text ({_first(exc)})"
        ) from None
    model.tie_weights()
    return model.eval().to(options.device), tokenizer, weights_id


def _first(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


# --------------------------------------------------------------------------- inference


class Captioner:
    """Tags and captions batches of normalised 384x384 frames with one :class:`Tag2Text`."""

    def __init__(self, model: Tag2Text, tokenizer: WordPieceTokenizer, tags: Sequence[str]) -> None:
        if len(tags) != model.cfg.num_tags:
            raise ValueError(f"{len(tags)} tag names for {model.cfg.num_tags} tag logits")
        self.model, self.tokenizer, self.tags = model, tokenizer, list(tags)
        prompt = [self.tokenizer.cls_id, *self.tokenizer.encode(PROMPT)]
        self.prompt_ids = [self.tokenizer.dec_id, *prompt[1:]]  # [DEC] a picture of

    def tag_mask(self, logits: torch.Tensor) -> torch.Tensor:
        """``(B, num_tags)`` bool: sigmoid over the threshold, deleted tags cleared."""
        keep = torch.sigmoid(logits) > TAG_THRESHOLD
        keep[:, list(DELETED_TAGS)] = False
        return keep

    def tag_text(self, indices: Sequence[int]) -> str:
        """Tag names in index order joined by ``" | "`` (VBench's tag string)."""
        return " | ".join(self.tags[i] for i in indices)

    def __call__(self, images: torch.Tensor) -> tuple[list[list[int]], torch.Tensor]:
        """Best token sequence (prompt included) and the kept-tag mask of each image."""
        model, device = self.model, images.device
        image_embeds = model.encode_image(images)
        keep = self.tag_mask(model.tag_logits(image_embeds))
        tags = [self.tag_text(row.nonzero().flatten().tolist()) for row in keep]
        ids, mask = self.tokenizer.encode_padded(tags, TAG_TOKENS)
        ids_t = torch.tensor(ids, device=device)
        ids_t[:, 0] = self.tokenizer.enc_id
        tag_embeds = model.tag_encoder(ids_t, torch.tensor(mask, device=device), image_embeds)
        cross = model.text_decoder.cross_keys_values(tag_embeds)

        def step(new: torch.Tensor, cache: Any, rows: torch.Tensor) -> tuple[torch.Tensor, Any]:
            here = [
                (
                    k.index_select(0, rows).repeat_interleave(NUM_BEAMS, 0),
                    v.index_select(0, rows).repeat_interleave(NUM_BEAMS, 0),
                )
                for k, v in cross
            ]
            return model.text_decoder.step(new, cache, here)

        def reorder(cache: Any, index: torch.Tensor) -> Any:
            return [(k.index_select(0, index), v.index_select(0, index)) for k, v in cache]

        sequences = beam_search(
            self.prompt_ids,
            images.shape[0],
            step,
            reorder,
            num_beams=NUM_BEAMS,
            min_length=MIN_LENGTH,
            max_length=MAX_LENGTH,
            eos_id=self.tokenizer.sep_id,
            device=device,
        )
        return sequences, keep

    def caption(self, sequence: Sequence[int]) -> str:
        """VBench's caption text: decoded, then the prompt's characters cut off."""
        return self.tokenizer.decode(sequence)[len(PROMPT) :]


def vbench_caption_sources(count: int) -> list[int]:
    """For each of a video's ``count`` frames, the frame whose caption VBench gives it (f // 3)."""
    return [f // CAPTION_SOURCE_STRIDE for f in range(count)]


class Tag2TextCaptions(FeatureExtractor):
    """VBench's Tag2Text captions of the sampled frames: :class:`FrameCaptions` per video."""

    name = "tag2text_swin14m"
    batch_size = 32
    cpu_batch_size = 16  # one VBench video per forward on CPU
    decode_size = (IMAGE_SIZE, IMAGE_SIZE)
    weights: ClassVar[tuple[str, ...]] = (CHECKPOINT, VOCAB)
    amp_ok = False  # VBench runs Tag2Text in float32; fp16 would move tags across the threshold

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        model, tokenizer, self.weights_id = load_tag2text(options)
        self.captioner = Captioner(model, tokenizer, tag_list())
        self._width = MAX_LENGTH + model.cfg.num_tags

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        if tuple(frames.shape[1:3]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(
                f"Tag2Text needs {IMAGE_SIZE}x{IMAGE_SIZE} frames, got {tuple(frames.shape[1:3])}"
            )
        return normalize(to_float_nchw(frames) / 255.0, IMAGENET_MEAN, IMAGENET_STD)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """``(B, 30 + num_tags)``: each frame's token ids (-1 padded), then its kept-tag mask."""
        sequences, keep = self.captioner(batch)
        ids = torch.full((batch.shape[0], MAX_LENGTH), -1.0)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = torch.tensor(seq, dtype=ids.dtype)
        return torch.cat([ids.to(batch.device), keep.to(ids.dtype)], dim=1)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> FrameCaptions:
        if outputs.numel() == 0:
            raise ValueError("no frame reached Tag2Text")
        own, tags = [], []
        for row in outputs.reshape(-1, self._width).tolist():
            seq = [int(t) for t in row[:MAX_LENGTH] if t >= 0]
            own.append(self.captioner.caption(seq))
            tags.append(
                self.captioner.tag_text([j for j, f in enumerate(row[MAX_LENGTH:]) if f > 0])
            )
        vbench = [own[s] for s in vbench_caption_sources(len(own))]
        return FrameCaptions(tuple(vbench), tuple(own), tuple(tags))
