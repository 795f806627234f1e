"""GRiT's seeded checkpoint and test vocabulary for the parity runs: random, but realistic enough.

Plain seeded weights (``seeded.py``) give GRiT proposals a few pixels wide, a foreground
probability near 0.5 for every one of its 256 proposals (so all of them pass VBench's 0.5
threshold) and captions of 39 random word pieces out of 30,522: nothing the dimensions'
rules would ever match. The adjustments below (with GRiT's entries of ``seeded.SCALES`` and
``seeded.OFFSETS``: box distances of a few cells, decisive box classifiers) keep the real
architecture and code paths and move the outputs into the regime VBench sees: proposals of
10-40 pixels, a few boxes a frame above 0.5 that survive NMS, and short captions drawn from
a handful of words the prompts name (so "dog" is sometimes exactly an object's name, a
caption sometimes holds "red", and two boxes are sometimes a dog and a cat). Pure torch and
stdlib.
"""

from __future__ import annotations

import torch

#: Registry name of the checkpoint (and its key in seeded.SCALES / OFFSETS).
NAME = "grit_b_densecap_objectdet"
_TEXT = "roi_heads.text_decoder.textual."

#: The output projection is the word embedding (one tensor, two names in the file).
TIED = (_TEXT + "embedding.words.weight", _TEXT + "output.weight")
#: Ids of the words of the test vocabulary (a real BERT vocabulary has them elsewhere; the
#: model only sees ids). No apostrophe: see tests/parity/README.md (transformers versions).
WORDS: dict[str, int] = {
    "dog": 2000,
    "cat": 2001,
    "person": 2002,
    "red": 2003,
    "blue": 2004,
    "##s": 2005,
    ".": 2006,
    "green": 2007,
}
#: Extra logit of the favoured words, above the largest logit of any other token; "##s" and
#: "." less (they come second, if ever, and exercise WordPiece joining and the clean-up).
WORD_BIAS: dict[str, float] = {
    "dog": 21.0,
    "cat": 21.0,
    "person": 21.0,
    "red": 21.0,
    "blue": 21.0,
    "green": 21.0,
    "##s": 17.0,
    ".": 17.0,
}
#: Extra logit of [SEP]: low on its own; it wins after a word through :data:`END_LINK`.
END_BIAS = 10.0
#: Norm of [SEP]'s embedding row (the output projection is tied to it) along the mean of the
#: words' rows, relative to their norm: after a word (itself barred from repeating) [SEP]
#: comes next, so most descriptions are one or two words long, as real ones are short.
END_LINK = 3.0
#: Position rows from the second token on are pulled towards [SEP] by these weights
#: (position -> weight, the last for every later one): one- to three-word descriptions.
END_BY_POSITION = (0.0, 0.1, 1.0, 4.0)
#: Scale of the rows of the two begin tokens (101, 104): small, so the first word is chosen
#: by the region and the biases rather than by the begin token's likeness to itself.
BEGIN_ROW_SCALE = 0.1
#: Added to every cascade stage's background logit: only a few proposals pass 0.5.
BACKGROUND_BIAS = 4.0


def vocabulary(size: int = 30522) -> list[str]:
    """A BERT-shaped vocabulary: special tokens at their ids, :data:`WORDS`, ``x<i>`` fillers."""
    vocab = [f"x{i}" for i in range(size)]
    vocab[0] = "[PAD]"
    for i in range(1, 100):
        vocab[i] = f"[unused{i - 1}]"
    vocab[100:104] = ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for word, index in WORDS.items():
        vocab[index] = word
    return vocab


def shape(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-element adjustments ``seeded.SCALES`` and ``seeded.OFFSETS`` cannot express, in place.

    The output projection is tied to the word embeddings in GRiT (one tensor, two names in
    the file), so both names get the same values.
    """
    words = state[_TEXT + "embedding.words.weight"]
    ids = list(WORDS.values())
    direction = words[ids].mean(0)
    words[102] = direction / direction.norm() * words[ids].norm(dim=1).mean() * END_LINK
    for begin in (101, 104):
        words[begin] *= BEGIN_ROW_SCALE
    positions = state[_TEXT + "embedding.positions.weight"]
    end_row = words[102] / words[102].norm() * positions[0].norm()
    for p in range(1, positions.shape[0]):
        positions[p] += END_BY_POSITION[min(p, len(END_BY_POSITION) - 1)] * end_row
    state[TIED[1]] = words
    bias = state[_TEXT + "output.bias"]
    for word, extra in WORD_BIAS.items():
        bias[WORDS[word]] += extra
    bias[102] += END_BIAS
    for stage in range(3):
        state[f"roi_heads.box_predictor.{stage}.cls_score.bias"][1] += BACKGROUND_BIAS
    return state
