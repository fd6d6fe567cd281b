"""Seeds derived from what a choice is about, never from rank, batch or order."""

from __future__ import annotations

from emu2_eval.core.hashing import hash_seed


def derive_seed(task: str, doc_id: str, shots: int, seed: int) -> int:
    """A 64-bit seed that is a pure function of (task, doc id, shots, seed).

    Hashing (rather than seed + index) means the demonstrations of a document do not change when
    the dataset is sharded over processes, batched differently, limited or reordered.
    """
    return hash_seed(task, doc_id, shots, seed)
