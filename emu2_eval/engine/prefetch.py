"""Decode and prepare the images of the next batch in worker threads while the model runs.

Decoding JPEGs, and the adapter's per-image preparation (``ModelAdapter.prepare_image``: Emu2
resizes to 448 and normalises), is CPU work that would otherwise sit between two model calls.
The prefetcher walks the requests in the order the runner will take them, keeps up to one batch
ahead in a thread pool (Pillow and torch release the GIL while they work), and the runner hands
the prepared images to the adapter with the batch (``adapter.run(kind, requests, images)``,
``models.prepared_images``). An image that recurs within the window (a few-shot demonstration)
is prepared once, and one the adapter will not read (``ModelAdapter.needs_image``: its features
are cached) not at all. An image that fails to decode is simply not handed over: the adapter
then loads it itself and raises the usual ``ImageLoadError`` for that sample, so results,
errors and messages are the same with and without prefetching.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from emu2_eval.core.prompts import ImagePart, images_of
from emu2_eval.core.requests import Request


class ImagePrefetcher:
    """Decoded images for requests taken in order; ``workers=0`` turns prefetching off."""

    def __init__(
        self,
        requests: Sequence[Request],
        workers: int,
        prepare: Callable[[Any], Any] | None = None,
        needed: Callable[[ImagePart], bool] | None = None,
    ) -> None:
        self._images = [images_of(r.prompt) for r in requests]
        self._prepare = prepare
        self._needed = needed
        self._scheduled = 0  # requests [0, _scheduled) have their decoding submitted
        self._released = 0  # requests [0, _released) are finished and their images let go
        self._futures: dict[str, Future[Any]] = {}
        self._refs: Counter[str] = Counter()
        has_images = any(self._images)
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="emu2-eval-decode")
            if workers > 0 and has_images
            else None
        )

    @property
    def enabled(self) -> bool:
        return self._pool is not None

    def _schedule_until(self, position: int) -> None:
        assert self._pool is not None
        end = min(position, len(self._images))
        while self._scheduled < end:
            for part in self._dedupe(self._images[self._scheduled]):
                if part.key not in self._futures:
                    self._futures[part.key] = self._pool.submit(self._load, part)
                self._refs[part.key] += 1
            self._scheduled += 1

    def _load(self, part: ImagePart) -> Any:
        """The prepared image, or None when the adapter will not read it (checked as late as
        possible, in the worker: a feature cache may have gained it since it was scheduled)."""
        if self._needed is not None and not self._needed(part):
            return None
        image = part.load()
        return self._prepare(image) if self._prepare is not None else image

    @staticmethod
    def _dedupe(parts: list[ImagePart]) -> list[ImagePart]:
        seen: dict[str, ImagePart] = {}
        for part in parts:
            seen.setdefault(part.key, part)
        return list(seen.values())

    def take(self, positions: Sequence[int], ahead: int) -> dict[str, Any]:
        """Decoded images of the requests at ``positions`` (consecutive, in order), by key;
        then start decoding the next ``ahead`` requests.

        Positions before ``positions[0]`` are released (finished); the same positions may be
        taken again, as when a batch that ran out of memory is retried in smaller pieces.
        """
        if self._pool is None or not positions:
            return {}
        while self._released < min(positions[0], self._scheduled):
            for part in self._dedupe(self._images[self._released]):
                self._refs[part.key] -= 1
                if self._refs[part.key] == 0:
                    del self._refs[part.key], self._futures[part.key]
            self._released += 1
        last = positions[-1] + 1
        self._schedule_until(last)
        decoded: dict[str, Any] = {}
        for position in positions:
            for part in self._images[position]:
                future = self._futures[part.key]
                if part.key not in decoded and future.exception() is None:
                    image = future.result()
                    if image is not None:
                        decoded[part.key] = image
        self._schedule_until(last + ahead)
        return decoded

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ImagePrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
