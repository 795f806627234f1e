"""GRiT-B (vbench_cn/features/grit_arch.py, grit.py): checkpoint layout, decoding, packing, VBench's
preprocessing, on reduced configurations; the comparison with VBench's own GRiT is tests/parity/."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semantic._tiny import tiny_grit
from vbench_cn.features import grit as G
from vbench_cn.features import grit_arch as A
from vbench_cn.features.wordpiece import BERT_VOCAB_SIZE, WordPieceTokenizer
from vbench_cn.weights import randomize_

KEYS = Path(__file__).resolve().parents[1] / "parity" / "fixtures" / "checkpoint_keys_grit.json"


# --------------------------------------------------------------------------- checkpoint


def test_architecture_has_exactly_the_keys_and_shapes_of_vbenchs_grit() -> None:
    """Key for key against VBench's own model (dumped by tests/parity/reference_keys.py)."""
    expected = {
        k: shape for k, shape, _ in json.loads(KEYS.read_text())["grit_b_densecap_objectdet"]
    }
    with torch.device("meta"):
        ours = {k: list(v.shape) for k, v in A.GRiT().state_dict().items()}
    assert ours == expected


def test_checkpoint_conversion_unwraps_detectron2_and_drops_the_shared_decoder_alias() -> None:
    state = {"a.weight": torch.ones(2, dtype=torch.float16), "step": torch.tensor(3)}
    alias = {"roi_heads.text_decoder_det.textual.output.bias": torch.zeros(2)}
    out = G.convert_grit({"model": {**state, **alias}, "iteration": 5})
    assert set(out) == {"a.weight", "step"}
    assert out["a.weight"].dtype == torch.float32 and out["step"].dtype == torch.int64
    assert G.convert_grit(state).keys() == out.keys()  # a bare state dict too


def test_the_real_checkpoint_would_load_strictly() -> None:
    model = tiny_grit()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(G.convert_grit({"model": state}), strict=True)
    state.pop("roi_heads.mask_head.predictor.bias")  # the unused mask head is required too
    with pytest.raises(RuntimeError, match="mask_head"):
        model.load_state_dict(G.convert_grit({"model": state}), strict=True)


# --------------------------------------------------------------------------- decoding


def _vbench_style_decode(head, regions, begin, max_steps):
    """Greedy search recomputing every token over [regions; text] with GRiT's attention mask
    at each step, as VBench does (no cache): the reference for the cached decoder."""
    layers = head.transformer.encoder.layer
    memory = head.object_feature_projection(regions)
    n, r = memory.shape[:2]
    seq = torch.full((n, 1), begin, dtype=torch.long)
    ended = torch.zeros(n, dtype=torch.bool)
    logprob = torch.zeros(n)
    for step in range(max_steps - 1):
        t = seq.shape[1]
        text = head.embedding.layer_norm(
            head.embedding.words(seq) + head.embedding.positions.weight[:t]
        )
        x = torch.cat([memory, text], dim=1)
        mask = torch.zeros(r + t, r + t)
        mask[:r, r:] = float("-inf")
        mask[r:, r:] = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
        for layer in layers:
            sa = layer.attention.self
            q, k, v = (layer._split(m(x)) for m in (sa.query, sa.key, sa.value))
            att = (torch.matmul(q / math.sqrt(q.shape[-1]), k.transpose(-1, -2)) + mask).softmax(-1)
            x = layer._finish(x, torch.matmul(att, v))
        logits = head.output(x[:, -1]).float()
        if step > 0:
            logits = logits.scatter(1, seq[:, -1:], -10000)
            forced = torch.full_like(logits, float("-inf"))
            forced[:, A.END_TOKEN] = 0
            logits = torch.where(ended[:, None], forced, logits)
        top, token = F.log_softmax(logits, dim=1).topk(1)
        logprob = top[:, 0] + logprob
        seq = torch.cat([seq, token], dim=1)
        ended |= token[:, 0] == A.END_TOKEN
        if bool(ended.all()):
            break
    tokens = seq[:, 1:]
    valid = (tokens != A.END_TOKEN).sum(1) + (tokens == A.END_TOKEN).any(1).long()
    padded = F.pad(tokens, (0, max_steps - 1 - tokens.shape[1]), value=A.END_TOKEN)
    return padded, logprob / valid.clamp(min=1)


@pytest.fixture(scope="module")
def decoder_head():
    torch.manual_seed(0)
    model = randomize_(tiny_grit(), 3)
    head = model.roi_heads.text_decoder.textual
    sigma = float(head.embedding.words.weight.detach().std()) * math.sqrt(32)  # logits' spread
    with torch.no_grad():  # descriptions of varied lengths: [SEP] and a few words favoured
        head.output.bias[A.END_TOKEN] += 2.0 * sigma
        head.output.bias[105:110] += 2.0 * sigma
    return head


def test_cached_decoding_equals_recomputing_every_step(decoder_head) -> None:
    regions = torch.randn(5, 196, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        tokens, logprob = A.greedy_decode(decoder_head, regions, (101, 104), 12)
        for task, begin in enumerate((101, 104)):
            ref_tokens, ref_lp = _vbench_style_decode(decoder_head, regions, begin, 12)
            assert torch.equal(tokens[:, task], ref_tokens)
            torch.testing.assert_close(logprob[:, task], ref_lp, atol=1e-5, rtol=1e-5)
    lengths = (tokens != A.END_TOKEN).sum(-1)
    assert lengths.min() < lengths.max()  # the comparison covers several lengths


def test_decoding_a_box_does_not_depend_on_the_other_boxes(decoder_head) -> None:
    regions = torch.randn(6, 196, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        together = A.greedy_decode(decoder_head, regions, (101, 104), 12, chunk=4)
        alone = [
            A.greedy_decode(decoder_head, regions[i : i + 1], (101, 104), 12) for i in range(6)
        ]
    assert torch.equal(together[0], torch.cat([a[0] for a in alone]))
    torch.testing.assert_close(together[1], torch.cat([a[1] for a in alone]))


def test_wordpiece_decoding_is_transformers_4_33(tmp_path: Path) -> None:
    """Against transformers' slow BERT tokenizer with clean-up on (4.33.2's defaults)."""
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    vocab = [f"[unused{i}]" for i in range(200)]
    vocab[0], vocab[100:104] = "[PAD]", ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = ["a", "red", "car", "##s", "##ing", ".", ",", "'", "s", "n't", "?", "don", "t", "m"]
    vocab[104 : 104 + len(words)] = words
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    ref = BertTokenizerLegacy(str(path), do_lower_case=True)
    ids = list(range(99, 104 + len(words)))
    rng = np.random.default_rng(0)
    padded = path.read_text(encoding="utf-8") + "".join(
        f"[unused{i}]\n" for i in range(len(vocab), BERT_VOCAB_SIZE)
    )
    path.write_text(padded, encoding="utf-8")
    tokenizer = WordPieceTokenizer.from_file(path)  # the decoder GRiT's extractor uses
    for _ in range(300):
        seq = rng.choice(ids, size=int(rng.integers(0, 9))).tolist()
        expected = ref.decode(seq, skip_special_tokens=True, clean_up_tokenization_spaces=True)
        assert tokenizer.decode(seq) == expected, seq


# --------------------------------------------------------------------------- preprocessing


def test_frames_over_768_are_downscaled_as_each_vbench_dimension_does() -> None:
    """object_class.py: transforms.Resize on the float video; color.py: cv2.resize on uint8."""
    import cv2
    from torchvision import transforms

    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (2, 800, 1030, 3), dtype=np.uint8))
    h, w = 800, 1030
    scale = 720.0 / min(h, w)
    size = (int(scale * h), int(scale * w))
    vbench_float = transforms.Resize(size=size)(frames.permute(0, 3, 1, 2).float())
    assert torch.equal(G.downscale_torchvision(frames), vbench_float)
    vbench_cv2 = np.stack(
        [cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) for f in frames.numpy()]
    )
    ours = G.downscale_cv2(frames)
    assert ours.dtype == torch.uint8 and np.array_equal(
        ours.permute(0, 2, 3, 1).numpy(), vbench_cv2
    )
    small = frames[:, :768, :900]  # short side 768: fed as it is, both ways
    for fn in (G.downscale_torchvision, G.downscale_cv2):
        assert torch.equal(fn(small), small.permute(0, 3, 1, 2))


def test_preprocess_normalises_and_pads_to_a_multiple_of_32() -> None:
    model = tiny_grit()
    x = torch.full((1, 3, 33, 65), 255, dtype=torch.uint8)
    out = model.preprocess(x)
    assert out.shape == (1, 3, 64, 96)
    expected = (255 - torch.tensor(A.PIXEL_MEAN)) / torch.tensor(A.PIXEL_STD)
    torch.testing.assert_close(out[0, :, 0, 0], expected)
    assert out[0, :, 33:].abs().sum() == 0 and out[0, :, :, 65:].abs().sum() == 0


# --------------------------------------------------------------------------- extractor


def test_pack_keeps_each_images_boxes_in_order_and_finalize_reads_them_back() -> None:
    out = A.GritOutput(
        image=torch.tensor([0, 0, 2]),
        boxes=torch.tensor([[1.0, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]),
        scores=torch.tensor([0.9, 0.7, 0.6]),
        objectdet_tokens=torch.tensor([[104, 102], [105, 106], [102, 102]]),
        objectdet_logprob=torch.zeros(3),
        densecap_tokens=torch.tensor([[105, 104], [104, 102], [106, 102]]),
        densecap_logprob=torch.zeros(3),
    )
    table = G.pack(out, batch=3, max_boxes=4, text_len=2)
    assert table.shape == (3, 4, 8 + 4)
    ext = G.GritDetections.__new__(G.GritDetections)
    ext.max_boxes, ext.text_len = 4, 2
    vocab = G.placeholder_vocabulary()
    vocab[104:107] = ["dog", "red", "##s"]
    ext.tokenizer = WordPieceTokenizer(vocab)
    frames = ext.finalize(table, info=None)
    assert [len(f) for f in frames] == [2, 0, 1]
    first, second = frames[0]
    assert (first.label, first.caption, first.box, first.score) == (
        "dog",
        "red dog",
        (1.0, 2.0, 3.0, 4.0),
        pytest.approx(0.9),
    )
    assert (second.label, second.caption) == ("reds", "dog")
    assert frames[2][0].label == "" and frames[2][0].caption == "##s"


def test_extractor_runs_batched_and_shares_one_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from vbench_cn import weights
    from vbench_cn.features import ExtractorOptions
    from vbench_cn.video import VideoInfo

    weights.get_weights("grit_b_densecap_objectdet")
    entry = weights.WEIGHTS["grit_b_densecap_objectdet"]
    monkeypatch.setitem(
        weights.WEIGHTS, "grit_b_densecap_objectdet", dataclasses.replace(entry, build=tiny_grit)
    )
    monkeypatch.setattr(G, "_SHARED", {})
    opts = ExtractorOptions(random_weights=True)
    plain, color = G.GritDetections(opts), G.GritDetectionsColor(opts)
    assert plain.model is color.model and plain.weights_id == "random"
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (3, 40, 56, 3), dtype=np.uint8))
    info = VideoInfo("x.mp4", 3, 8.0, 0.4, 56, 40, "h264", False, "pyav")
    items = plain.prepare(frames, position=0, info=info)
    with torch.inference_mode():
        batch = plain.forward(items)
        single = torch.cat([plain.forward(items[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, single, atol=1e-4, rtol=1e-4)
    detections = plain.finalize(batch, info=info)
    assert len(detections) == 3 and sum(len(f) for f in detections) > 0
    for frame in detections:
        scores = [d.score for d in frame]
        assert scores == sorted(scores, reverse=True) and all(s > 0.5 for s in scores)
        assert all(
            0 <= d.box[0] <= d.box[2] <= 56 and 0 <= d.box[1] <= d.box[3] <= 40 for d in frame
        )


def test_weights_id_is_what_the_run_expects_before_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's setup check predicts a record's weights without building the model: for
    GRiT the checkpoint and the vocabulary, "+"-joined; with random weights just "random"."""
    import dataclasses

    from vbench_cn import weights
    from vbench_cn.features import ExtractorOptions

    weights.get_weights("grit_b_densecap_objectdet")
    entry = weights.WEIGHTS["grit_b_densecap_objectdet"]
    monkeypatch.setitem(
        weights.WEIGHTS, "grit_b_densecap_objectdet", dataclasses.replace(entry, build=tiny_grit)
    )
    monkeypatch.setattr(G, "_SHARED", {})
    ckpt, vocab = tmp_path / "grit.pth", tmp_path / "vocab.txt"
    torch.save({"model": tiny_grit().state_dict()}, ckpt)
    vocab.write_text("\n".join(G.placeholder_vocabulary()) + "\n", encoding="utf-8")
    overrides = {"grit_b_densecap_objectdet": str(ckpt), "bert_base_uncased_vocab": str(vocab)}
    for opts in (
        ExtractorOptions(weights_overrides=overrides),
        ExtractorOptions(random_weights=True, weights_overrides=overrides),
    ):
        built = G.GritDetectionsColor(opts)
        assert built.weights_id == G.GritDetectionsColor.weights_identity(opts)
    assert built.weights_id == "random"
    real = G.GritDetections(ExtractorOptions(weights_overrides=overrides)).weights_id
    assert real.startswith("grit_b_densecap_objectdet@") and "+bert_base_uncased_vocab@" in real
