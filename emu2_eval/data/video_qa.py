"""MSVD-QA and MSRVTT-QA (Xu et al. 2017) in their released layout: a ``*_qa.json`` list.

Each record: ``{"id", "question", "answer", "video_id"}`` (MSRVTT-QA also ``category_id``).
Videos are found by ``video_pattern`` under ``videos`` (``$name`` fields, as ``{...}`` is taken
by path roots in task files): MSRVTT-QA ``video$video_id.mp4``; MSVD-QA names its clips in
``youtube_mapping.txt`` (lines ``<youtube clip name> vid<N>``), given as ``mapping``, with the
pattern ``$video_name.avi``. A pattern may name a directory of frame
images instead of a file. ``frames`` (16, Emu2-Chat's) are sampled by ``sampling``
(:mod:`emu2_eval.core.video_frames`); both are recorded.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from emu2_eval.core.video_frames import DEFAULT_FRAMES
from emu2_eval.data.checks import RecordIds, require_str
from emu2_eval.data.docs import DataFormatError, Doc, LoadedData, fingerprint_files, read_json
from emu2_eval.data.videos import VideoParts

QUESTION_WORDS = ("what", "who", "how", "when", "where", "which", "why")


def question_type(question: str) -> str:
    """The question word the MSVD/MSRVTT-QA papers break results down by (else ``other``)."""
    words = question.strip().lower().split()
    return words[0] if words and words[0] in QUESTION_WORDS else "other"


def read_mapping(path: Path) -> dict[str, str]:
    """``youtube_mapping.txt``: ``vid<N>`` -> clip name."""
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    mapping: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise DataFormatError(path, f"expected '<clip name> vid<N>', got {line!r}", number)
        mapping[fields[1]] = fields[0]
    return mapping


def load_video_qa(
    questions: str,
    videos: str,
    video_pattern: str = "video$video_id.mp4",
    mapping: str | None = None,
    frames: int = DEFAULT_FRAMES,
    sampling: str = "segment_center",
) -> LoadedData:
    """Docs with ``question``, ``answer``, ``question_type`` and the sampled ``video``."""
    path = Path(questions)
    payload = read_json(path)
    if not isinstance(payload, list):
        raise DataFormatError(path, "expected a list of {id, question, answer, video_id}")
    names = read_mapping(Path(mapping)) if mapping else {}
    parts = VideoParts(videos, path, frames, sampling)
    ids = RecordIds(path, "id")
    docs = []
    for index, record in enumerate(payload):
        if not isinstance(record, dict):
            raise DataFormatError(path, "expected an object", index)
        missing = [k for k in ("id", "question", "answer", "video_id") if k not in record]
        if missing:
            raise DataFormatError(path, f"missing key(s) {', '.join(missing)}", index)
        doc_id = ids.claim(record["id"], f"entry {index}")
        question = require_str(record, "question", path, doc_id)
        answer = require_str(record, "answer", path, doc_id)
        video_id = record["video_id"]
        name = names.get(f"vid{video_id}", str(video_id))
        if mapping and f"vid{video_id}" not in names:
            raise DataFormatError(mapping, f"no clip name for vid{video_id}", doc_id)
        try:
            relative = Template(video_pattern).substitute(video_id=video_id, video_name=name)
        except (KeyError, ValueError) as exc:
            raise DataFormatError(
                path, f"video_pattern {video_pattern!r} does not fit: {exc}", doc_id
            ) from None
        fields = {
            "question": question,
            "answer": answer,
            "question_type": question_type(question),
            "video_id": video_id,
            "video": parts.get(relative, doc_id),
        }
        if "category_id" in record:
            fields["category_id"] = record["category_id"]
        docs.append(Doc(doc_id=doc_id, fields=fields))
    files = [path] + ([Path(mapping)] if mapping else [])
    return LoadedData(
        docs=docs,
        fingerprint=fingerprint_files(files),
        sources=[str(f) for f in files],
        protocol=parts.protocol(),
    )
