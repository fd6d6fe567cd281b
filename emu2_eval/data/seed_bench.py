"""SEED-Bench (v1) in its released layout: ``SEED-Bench.json``.

``{"question_type": {"Scene Understanding": 1, ...}, "questions": [{"question_id", "question",
"choice_a", "choice_b", "choice_c", "choice_d", "answer": "A".."D", "data_id", "data_type":
"image"|"video", "question_type_id"}]}``. Image questions (dimensions 1-9) read ``data_id``
under ``images`` (the CC3M images); video questions (10-12) under ``videos``, as a video file or
a directory of frame images. ``data_types`` keeps only some questions (e.g. ``[image]`` for a
model without video input). Video questions are sampled with ``frames`` and ``sampling`` over
the whole clip (recorded; a question's ``segment``, when the file has one, is kept in the doc
but not used to cut the clip).
"""

from __future__ import annotations

from pathlib import Path

from emu2_eval.core.video_frames import DEFAULT_FRAMES
from emu2_eval.data.checks import RecordIds, require_str
from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_json,
    require_keys,
)
from emu2_eval.data.videos import VideoParts
from emu2_eval.scoring.metrics.multiple_choice import LETTERS

DATA_TYPES = ("image", "video")
KEYS = ("question_id", "question", "answer", "data_id", "data_type", "question_type_id")


def load_seed_bench(
    annotations: str,
    images: str,
    videos: str,
    frames: int = DEFAULT_FRAMES,
    sampling: str = "segment_center",
    data_types: list[str] | None = None,
) -> LoadedData:
    """Docs with ``question``, ``choices`` (letter -> text), ``answer`` (a letter),
    ``question_type_id``, ``dimension``, ``data_type`` and ``media`` (an image or a video)."""
    path = Path(annotations)
    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("questions"), list):
        raise DataFormatError(path, 'expected an object with a "questions" list')
    kept = list(data_types or DATA_TYPES)
    unknown = [t for t in kept if t not in DATA_TYPES]
    if unknown:
        raise DataFormatError(path, f"data_types {unknown} unknown; valid: {', '.join(DATA_TYPES)}")
    dimensions = {v: k for k, v in (payload.get("question_type") or {}).items()}
    parts = VideoParts(videos, path, frames, sampling)
    ids = RecordIds(path, "question_id")
    docs = []
    for index, record in enumerate(payload["questions"]):
        require_keys(record, KEYS, path, index)
        doc_id = ids.claim(record["question_id"], f"entry {index}")
        data_type = record["data_type"]
        if data_type not in DATA_TYPES:
            raise DataFormatError(
                path, f"data_type must be image or video, got {data_type!r}", doc_id
            )
        if data_type not in kept:
            continue
        choices = {}
        for letter in LETTERS:
            key = f"choice_{letter.lower()}"
            if key not in record:
                raise DataFormatError(path, f"missing key {key}", doc_id)
            choices[letter] = require_str(record, key, path, doc_id)
        answer = require_str(record, "answer", path, doc_id)
        if answer not in LETTERS:
            raise DataFormatError(path, f"answer must be one of A, B, C, D, got {answer!r}", doc_id)
        dimension = record["question_type_id"]
        if isinstance(dimension, bool) or not isinstance(dimension, int):
            raise DataFormatError(
                path, f"question_type_id must be an integer, got {dimension!r}", doc_id
            )
        data_id = require_str(record, "data_id", path, doc_id)
        media = (
            image_under(images, data_id, path, doc_id)
            if data_type == "image"
            else parts.get(data_id, doc_id)
        )
        fields = {
            "question": require_str(record, "question", path, doc_id),
            "choices": choices,
            **{f"choice_{k.lower()}": v for k, v in choices.items()},
            "answer": answer,
            "question_type_id": dimension,
            "dimension": dimensions.get(dimension, ""),
            "data_type": data_type,
            "media": media,
        }
        if "segment" in record:
            fields["segment"] = record["segment"]
        docs.append(Doc(doc_id=doc_id, fields=fields))
    return LoadedData(
        docs=docs,
        fingerprint=fingerprint_files([path]),
        sources=[str(path)],
        protocol={**parts.protocol(), "data_types": kept, "segment": "not used (whole clip)"},
    )
