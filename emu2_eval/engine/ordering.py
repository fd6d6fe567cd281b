"""The order of work: longest prompts first, shards by stride over that order.

Sorting by prompt length puts prompts of similar length in one batch (less padding, and with
``--batch-size auto`` the largest batch meets the longest prompts first, so an out-of-memory error
shows up at once instead of late in the run). Results are keyed by doc index, so the order of work
never shows in the outputs. Everything here is a pure function of the requests: every rank
computes the same order without talking to the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.core.requests import Request

#: Length of an image in text characters when the adapter cannot count tokens: a mid-size
#: visual token sequence (LLaVA-1.5: 576 tokens; Emu2: 64), at ~4 characters per token.
IMAGE_CHARS = 1024


def estimate_length(request: Request, tokens: int | None) -> int:
    """The adapter's token count when it has one, else text characters plus a cost per image."""
    if tokens is not None:
        return tokens
    text = sum(len(p.text) for p in request.prompt if isinstance(p, TextPart))
    images = sum(isinstance(p, ImagePart) for p in request.prompt)
    continuations = max((len(c) for c in request.continuations), default=0)
    return text + IMAGE_CHARS * images + continuations


def length_order(indices: Sequence[int], lengths: Sequence[int]) -> list[int]:
    """``indices`` sorted by descending length; ties in index order (deterministic)."""
    return sorted(indices, key=lambda i: (-lengths[i], i))


def shard(order: Sequence[int], rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s part: every ``world_size``-th item of ``order`` starting at ``rank``.

    Strided over the length order, each rank gets a similar mix of long and short prompts, so
    shards finish at about the same time; a rank may get nothing (fewer items than ranks).
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size}")
    return list(order[rank::world_size])
