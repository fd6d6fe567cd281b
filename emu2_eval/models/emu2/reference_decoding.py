"""Greedy and beam search as Emu2's published code gets them from transformers 4.31.

The official ``EmuModel.generate`` calls ``LlamaForCausalLM.generate(inputs_embeds=...)`` on
transformers 4.31. Three details of that version decide answers when ``</s>`` is likely, and
later transformers releases changed them:

- generation starts from a dummy ``[[<s>]]`` sequence (the prompt is only in the embeddings), and
  every length is counted with it;
- ``min_length`` bans ``</s>`` only while ``len(sequence) < min_length``, so the published
  ``min_length=1`` bans nothing and an immediate ``</s>`` (the empty answer) is allowed;
- a finished beam is scored ``sum_logprobs / len(sequence before </s>) ** length_penalty``, which
  equals the number of generated tokens (``</s>`` included), while a beam cut at
  ``max_new_tokens`` is scored over ``1 + n`` (the dummy counts); with the paper's
  ``length_penalty=-1`` the ranking between cut and finished beams depends on it.

This module implements those semantics on the current transformers' forward pass with a key/value
cache (no code of transformers' search is reused), and returns sequences in 4.31's layout:
``<s>``, the chosen tokens, ``</s>`` when it fits, ``[PAD]`` after finished rows. Checked against
golden outputs of the official code in ``tests/test_emu2_reference_decoding.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

DECODINGS = ("emu2_reference", "transformers")

# Generation keys the reference search understands; any other key needs decoding=transformers.
SEARCH_KEYS = frozenset(
    {
        "num_beams",
        "max_new_tokens",
        "min_length",
        "min_new_tokens",
        "length_penalty",
        "early_stopping",
        "do_sample",
        "num_return_sequences",
    }
)


def check_decoding(decoding: str) -> str:
    """The decoding semantics' name, or a ValueError listing the valid ones."""
    if decoding not in DECODINGS:
        raise ValueError(f"decoding {decoding!r} is not one of {', '.join(DECODINGS)}")
    return decoding


@dataclass(frozen=True)
class SearchSettings:
    """The published decoding (baaivision/Emu#77) unless a task overrides a key."""

    num_beams: int = 5
    max_new_tokens: int = 10
    min_length: int = 1
    min_new_tokens: int = 0
    length_penalty: float = -1.0
    early_stopping: bool | str = False

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SearchSettings:
        """Settings from generation options; refuses keys whose 4.31 semantics are not built."""
        unknown = sorted(set(options) - SEARCH_KEYS)
        if unknown:
            raise ValueError(
                f"generation option(s) {', '.join(unknown)} are not supported by "
                "decoding=emu2_reference (greedy and beam search as the published Emu2 code "
                f"runs them; supported: {', '.join(sorted(SEARCH_KEYS))}); "
                "pass --model-args decoding=transformers to use the installed transformers' "
                "generate instead"
            )
        if options.get("do_sample"):
            raise ValueError(
                "do_sample=true is not supported by decoding=emu2_reference (the paper decodes "
                "with beam search); pass --model-args decoding=transformers to sample"
            )
        if int(options.get("num_return_sequences", 1)) != 1:
            raise ValueError("decoding=emu2_reference returns one sequence per prompt")
        settings = cls(
            num_beams=int(options.get("num_beams", cls.num_beams)),
            max_new_tokens=int(options.get("max_new_tokens", cls.max_new_tokens)),
            min_length=int(options.get("min_length", cls.min_length)),
            min_new_tokens=int(options.get("min_new_tokens", cls.min_new_tokens)),
            length_penalty=float(options.get("length_penalty", cls.length_penalty)),
            early_stopping=options.get("early_stopping", cls.early_stopping),
        )
        if settings.num_beams < 1 or settings.max_new_tokens < 1:
            raise ValueError("num_beams and max_new_tokens must be >= 1")
        if settings.early_stopping not in (True, False, "never"):
            raise ValueError("early_stopping must be true, false or 'never'")
        return settings

    @property
    def max_length(self) -> int:
        """4.31's ``max_length``: new tokens plus the dummy start token."""
        return self.max_new_tokens + 1


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    pad: int


class _Decoder:
    """Incremental forward passes of a causal LM from prompt embeddings (left-padded)."""

    def __init__(self, lm: Any, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> None:
        from transformers import DynamicCache

        self.lm = lm
        self.mask = attention_mask.long().to(inputs_embeds.device)
        self.cache = DynamicCache()
        self.embeds: torch.Tensor | None = inputs_embeds

    def logits(self, last_tokens: torch.Tensor | None) -> torch.Tensor:
        """Next-token logits in float32, (rows, vocab); ``last_tokens`` after the first call."""
        if self.embeds is not None:
            positions = (self.mask.cumsum(-1) - 1).masked_fill(self.mask == 0, 1)
            inputs = {"inputs_embeds": self.embeds}
            self.embeds = None
        else:
            self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], -1)
            positions = self.mask.sum(-1, keepdim=True) - 1
            inputs = {"input_ids": last_tokens.view(-1, 1).to(self.mask.device)}
        output = self.lm(
            **inputs,
            attention_mask=self.mask,
            position_ids=positions,
            cache=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return output.logits[:, -1, :].float()

    def reorder(self, rows: torch.Tensor) -> None:
        self.cache.reorder_cache(rows.to(self.mask.device))
        self.mask = self.mask[rows.to(self.mask.device)]


def _ban_early_eos(
    scores: torch.Tensor, length: int, settings: SearchSettings, eos: int
) -> torch.Tensor:
    """4.31's min-length rules; ``length`` counts the dummy start token."""
    if length < settings.min_length or length - 1 < settings.min_new_tokens:
        scores = scores.clone()
        scores[:, eos] = -float("inf")
    return scores


def greedy_search(decoder: _Decoder, settings: SearchSettings, ids: SpecialIds) -> torch.Tensor:
    """Argmax decoding; finished rows continue with ``[PAD]`` until every row ends."""
    rows = decoder.mask.shape[0]
    device = decoder.mask.device
    sequences = torch.full((rows, 1), ids.bos, dtype=torch.long, device=device)
    running = torch.ones(rows, dtype=torch.bool, device=device)
    tokens = None
    while True:
        logits = _ban_early_eos(decoder.logits(tokens), sequences.shape[1], settings, ids.eos)
        tokens = logits.argmax(-1).to(device)
        tokens = torch.where(running, tokens, torch.full_like(tokens, ids.pad))
        sequences = torch.cat([sequences, tokens[:, None]], -1)
        running &= tokens != ids.eos
        if not running.any() or sequences.shape[1] >= settings.max_length:
            return sequences


class _Finished:
    """The best ``size`` finished hypotheses of one prompt, scored as 4.31 scores them."""

    def __init__(self, size: int, settings: SearchSettings) -> None:
        self.size = size
        self.settings = settings
        self.entries: list[tuple[float, torch.Tensor]] = []
        self.worst = 1e9

    def add(self, tokens: torch.Tensor, sum_logprobs: float) -> None:
        """``tokens`` includes the dummy start and excludes ``</s>``: its length is the divisor."""
        score = sum_logprobs / (tokens.shape[-1] ** self.settings.length_penalty)
        if len(self.entries) < self.size or score > self.worst:
            self.entries.append((score, tokens))
            if len(self.entries) > self.size:
                ranked = sorted((s, i) for i, (s, _) in enumerate(self.entries))
                del self.entries[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def complete(self, best_sum_logprobs: float, length: int) -> bool:
        """True when no open beam can beat the worst kept hypothesis (4.31's heuristics)."""
        if len(self.entries) < self.size:
            return False
        stopping = self.settings.early_stopping
        if stopping is True:
            return True
        penalty = self.settings.length_penalty
        if stopping == "never" and penalty > 0.0:
            best = best_sum_logprobs / self.settings.max_length**penalty
        else:
            best = best_sum_logprobs / length**penalty
        return self.worst >= best

    def best(self) -> torch.Tensor:
        """Highest score; among equal scores the one added last."""
        return sorted(self.entries, key=lambda entry: entry[0])[-1][1]


def beam_search(decoder: _Decoder, settings: SearchSettings, ids: SpecialIds) -> torch.Tensor:
    """Beam search with 4.31's candidate rules, length counting and stopping; ``decoder`` has
    each prompt's row repeated ``num_beams`` times, in a row."""
    beams = settings.num_beams
    batch = decoder.mask.shape[0] // beams
    device = decoder.mask.device
    sequences = torch.full((batch * beams, 1), ids.bos, dtype=torch.long, device=device)
    beam_scores = torch.zeros((batch, beams), dtype=torch.float32, device=device)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    finished = [_Finished(beams, settings) for _ in range(batch)]
    done = [False] * batch
    tokens = None
    while True:
        logprobs = torch.log_softmax(decoder.logits(tokens), dim=-1).to(device)
        logprobs = _ban_early_eos(logprobs, sequences.shape[1], settings, ids.eos)
        vocab = logprobs.shape[-1]
        totals = (logprobs + beam_scores[:, None]).view(batch, beams * vocab)
        top_scores, top_ids = torch.topk(totals, 2 * beams, dim=1, largest=True, sorted=True)
        origins = torch.div(top_ids, vocab, rounding_mode="floor")
        candidates = top_ids % vocab
        next_scores = torch.zeros((batch, beams), dtype=top_scores.dtype, device=device)
        next_tokens = torch.full((batch, beams), ids.pad, dtype=torch.long, device=device)
        next_rows = torch.zeros((batch, beams), dtype=torch.long, device=device)
        length = sequences.shape[1] + 1  # the length the candidate scores are computed on
        for b in range(batch):
            if done[b]:
                continue  # scores 0, [PAD] tokens, rows from index 0: as 4.31 pads a done prompt
            kept = 0
            for rank in range(2 * beams):
                token = int(candidates[b, rank])
                row = b * beams + int(origins[b, rank])
                score = top_scores[b, rank]
                if token == ids.eos:
                    if rank < beams:  # an end among the top `beams` candidates only
                        finished[b].add(sequences[row].clone(), float(score))
                else:
                    next_scores[b, kept] = score
                    next_tokens[b, kept] = token
                    next_rows[b, kept] = row
                    kept += 1
                if kept == beams:
                    break
            done[b] = done[b] or finished[b].complete(float(top_scores[b].max()), length)
        beam_scores = next_scores.view(-1)
        rows = next_rows.view(-1)
        tokens = next_tokens.view(-1)
        sequences = torch.cat([sequences[rows], tokens[:, None]], -1)
        if all(done) or sequences.shape[1] >= settings.max_length:
            break
        decoder.reorder(rows)
    for b in range(batch):
        if not done[b]:  # open beams compete with the finished ones, over 1 + n tokens
            for k in range(beams):
                finished[b].add(sequences[b * beams + k], float(beam_scores[b * beams + k]))
    return _pack([finished[b].best() for b in range(batch)], settings, ids)


def _pack(best: list[torch.Tensor], settings: SearchSettings, ids: SpecialIds) -> torch.Tensor:
    """4.31's output layout: ``</s>`` appended where it fits, ``[PAD]`` when lengths differ."""
    lengths = [int(row.shape[-1]) for row in best]
    width = min(max(lengths) + 1, settings.max_length)
    out = torch.full((len(best), width), ids.pad, dtype=torch.long, device=best[0].device)
    for i, row in enumerate(best):
        out[i, : lengths[i]] = row
        if lengths[i] < width:
            out[i, lengths[i]] = ids.eos
    return out


def reference_generate(
    lm: Any,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor,
    settings: SearchSettings,
    ids: SpecialIds,
) -> torch.Tensor:
    """Sequences as ``generate`` of transformers 4.31 returns them for these embeddings."""
    beams = settings.num_beams
    if beams <= 1:
        return greedy_search(_Decoder(lm, inputs_embeds, attention_mask), settings, ids)
    embeds, mask = (
        inputs_embeds.repeat_interleave(beams, 0),
        attention_mask.repeat_interleave(beams, 0),
    )
    return beam_search(_Decoder(lm, embeds, mask), settings, ids)
