"""Shared-prefix loglikelihood: prefill each prompt once, score every candidate from its cache.

A multiple-choice or yes/no request with K candidates used to pay K prefills of the same prompt
(one padded row per candidate). Here the prompts of a batch go through the model once
(left-padded, positions counting real tokens only), their key/value caches are copied to one row
per (prompt, candidate), and all candidates run as one batch of short continuations on top.
When every candidate is a single token (yes/no) the prefill's last logits already hold every
score and the second pass is skipped.

The math is the per-request path's: the same token ids, the same positions, the same causal
attention; only the order of float operations differs (tests compare within tolerance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch


def _pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, N) right-padded ids and their mask: padding after the tokens is never attended to."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, seq in enumerate(rows):
        ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def shared_prefix_scores(
    forward: Callable[..., Any],
    prefill_inputs: dict[str, Any],
    continuations: Sequence[Sequence[Sequence[int]]],
    pad_id: int = 0,
    stats: dict[str, int] | None = None,
) -> list[list[float]]:
    """Summed log-probabilities of each prompt's candidate continuations.

    ``forward`` is a transformers-style causal LM call (returns ``.logits`` and, with
    ``use_cache=True``, its key/value ``cache``). ``prefill_inputs`` are its keyword inputs for the
    B prompts, left-padded, with a (B, P) ``attention_mask``; ``continuations[b]`` are prompt b's
    candidates as token ids (each non-empty), scored as if appended to that prompt.
    ``stats`` (optional) counts the forward passes run and the token positions they computed.

    The adapters call this one request at a time: several prompts in one prefill are padded to
    a common width, which moves scores in the last float bits, and the harness promises answers
    that do not depend on the batch (cache, resume, data parallel runs are byte-identical).
    """
    mask = prefill_inputs["attention_mask"]
    if mask.shape[0] != len(continuations):
        raise ValueError(f"{mask.shape[0]} prompts but {len(continuations)} candidate lists")
    if any(not c for cands in continuations for c in cands):
        raise ValueError("every continuation needs at least one token")
    owner = [b for b, cands in enumerate(continuations) for _ in cands]
    flat = [list(c) for cands in continuations for c in cands]
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    output = forward(**prefill_inputs, position_ids=positions, use_cache=True)
    count_pass(stats, mask.numel())
    first = torch.log_softmax(output.logits[:, -1].float(), dim=-1)  # next token after prompt
    rows = torch.tensor(owner, device=first.device)
    heads = torch.tensor([c[0] for c in flat], device=first.device)
    scores = first[rows, heads]
    if max(len(c) for c in flat) > 1:
        tail = _continuation_scores(forward, output, mask, owner, flat, pad_id, stats)
        scores = scores + tail.to(scores.device)
    return _regroup([float(s) for s in scores], continuations)


def _continuation_scores(
    forward: Callable[..., Any],
    prefill: Any,
    mask: torch.Tensor,
    owner: list[int],
    flat: list[list[int]],
    pad_id: int,
    stats: dict[str, int] | None,
) -> torch.Tensor:
    """Log-probabilities of tokens 2..n of every candidate, from the copied prompt caches."""
    cache = prefill["cache"] if "cache" in prefill else prefill.past_key_values
    device = mask.device
    index = torch.tensor(owner, device=device)
    cache.reorder_cache(index)  # one cache row per (prompt, candidate)
    # The last token of each candidate predicts nothing we score: feed tokens 1..n-1 only.
    inputs, inputs_mask = _pad_right([c[:-1] or [pad_id] for c in flat], pad_id)
    inputs, inputs_mask = inputs.to(device), inputs_mask.to(device)
    lengths = mask.long().sum(-1)[index]
    positions = lengths.unsqueeze(1) + torch.arange(inputs.shape[1], device=device)
    attention = torch.cat([mask.long()[index], inputs_mask], dim=1)
    output = forward(
        input_ids=inputs,
        attention_mask=attention,
        position_ids=positions,
        cache=cache,
        use_cache=True,
    )
    count_pass(stats, inputs.numel())
    logprobs = torch.log_softmax(output.logits.float(), dim=-1)
    targets, target_mask = _pad_right([c[1:] or [pad_id] for c in flat], pad_id)
    targets, target_mask = targets.to(logprobs.device), target_mask.to(logprobs.device)
    picked = logprobs.gather(2, targets.unsqueeze(-1)).squeeze(-1)
    has_tail = torch.tensor([len(c) > 1 for c in flat], device=logprobs.device)
    return (picked * target_mask * has_tail.unsqueeze(1)).sum(-1)


def count_pass(stats: dict[str, int] | None, positions: int) -> None:
    """Add one forward pass over ``positions`` token positions (padding included) to ``stats``."""
    if stats is not None:
        stats["forward_passes"] = stats.get("forward_passes", 0) + 1
        stats["positions"] = stats.get("positions", 0) + positions


def _regroup(values: list[float], shape: Sequence[Sequence[Any]]) -> list[list[float]]:
    out, start = [], 0
    for group in shape:
        out.append(values[start : start + len(group)])
        start += len(group)
    return out
