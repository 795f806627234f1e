"""BERT's uncased WordPiece tokenizer as Tag2Text uses it (bert-base-uncased, [DEC], [ENC]).

Reproduces what VBench gets from transformers' slow ``BertTokenizer`` (pinned 4.33.2 by VBench)
for the texts Tag2Text tokenizes (tag lists joined by ``" | "`` and the prompt ``"a picture
of "``) and for decoding captions: text cleaning, CJK splitting, NFC, lower-casing and accent
stripping, punctuation splitting, greedy longest-match WordPiece with ``##`` continuations
(words over 100 characters or with no match become ``[UNK]``); decoding drops special tokens,
joins ``##`` pieces and applies transformers' spacing clean-up. Special tokens written inside
the text are not recognised (Tag2Text never writes any).

:func:`synthetic_vocab` builds a stand-in vocabulary of the real size with BERT's special
tokens at their real ids, for ``--random-weights`` runs and tests: the real ``vocab.txt``
cannot be fetched offline (it is a pinned registry file, ``bert_base_uncased_vocab``, registered
here for both models that read it: Tag2Text and GRiT).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from torch import nn

from vbench_cn.weights import Weights, register_weights

#: bert-base-uncased's vocabulary size and the ids of its special tokens.
BERT_VOCAB_SIZE = 30522
PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_IDS = {PAD: 0, UNK: 100, CLS: 101, SEP: 102, MASK: 103}
#: Tokens Tag2Text adds after the vocabulary (``tag2text.py`` ``init_tokenizer``).
DEC, ENC = "[DEC]", "[ENC]"
MAX_WORD_CHARS = 100
#: Registry name of bert-base-uncased's ``vocab.txt`` (Tag2Text's and GRiT's tokenizer).
VOCAB = "bert_base_uncased_vocab"


def _build_vocab_holder() -> nn.Module:
    return nn.Module()  # a text file: no parameters


register_weights(
    Weights(
        name=VOCAB,
        build=_build_vocab_holder,
        source="hf://google-bert/bert-base-uncased/vocab.txt",
        filename="bert-base-uncased-vocab.txt",
        # 30,522 lines, 231,508 bytes; the same digest is pinned for this vocabulary by
        # independent projects (docs/tag2text.md, docs/grit.md).
        sha256="07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        size_bytes=231_508,
        license="Apache-2.0 (google-research/bert)",
        transforms="WordPiece vocabulary, one token a line (uncased)",
        meta={
            "num_params": 0,
            "paper": "Devlin et al., BERT, NAACL 2019",
            "vbench_file": "vbench/third_party/tag2Text/tag2text.py; "
            "vbench/third_party/grit_src/grit/modeling/roi_heads/grit_roi_heads.py",
            "used_by": [
                "scene",
                "object_class",
                "multiple_objects",
                "color",
                "spatial_relationship",
            ],
        },
    )
)

_CLEANUPS = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_words(text: str) -> list[str]:
    """Clean, lower-case, strip accents and split ``text`` into words and punctuation marks."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            out.append(" ")
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    words: list[str] = []
    for word in unicodedata.normalize("NFC", "".join(out)).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        piece = ""
        for ch in word:
            if _is_punctuation(ch):
                if piece:
                    words.append(piece)
                words.append(ch)
                piece = ""
            else:
                piece += ch
        if piece:
            words.append(piece)
    return words


class WordPieceTokenizer:
    """Text to ids and ids to text with a BERT vocabulary plus ``[DEC]`` and ``[ENC]``."""

    def __init__(self, vocab: Sequence[str]) -> None:
        if len(vocab) != BERT_VOCAB_SIZE:
            raise ValueError(f"a BERT vocabulary has {BERT_VOCAB_SIZE} entries, got {len(vocab)}")
        for token, index in SPECIAL_IDS.items():
            if vocab[index] != token:
                raise ValueError(f"vocabulary entry {index} is {vocab[index]!r}, expected {token}")
        self.tokens = [*vocab, DEC, ENC]
        self.ids = {t: i for i, t in enumerate(vocab)}  # a repeated line: the last one wins
        self.dec_id, self.enc_id = BERT_VOCAB_SIZE, BERT_VOCAB_SIZE + 1
        self.pad_id, self.unk_id = SPECIAL_IDS[PAD], SPECIAL_IDS[UNK]
        self.cls_id, self.sep_id = SPECIAL_IDS[CLS], SPECIAL_IDS[SEP]
        self.special_ids = {*SPECIAL_IDS.values(), self.dec_id, self.enc_id}

    @classmethod
    def from_file(cls, path: str | Path) -> WordPieceTokenizer:
        """Read a ``vocab.txt`` (one token a line)."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls([line.rstrip("\r") for line in lines])

    def _pieces(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARS:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    ids.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.unk_id]
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without ``[CLS]``/``[SEP]``."""
        return [i for word in basic_words(text) for i in self._pieces(word)]

    def encode_padded(
        self, texts: Iterable[str], length: int
    ) -> tuple[list[list[int]], list[list[int]]]:
        """``[CLS] text [SEP]`` truncated and padded to ``length``, with 1/0 attention masks."""
        ids, masks = [], []
        for text in texts:
            row = [self.cls_id, *self.encode(text)[: length - 2], self.sep_id]
            ids.append(row + [self.pad_id] * (length - len(row)))
            masks.append([1] * len(row) + [0] * (length - len(row)))
        return ids, masks

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids`` without special tokens, ``##`` pieces joined, spacing cleaned up."""
        kept = [self.tokens[i] for i in ids if i not in self.special_ids]
        text = " ".join(kept).replace(" ##", "").strip()
        for old, new in _CLEANUPS:
            text = text.replace(old, new)
        return text


def synthetic_vocab(words: Iterable[str]) -> list[str]:
    """A stand-in BERT vocabulary: special tokens at their real ids, ``words``' WordPiece-ready
    pieces (lower-cased, split as :func:`basic_words` does), ``|`` and a little punctuation,
    single letters and digits (plain and ``##``), then ``[unusedN]`` fillers."""
    vocab = [f"[unused{i}]" for i in range(BERT_VOCAB_SIZE)]
    for token, index in SPECIAL_IDS.items():
        vocab[index] = token
    seen = set(SPECIAL_IDS)
    slots = (i for i in range(104, BERT_VOCAB_SIZE))
    for text in words:
        for word in basic_words(text):
            if word not in seen:
                seen.add(word)
                vocab[next(slots)] = word
    for piece in "|.,'-":  # the tag separator and common punctuation
        if piece not in seen:
            seen.add(piece)
            vocab[next(slots)] = piece
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789":  # every word stays encodable
        for piece in (ch, "##" + ch):
            if piece not in seen:
                seen.add(piece)
                vocab[next(slots)] = piece
    return vocab
