"""Seeded text sampling as a pure function of the request.

A response is cached only if it is a pure function of the request. Sampling draws from torch's
global random state, which the rows of a batch share: a row's tokens would depend on its batch
mates, on the batch size, on the process that ran it and on what ran before (a resume). So a
sampled request with a ``seed`` option is run as a batch of one, under a private copy of the
random state seeded from (request content hash, seed) and restored afterwards.

Why a batch of one rather than per-row generators in a batched ``generate``: transformers'
``generate`` takes no generator and samples all rows with one ``torch.multinomial`` call, so
per-row generators would mean re-implementing its sampling (temperature, top-k/p, beams) in a
logits processor. Running seeded rows alone keeps transformers' own sampling, has no padding (so
the logits do not depend on batch mates either), and costs batching only for sampled tasks, which
are rare in evaluation. Greedy and beam search stay batched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from emu2_eval.core.hashing import hash_seed
from emu2_eval.core.requests import Request


def is_seeded_sampling(options: dict[str, Any]) -> bool:
    """Sampling with a ``seed`` option: reproducible when the adapter seeds per request."""
    return bool(options.get("do_sample", False)) and options.get("seed") is not None


def request_seed(request: Request) -> int:
    """A 63-bit seed of (request content hash, seed option): never of batch, rank or order."""
    seed = request.options_dict.get("seed")
    return hash_seed("sample", request.content_hash(), seed, byteorder="big") >> 1


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run the body with torch's CPU and CUDA random states seeded by ``seed``, then restore
    them, so what runs next (another request, another task) is not affected."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
