"""Batch sizes: fixed, or ``auto`` (start at a maximum, halve on out-of-memory, retry the batch).

A batch that runs out of accelerator memory is retried, not skipped: its requests are split at
the new size and nothing finished is lost (responses are stored only after a batch succeeds).
Batch size never changes answers (the adapters give batch == one-at-a-time; tests check it), so
the size that ``auto`` settles on is recorded in results.json (``manifest.execution``) for
throughput, not among the settings that explain scores.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")
AUTO = "auto"
#: Image-decoding threads when a GPU runs the model (none on a CPU: no accelerator to overlap
#: with, and the model's own threads need the cores).
DEFAULT_PREFETCH_WORKERS = 2


class OutOfMemoryAtBatchSizeOne(RuntimeError):
    """Even one request does not fit: a batch size cannot help (use more GPUs per replica)."""


@dataclass(frozen=True)
class BatchSettings:
    """``size``: a fixed batch size, or None for auto (from ``max_size`` down)."""

    size: int | None = 1
    max_size: int = 64
    prefetch_workers: int = 2

    def __post_init__(self) -> None:
        if self.size is not None and self.size < 1:
            raise ValueError("--batch-size must be at least 1 (or 'auto')")
        if self.max_size < 1:
            raise ValueError("--max-batch-size must be at least 1")
        if self.prefetch_workers < 0:
            raise ValueError("--prefetch-workers must be >= 0 (0: decode images in the model loop)")

    @classmethod
    def parse(
        cls, value: int | str, max_size: int = 64, prefetch_workers: int = 2
    ) -> BatchSettings:
        """``8`` or ``"8"`` -> fixed 8; ``"auto"`` -> auto from ``max_size``."""
        if isinstance(value, str):
            if value.strip().lower() == AUTO:
                return cls(None, max_size, prefetch_workers)
            try:
                value = int(value)
            except ValueError:
                raise ValueError(
                    f"--batch-size must be a positive integer or 'auto', got {value!r}"
                ) from None
        return cls(value, max_size, prefetch_workers)

    @property
    def auto(self) -> bool:
        return self.size is None

    def describe(self) -> int | str:
        return AUTO if self.size is None else self.size

    def describe_all(self) -> dict[str, int | str]:
        return {
            "batch_size": self.describe(),
            "max_batch_size": self.max_size,
            "prefetch_workers": self.prefetch_workers,
        }


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA (or other accelerator) out-of-memory, as torch raises it."""
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_accelerator_memory() -> None:
    """Release what the failed batch held before the retry."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


class BatchSizer:
    """Runs items through ``fn`` in batches; under auto, halves the size on out-of-memory."""

    def __init__(self, settings: BatchSettings) -> None:
        self.auto = settings.auto
        self.size = settings.max_size if settings.size is None else settings.size
        self.reductions: list[int] = []  # sizes that ran out of memory

    def run(self, items: Sequence[T], fn: Callable[[list[T]], None]) -> None:
        """Call ``fn`` on consecutive batches covering ``items`` in order."""
        start = 0
        while start < len(items):
            batch = list(items[start : start + self.size])
            failed: str | None = None
            try:
                fn(batch)
            except Exception as exc:
                if not (self.auto and is_out_of_memory(exc)):
                    raise
                failed = f"{type(exc).__name__}: {exc}"
            if failed is None:
                start += len(batch)
                continue
            # Outside the except block: the traceback (and the tensors it holds) is gone.
            free_accelerator_memory()
            if len(batch) == 1:
                raise OutOfMemoryAtBatchSizeOne(
                    f"out of memory with a single request ({failed}); give the model more memory "
                    "(--gpus-per-replica, --max-memory) or shorten the prompts (--shots)"
                )
            self.reductions.append(len(batch))
            self.size = max(1, len(batch) // 2)
            logger.warning("out of memory at batch size %d; retrying at %d", len(batch), self.size)
