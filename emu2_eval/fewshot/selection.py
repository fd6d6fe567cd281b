"""Demonstration selection strategies, each a pure function of (task, doc id, shots, seed).

Selectors never see batch size, rank or order, so a document gets the same demonstrations in
any run layout. A demonstration never shows the query's own image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emu2_eval.data.docs import Doc, LoadedData
from emu2_eval.fewshot.encoders import FeatureEncoder
from emu2_eval.fewshot.feature_store import FeatureStore
from emu2_eval.fewshot.seeds import derive_seed
from emu2_eval.prompts import ImageLoadError, ImagePart
from emu2_eval.tasks.config import FewShotSpec


def _image_key(doc: Doc) -> str | None:
    image = doc.fields.get("image")
    return image.key if isinstance(image, ImagePart) else None


class DemoSelector:
    """Base class. ``prepare`` may precompute per-query state for a whole split."""

    strategy = "selector"

    def __init__(self, pool: LoadedData, task: str) -> None:
        if not pool.docs:
            raise ValueError(f"task {task!r}: the few-shot pool is empty")
        self.pool = pool
        self.task = task

    @classmethod
    def build(
        cls,
        pool: LoadedData,
        task: str,
        spec: FewShotSpec,
        query_fingerprint: str,
        store: FeatureStore,
        progress: bool = True,
    ) -> DemoSelector:
        """Construct from a task's ``fewshot:`` block (strategies take what they need)."""
        return cls(pool, task)

    def prepare(self, docs: Sequence[Doc], progress: bool = True) -> None:
        """Precompute what ``select`` needs for these query docs (nothing by default)."""

    def select(self, doc: Doc, shots: int, seed: int) -> list[Doc]:
        raise NotImplementedError

    def _check_size(self, shots: int) -> None:
        if shots > len(self.pool.docs) - 1:
            raise ValueError(
                f"task {self.task!r}: {shots} shots asked but the pool has "
                f"{len(self.pool.docs)} documents"
            )


class RandomSelector(DemoSelector):
    """Uniform random demonstrations from the pool, seeded by (task, doc id, shots, seed)."""

    strategy = "random"

    def select(self, doc: Doc, shots: int, seed: int) -> list[Doc]:
        if shots == 0:
            return []
        self._check_size(shots)
        rng = np.random.default_rng(derive_seed(self.task, doc.doc_id, shots, seed))
        query_image = _image_key(doc)
        chosen: list[Doc] = []
        seen: set[int] = set()
        while len(chosen) < shots:
            want = min(len(self.pool.docs), shots + 8)
            for index in rng.choice(len(self.pool.docs), size=want, replace=False):
                candidate = self.pool.docs[int(index)]
                if int(index) in seen or (query_image and _image_key(candidate) == query_image):
                    continue
                seen.add(int(index))
                chosen.append(candidate)
                if len(chosen) == shots:
                    break
            if len(seen) >= len(self.pool.docs) - 1 and len(chosen) < shots:
                raise ValueError(f"task {self.task!r}: not enough pool images besides the query's")
        return chosen


class RicesSelector(DemoSelector):
    """RICES: the pool images most similar to the query image (cosine), most similar last.

    Image features come from a registered encoder and are cached on disk per (encoder, dataset),
    so a second run computes none. The choice is deterministic: ``seed`` does not enter it.
    """

    strategy = "rices"

    def __init__(
        self,
        pool: LoadedData,
        task: str,
        encoder: FeatureEncoder,
        store: FeatureStore,
        query_fingerprint: str,
        progress: bool = True,
    ) -> None:
        super().__init__(pool, task)
        self.encoder = encoder
        self.store = store
        self.query_fingerprint = query_fingerprint
        self.progress = progress
        pool_features = store.features(encoder, pool.fingerprint, pool.docs, progress=progress)
        usable = ~np.isnan(pool_features).any(axis=1)
        self.pool_features = np.where(usable[:, None], pool_features, 0.0)
        self.usable = usable
        self.pool_keys = np.array([_image_key(d) or "" for d in pool.docs], dtype=object)
        self.query_features: dict[str, np.ndarray] = {}

    @classmethod
    def build(
        cls,
        pool: LoadedData,
        task: str,
        spec: FewShotSpec,
        query_fingerprint: str,
        store: FeatureStore,
        progress: bool = True,
    ) -> DemoSelector:
        from emu2_eval.registry import FEATURE_ENCODERS

        encoder = FEATURE_ENCODERS.get(spec.encoder)(**spec.encoder_args)
        return cls(pool, task, encoder, store, query_fingerprint, progress)

    def prepare(self, docs: Sequence[Doc], progress: bool = True) -> None:
        features = self.store.features(
            self.encoder, self.query_fingerprint, docs, progress=progress and self.progress
        )
        self.query_features.update(zip((d.doc_id for d in docs), features, strict=True))

    def select(self, doc: Doc, shots: int, seed: int) -> list[Doc]:
        if shots == 0:
            return []
        self._check_size(shots)
        if doc.doc_id not in self.query_features:
            self.prepare([doc], progress=False)
        query = self.query_features[doc.doc_id]
        if np.isnan(query).any():
            raise ImageLoadError(_image_key(doc) or doc.doc_id, "no features for RICES")
        similarity = self.pool_features @ query
        similarity[~self.usable] = -np.inf
        key = _image_key(doc)
        if key:
            similarity[self.pool_keys == key] = -np.inf
        # stable: equal similarities keep pool order, so ties break the same way everywhere
        order = np.argsort(-similarity, kind="stable")[:shots]
        if np.isinf(similarity[order]).any():
            raise ValueError(f"task {self.task!r}: not enough usable pool images for {shots} shots")
        return [self.pool.docs[int(i)] for i in order[::-1]]
