"""On-disk cache of image features, keyed by encoder fingerprint and dataset fingerprint.

Features of a dataset are computed once: a second run (another shots value, another seed,
another process) reads them back and computes none.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emu2_eval.data.docs import Doc
from emu2_eval.fewshot.encoders import FeatureEncoder

log = logging.getLogger(__name__)


class FeatureStore:
    """Features per (encoder, dataset) in ``<directory>/<encoder>--<dataset>.npz``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.computed = 0  # how many images this store had to encode (tests, logs)

    def _path(self, encoder: FeatureEncoder, dataset_fingerprint: str) -> Path:
        key = f"{encoder.fingerprint()[:48]}--{dataset_fingerprint[:32]}"
        return self.directory / f"{key}.npz"

    def features(
        self,
        encoder: FeatureEncoder,
        dataset_fingerprint: str,
        docs: Sequence[Doc],
        image_field: str = "image",
        progress: bool = True,
    ) -> np.ndarray:
        """Rows for ``docs`` in order, encoding only the docs not cached yet."""
        path = self._path(encoder, dataset_fingerprint)
        ids: list[str] = []
        stored = np.zeros((0, 0), dtype=np.float32)
        if path.is_file():
            ids, stored = self._read(path, ids, stored)
        position = {doc_id: row for row, doc_id in enumerate(ids)}
        missing = [doc for doc in docs if doc.doc_id not in position]
        if missing:
            new = encoder.encode([doc.fields[image_field] for doc in missing], progress=progress)
            self.computed += len(missing)
            stored = new if stored.size == 0 else np.concatenate([stored, new])
            ids = ids + [doc.doc_id for doc in missing]
            position = {doc_id: row for row, doc_id in enumerate(ids)}
            self._save(path, ids, stored)
        return stored[[position[doc.doc_id] for doc in docs]]

    @staticmethod
    def _read(path: Path, ids: list[str], stored: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The cached (ids, features); a damaged file (a kill mid-write on a filesystem without
        atomic rename, a full disk) is only a cache: say so, naming it, and recompute."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                cached_ids, features = [str(i) for i in archive["doc_ids"]], archive["features"]
            if features.ndim != 2 or len(features) != len(cached_ids):
                raise ValueError(f"{len(cached_ids)} ids but features of shape {features.shape}")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            log.warning(
                "few-shot feature cache %s is damaged (%s: %s): recomputing its features; "
                "the file is only a cache and is safe to delete",
                path, type(exc).__name__, exc,
            )  # fmt: skip
            return ids, stored
        return cached_ids, features

    def _save(self, path: Path, ids: list[str], features: np.ndarray) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, doc_ids=np.array(ids, dtype=str), features=features)
        os.replace(tmp, path)
