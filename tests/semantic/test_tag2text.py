"""Tag2Text pieces on inputs whose answer is known: tag list, WordPiece, beam search, Swin
constants, loading (strict, memory-mapped), the decoder-scaled view, the extractor in a run.

VBench equality itself is ``tests/parity/test_parity_scene.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vbench_cn.features import ExtractorOptions
from vbench_cn.features import tag2text as T
from vbench_cn.features.beam_search import beam_search
from vbench_cn.features.tag2text_arch import (
    Tag2Text,
    Tag2TextConfig,
    config_from_state_dict,
    relative_position_index,
    shifted_window_mask,
)
from vbench_cn.features.wordpiece import WordPieceTokenizer, basic_words, synthetic_vocab
from vbench_cn.weights import WeightsError, randomize_

TINY = Tag2TextConfig(
    embed_dim=8,
    depths=(2, 2, 2, 2),
    num_heads=(1, 1, 2, 2),
    hidden_size=48,
    text_layers=2,
    intermediate_size=64,
    tag_layers=1,
)


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(synthetic_vocab(["a picture of the alley", *T.tag_list()[:50]]))


def tiny_model(seed: int = 0) -> Tag2Text:
    torch.manual_seed(seed)
    model = randomize_(Tag2Text(TINY), seed).eval()
    T._make_realistic(model, torch.Generator().manual_seed(seed))
    return model


# --------------------------------------------------------------------------- data


def test_shipped_tag_list_is_the_upstream_file_byte_for_byte() -> None:
    from importlib.resources import files

    data = files("vbench_cn").joinpath("data/labels/tag2text_tags.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == T.TAG_LIST_SHA256
    tags = T.tag_list()
    assert len(tags) == 3429 and tags[:2] == ("tennis", "bear cub")
    # the six tags VBench deletes (vbench/third_party/tag2Text/tag2text.py delete_tag_index)
    assert [tags[i] for i in T.DELETED_TAGS] == ["quarter", "two", "three", "four", "five", "one"]


# --------------------------------------------------------------------------- WordPiece


def test_basic_words_lowercase_strip_accents_and_split_punctuation() -> None:
    assert basic_words("Café | BEAR cub,  x\u00a0y") == ["cafe", "|", "bear", "cub", ",", "x", "y"]
    assert basic_words("水族馆") == ["水", "族", "馆"]


def test_wordpiece_encodes_longest_pieces_and_unknown_words(tokenizer: WordPieceTokenizer) -> None:
    ids = tokenizer.encode("tennis | bear cub")
    assert [tokenizer.tokens[i] for i in ids] == ["tennis", "|", "bear", "cub"]
    pieces = [tokenizer.tokens[i] for i in tokenizer.encode("alleys")]
    assert pieces == ["alley", "##s"]
    assert tokenizer.encode("x" * 101) == [tokenizer.unk_id]
    assert tokenizer.encode("é!") == [tokenizer.ids["e"], tokenizer.unk_id]  # no "!" entry


def test_padding_truncation_and_decoding(tokenizer: WordPieceTokenizer) -> None:
    ids, mask = tokenizer.encode_padded(["tennis | bear cub", "alley " * 50, ""], 8)
    assert ids[0][:6] == [101, *tokenizer.encode("tennis | bear cub"), 102] and ids[0][6:] == [0, 0]
    assert mask[0] == [1] * 6 + [0, 0] and len(ids[1]) == 8 and ids[1][-1] == 102
    assert ids[2][:2] == [101, 102] and sum(mask[2]) == 2
    seq = [tokenizer.dec_id, *tokenizer.encode("a picture of the alleys"), 102, 0]
    assert tokenizer.decode(seq) == "a picture of the alleys"
    assert tokenizer.decode(tokenizer.encode("the alley .")) == "the alley."


def test_vocabulary_must_be_bert_shaped() -> None:
    with pytest.raises(ValueError, match="30522"):
        WordPieceTokenizer(["[PAD]"] * 10)
    vocab = synthetic_vocab(["a"])
    vocab[101] = "[XLS]"
    with pytest.raises(ValueError, match="entry 101"):
        WordPieceTokenizer(vocab)


# --------------------------------------------------------------------------- beam search


def _table_step(table: torch.Tensor):
    """A 'model' whose next-token logits depend only on the last token (a Markov table)."""

    def step(ids, state, rows):
        seqs = ids if state is None else torch.cat([state, ids], dim=1)
        return table[seqs[:, -1]], seqs

    return step, lambda state, index: state[index]


def test_beam_search_finds_the_best_path_and_respects_min_and_max_length() -> None:
    vocab, eos = 6, 5
    table = torch.full((vocab, vocab), -10.0)
    table[0, 1] = table[1, 2] = table[2, 3] = table[3, 1] = 0.0  # 0 -> 1 -> 2 -> 3 -> 1 ...
    table[:, eos] = 5.0  # the end token is always the best next token
    step, reorder = _table_step(table)
    kw = dict(num_beams=3, eos_id=eos, device=torch.device("cpu"))
    (short,) = beam_search([0], 1, step, reorder, min_length=1, max_length=10, **kw)
    assert short == [0]  # ends at once (the end token itself is not returned)
    (longer,) = beam_search([0], 1, step, reorder, min_length=4, max_length=10, **kw)
    assert longer == [0, 1, 2, 3]  # the end token is banned until 4 tokens
    table[:, eos] = -20.0  # never worth ending: stops at max_length
    (capped,) = beam_search([0], 1, step, reorder, min_length=1, max_length=6, **kw)
    assert capped == [0, 1, 2, 3, 1, 2]


def test_beam_search_rows_are_independent() -> None:
    torch.manual_seed(0)
    table = torch.randn(2, 40, 40)  # one Markov table per input

    def step(ids, state, rows):
        seqs = ids if state is None else torch.cat([state, ids], dim=1)
        per_row = rows.repeat_interleave(3)
        return table[per_row, seqs[:, -1]], seqs

    kw = dict(num_beams=3, min_length=3, max_length=9, eos_id=7, device=torch.device("cpu"))
    both = beam_search([1], 2, step, lambda s, i: s[i], **kw)
    alone = [
        beam_search([1], 1, lambda i, s, r, k=k: step(i, s, r + k), lambda s, i: s[i], **kw)[0]
        for k in range(2)
    ]
    assert both == alone


# --------------------------------------------------------------------------- architecture


def test_relative_position_index_and_shift_mask_by_hand() -> None:
    idx = relative_position_index(2, torch.device("cpu"))
    # 2x2 window, tokens (0,0),(0,1),(1,0),(1,1); index = (dy+1)*3 + (dx+1)
    assert idx.tolist() == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]
    mask = shifted_window_mask(4, 4, 2, 1, torch.device("cpu"))
    assert mask.shape == (4, 4, 4) and bool((mask[0] == 0).all())  # first window: one region
    assert mask[3].tolist()[0] == [0.0, -100.0, -100.0, -100.0]  # last window: four regions


def test_config_is_read_back_from_a_state_dict() -> None:
    with torch.device("meta"):
        state = Tag2Text(TINY).state_dict()
    assert config_from_state_dict(state) == TINY
    with torch.device("meta"):
        real = Tag2Text()
    assert sum(p.numel() for p in real.parameters()) == 372_007_193  # unique tensors (4.48 GB file)


def _checkpoint(path: Path, model: Tag2Text, **extra) -> dict:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["visual_encoder.layers.0.blocks.1.attn_mask"] = torch.zeros(4)  # VBench drops these
    state["tag_encoder.embeddings.position_ids"] = torch.arange(512)[None]
    state.update(extra)
    torch.save({"model": state, "optimizer": {"state": {0: {"exp_avg": torch.ones(3)}}}}, path)
    return state


def _options(tmp_path: Path, ckpt: Path, tokenizer: WordPieceTokenizer) -> ExtractorOptions:
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(tokenizer.tokens[:30522]) + "\n", encoding="utf-8")
    return ExtractorOptions(
        weights_overrides={T.CHECKPOINT: str(ckpt), T.VOCAB: str(vocab)},
    )


def test_checkpoint_loads_strictly_memory_mapped_with_shared_tensors(
    tmp_path: Path, tokenizer: WordPieceTokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path / "home"))
    model = tiny_model()
    ckpt = tmp_path / "t2t.pth"
    state = _checkpoint(ckpt, model)
    loaded, _, weights_id = T.load_tag2text(_options(tmp_path, ckpt, tokenizer))
    assert weights_id.startswith(f"{T.CHECKPOINT}@")
    images = torch.randn(2, 3, 384, 384)
    with torch.inference_mode():
        want = model.tag_logits(model.encode_image(images))
        assert torch.equal(loaded.tag_logits(loaded.encode_image(images)), want)
    head = loaded.text_decoder.cls.predictions
    assert head.decoder.weight is loaded.text_decoder.bert.embeddings.word_embeddings.weight
    # a shared tensor stored with two values: VBench's load keeps the later name's value
    later = "vision_multi.encoder.layer.0.output.dense.bias"
    state[later] = state[later] + 1.0
    torch.save({"model": state}, ckpt)
    loaded, _, _ = T.load_tag2text(_options(tmp_path, ckpt, tokenizer))
    shared = loaded.state_dict()["tag_encoder.encoder.layer.0.output.dense.bias"]
    assert torch.equal(shared, state[later])
    for bad, match in (({"surplus.weight": torch.zeros(1)}, "surplus"), (None, "fc.b")):
        s = dict(state)
        if bad is None:
            del s["fc.b"]
        else:
            s.update(bad)
        torch.save({"model": s}, ckpt)
        with pytest.raises(WeightsError, match=match):
            T.load_tag2text(_options(tmp_path, ckpt, tokenizer))


# --------------------------------------------------------------------------- in a run


def test_decoder_scaled_view_equals_decords_resizing_reader(tmp_path: Path) -> None:
    decord = pytest.importorskip("decord")
    from vbench_cn import synthetic as s
    from vbench_cn.video import VideoReader

    for codec, clip in (
        ("libx264", s.translating_clip(6, 96, 136, pixels_per_frame=3)),
        ("libx264rgb", s.noise_clip(4, 75, 101, seed=1)),
    ):
        path = tmp_path / f"{codec}.mp4"
        s.write_video(path, clip, fps=8.0, codec=codec)
        wanted = np.array([0, 2, 3])
        ours = torch.cat(
            [f for _, _, f in VideoReader(path).read_views({(384, 384): wanted})]
        ).numpy()
        ref = decord.VideoReader(str(path), width=384, height=384, num_threads=1)
        assert np.array_equal(ours, ref.get_batch(list(wanted)).asnumpy()), codec


def test_scene_runs_on_tag2text_with_vbenchs_frame_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vbench_cn import synthetic as s
    from vbench_cn.api import evaluate

    vocab = T.random_mode_vocab()
    monkeypatch.setattr(
        T, "load_tag2text", lambda options: (tiny_model(), WordPieceTokenizer(vocab), "random")
    )
    video = tmp_path / "sn-0001-0.mp4"  # our suite's "alley" prompt
    s.write_video(video, s.translating_clip(10, 64, 80, pixels_per_frame=4), fps=8.0)
    # random_weights: the tiny model above stands in, so the setup check needs no checkpoint file
    (rec,) = evaluate(
        [video], dimensions=["scene"], out_dir=tmp_path / "run", progress=False, random_weights=True
    )
    assert rec["status"] == "ok", rec.get("error")
    caps = rec["details"]["captions"]
    assert len(caps) == 16 and rec["details"]["weight"] == 16
    assert all(caps[f] == caps[3 * (f // 3)] for f in range(16))  # frame f shows f//3's caption
    hits = sum("alley" in c for c in caps)
    assert rec["score"] == pytest.approx(hits / 16)


def test_extractor_maps_frame_captions_to_vbench_sources() -> None:
    assert T.vbench_caption_sources(16) == [f // 3 for f in range(16)]
    assert T.vbench_caption_sources(16)[-1] == 5
    ext = T.Tag2TextCaptions.__new__(T.Tag2TextCaptions)
    tok = WordPieceTokenizer(synthetic_vocab(["a picture of", "alley", "bar", "sky"]))
    ext.captioner = SimpleNamespace(
        caption=lambda seq: tok.decode(seq)[len(T.PROMPT) :],
        tag_text=lambda idx: " | ".join(str(i) for i in idx),
    )
    ext._width = T.MAX_LENGTH + 4
    words = ["alley", "bar", "sky", "alley", "bar"]
    rows = []
    for i, w in enumerate(words):
        seq = [tok.dec_id, *tok.encode(f"a picture of {w}")]
        row = seq + [-1] * (T.MAX_LENGTH - len(seq)) + [float(i == j) for j in range(4)]
        rows.append(row)
    out = ext.finalize(torch.tensor(rows), info=None)  # type: ignore[arg-type]
    assert out.frame_captions == tuple(words)
    assert out.captions == ("alley", "alley", "alley", "bar", "bar")
    assert out.tags == ("0", "1", "2", "3", "")
