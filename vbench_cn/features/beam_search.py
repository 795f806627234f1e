"""Batched beam search with the rules of transformers 4.33's ``generate`` (VBench's pinned version).

Tag2Text captions with ``num_beams=3, min_length=10, max_length=30, repetition_penalty=1.0``
(``vbench/third_party/tag2Text/tag2text.py``). The search reproduces what that call does, so
that captions agree token for token:

* scores are ``log_softmax`` of the last position's logits plus each beam's running score;
  before ``min_length`` tokens (the prompt counts) the end token gets ``-inf``;
* at the first step only beam 0 is live (the others start at ``-1e9``);
* per input, the ``2·num_beams`` best (beam, token) pairs are scanned in order: an end token
  among the first ``num_beams`` closes a hypothesis scored ``sum_logprobs / length`` (length
  of the sequence without the end token, prompt included); other tokens extend beams until
  ``num_beams`` are filled;
* an input is done once ``num_beams`` hypotheses are closed and none of the live beams can
  beat the worst of them (``best / (length + 1)``); the search stops when all inputs are done
  or the sequences reach ``max_length``; open beams are then closed with their scores.

Rows of finished inputs are dropped from later steps (their results cannot change any more);
since every row of a step is computed independently, this changes no number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

#: ``step(ids, state, rows) -> (logits (len(rows)·beams, vocab), state)``; ``rows`` are the input
#: indices still searched, ``ids`` their beams' new tokens, ``state`` whatever the step keeps.
StepFn = Callable[[torch.Tensor, object, torch.Tensor], tuple[torch.Tensor, object]]
#: ``reorder(state, index) -> state``: keep the rows at ``index`` (beam selection, finished inputs).
ReorderFn = Callable[[object, torch.Tensor], object]


@dataclass
class Hypotheses:
    """The best finished sequences of one input (``BeamHypotheses`` with length penalty 1)."""

    size: int
    items: list[tuple[float, list[int]]] = field(default_factory=list)
    worst: float = 1e9

    def add(self, tokens: list[int], sum_logprobs: float) -> None:
        score = sum_logprobs / float(len(tokens))
        if len(self.items) < self.size or score > self.worst:
            self.items.append((score, tokens))
            if len(self.items) > self.size:
                ranked = sorted((s, i) for i, (s, _) in enumerate(self.items))
                del self.items[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def is_done(self, best_sum_logprobs: float, length: int) -> bool:
        return len(self.items) >= self.size and self.worst >= best_sum_logprobs / length

    def best(self) -> list[int]:
        return sorted(self.items, key=lambda item: item[0])[-1][1]


def beam_search(
    prompt: Sequence[int],
    num_inputs: int,
    step: StepFn,
    reorder: ReorderFn,
    *,
    num_beams: int,
    min_length: int,
    max_length: int,
    eos_id: int,
    device: torch.device,
) -> list[list[int]]:
    """Best sequence (prompt included, end token excluded) for each of ``num_inputs`` inputs.

    Args:
        prompt: the token ids every sequence starts with.
        num_inputs: how many inputs are searched together.
        step: runs the model (see :data:`StepFn`); the first call gets the whole prompt.
        reorder: selects rows of the step state (see :data:`ReorderFn`).
        num_beams, min_length, max_length: as ``generate``'s arguments.
        eos_id: the end token (``[SEP]`` for BERT).
        device: where the ids live.
    """
    nb = num_beams
    hyps = [Hypotheses(nb) for _ in range(num_inputs)]
    sequences = [list(prompt) for _ in range(num_inputs * nb)]  # per (input, beam)
    scores = torch.zeros(num_inputs, nb, device=device)
    scores[:, 1:] = -1e9
    scores = scores.view(-1)
    live = list(range(num_inputs))
    new_ids = torch.tensor(prompt, device=device).repeat(num_inputs * nb, 1)
    rows = torch.arange(num_inputs, device=device)
    state: object = None
    length = len(prompt)
    while True:
        logits, state = step(new_ids, state, rows)
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        if length < min_length:
            logprobs[:, eos_id] = -float("inf")
        vocab = logprobs.shape[-1]
        total = (logprobs + scores[:, None]).view(len(live), nb * vocab)
        top_scores, top_index = torch.topk(total, 2 * nb, dim=1, largest=True, sorted=True)
        top_scores_list = top_scores.tolist()
        top_index_list = top_index.tolist()
        keep_inputs, keep_rows, next_tokens, next_scores = [], [], [], []
        new_sequences = []
        for k, n in enumerate(live):
            chosen: list[tuple[float, int, int]] = []
            for rank, (value, flat) in enumerate(
                zip(top_scores_list[k], top_index_list[k], strict=True)
            ):
                beam, token = divmod(flat, vocab)
                if token == eos_id:
                    if rank < nb:
                        hyps[n].add(list(sequences[n * nb + beam]), value)
                else:
                    chosen.append((value, token, beam))
                if len(chosen) == nb:
                    break
            if hyps[n].is_done(top_scores_list[k][0], length + 1):
                continue
            keep_inputs.append(n)
            for value, token, beam in chosen:
                keep_rows.append(k * nb + beam)
                next_tokens.append(token)
                next_scores.append(value)
                new_sequences.append((n, sequences[n * nb + beam] + [token]))
        for n, seq in _by_beam(new_sequences, nb):
            sequences[n] = seq
        length += 1
        if not keep_inputs:
            break
        if length >= max_length:
            _close_open_beams(hyps, sequences, keep_inputs, next_scores, nb)
            break
        live = keep_inputs
        index = torch.tensor(keep_rows, device=device)
        state = reorder(state, index)
        scores = torch.tensor(next_scores, dtype=torch.float32, device=device)
        new_ids = torch.tensor(next_tokens, device=device).view(-1, 1)
        rows = torch.tensor(live, device=device)
    return [h.best() for h in hyps]


def _by_beam(new_sequences: list[tuple[int, list[int]]], nb: int) -> list[tuple[int, list[int]]]:
    """``(input, sequence)`` pairs, nb per input in beam order -> ``(slot, sequence)``."""
    out, count = [], {}
    for n, seq in new_sequences:
        b = count.get(n, 0)
        count[n] = b + 1
        out.append((n * nb + b, seq))
    return out


def _close_open_beams(
    hyps: list[Hypotheses],
    sequences: list[list[int]],
    inputs: list[int],
    scores: list[float],
    nb: int,
) -> None:
    """At ``max_length``: every live beam becomes a hypothesis with its running score."""
    for i, n in enumerate(inputs):
        for b in range(nb):
            hyps[n].add(list(sequences[n * nb + b]), scores[i * nb + b])
