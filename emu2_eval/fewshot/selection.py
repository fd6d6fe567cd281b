"""Demonstration selection strategies, each a pure function of (task, doc id, shots, seed).

Selectors never see batch size, rank or order, so a document gets the same demonstrations in
any run layout. A demonstration never shows the query's own image.

``one_example_per_image`` (``fewshot.one_example_per_image``): by default the pool has one entry
per question, so two demonstrations of a query may show one image with two questions, as in
OpenFlamingo (mlfoundations/open_flamingo@655f693: ``VQADataset`` in
``open_flamingo/eval/eval_datasets.py`` yields one item per question, and both
``utils.sample_batch_demos_from_query_set`` and ``rices.RICES.find`` pick items, not images).
With the option on, a prompt shows each pool image at most once: ``random`` draws distinct images
uniformly, then one of each image's entries uniformly (both from the doc's derived seed);
``rices`` ranks images and shows each with its first entry in pool order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emu2_eval.core.prompts import ImageLoadError, ImagePart
from emu2_eval.data.docs import Doc, LoadedData
from emu2_eval.fewshot.encoders import FeatureEncoder
from emu2_eval.fewshot.feature_store import FeatureStore
from emu2_eval.fewshot.seeds import derive_seed
from emu2_eval.tasks.config import FewShotSpec


def _image_key(doc: Doc) -> str | None:
    image = doc.fields.get("image")
    return image.key if isinstance(image, ImagePart) else None


class DemoSelector:
    """Base class. ``prepare`` may precompute per-query state for a whole split."""

    strategy = "selector"

    def __init__(self, pool: LoadedData, task: str, one_example_per_image: bool = False) -> None:
        if not pool.docs:
            raise ValueError(f"task {task!r}: the few-shot pool is empty")
        self.pool = pool
        self.task = task
        self.one_example_per_image = one_example_per_image
        groups: dict[str, list[int]] = {}
        for index, doc in enumerate(pool.docs):  # docs without an image are their own group
            groups.setdefault(_image_key(doc) or f"\x00doc:{doc.doc_id}", []).append(index)
        self.image_groups = list(groups.values())  # pool entries per image, in pool order

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
        return cls(pool, task, **cls.spec_arguments(spec, query_fingerprint, store, progress))

    @classmethod
    def spec_arguments(
        cls, spec: FewShotSpec, query_fingerprint: str, store: FeatureStore, progress: bool
    ) -> dict[str, Any]:
        """The constructor arguments after ``pool`` and ``task`` that ``build`` passes."""
        return {"one_example_per_image": spec.one_example_per_image}

    def prepare(self, docs: Sequence[Doc], progress: bool = True) -> None:
        """Precompute what ``select`` needs for these query docs (nothing by default)."""

    def select(self, doc: Doc, shots: int, seed: int) -> list[Doc]:
        raise NotImplementedError

    def describe(self) -> dict[str, str]:
        """What results.json records about this selector beyond the task file (none here)."""
        return {}

    def _check_size(self, shots: int) -> None:
        if self.one_example_per_image and shots > len(self.image_groups):
            raise ValueError(
                f"task {self.task!r}: {shots} shots asked with one_example_per_image but the "
                f"pool has {len(self.image_groups)} images"
            )
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
        if self.one_example_per_image:
            return self._select_images(doc, shots, rng)
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

    def _select_images(self, doc: Doc, shots: int, rng: np.random.Generator) -> list[Doc]:
        """``shots`` distinct images other than the query's, then one entry of each."""
        query_image = _image_key(doc)
        groups = [
            g for g in self.image_groups
            if not (query_image and _image_key(self.pool.docs[g[0]]) == query_image)
        ]  # fmt: skip
        if len(groups) < shots:
            raise ValueError(f"task {self.task!r}: not enough pool images besides the query's")
        chosen = []
        for i in rng.choice(len(groups), size=shots, replace=False):
            group = groups[int(i)]
            chosen.append(self.pool.docs[group[int(rng.integers(len(group)))]])
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
        one_example_per_image: bool = False,
    ) -> None:
        super().__init__(pool, task, one_example_per_image)
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
        if one_example_per_image:  # an image competes once, as its first entry in pool order
            firsts = np.zeros(len(pool.docs), dtype=bool)
            firsts[[group[0] for group in self.image_groups]] = True
            self.usable = usable & firsts

    @classmethod
    def spec_arguments(
        cls, spec: FewShotSpec, query_fingerprint: str, store: FeatureStore, progress: bool
    ) -> dict[str, Any]:
        from emu2_eval.core.registry import FEATURE_ENCODERS

        encoder = FEATURE_ENCODERS.get(spec.encoder)(**spec.encoder_args)
        return {
            "encoder": encoder,
            "store": store,
            "query_fingerprint": query_fingerprint,
            "progress": progress,
            "one_example_per_image": spec.one_example_per_image,
        }

    def describe(self) -> dict[str, str]:
        """The encoder's identity (name, weights hash): which features chose the demos."""
        return {"encoder_fingerprint": self.encoder.fingerprint()}

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
