"""COCO captioning with the Karpathy split: ``dataset_coco.json`` (+ ``captions_val2014.json``).

The Karpathy file picks the images of a split (test: 5,000 val2014 images); references come from
the official ``captions_val2014.json`` when given (as OpenFlamingo and the COCO server do), else
from the Karpathy file's ``raw`` sentences (the same captions, differently whitespace-cleaned).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

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


def _official_references(path: Path) -> dict[str, list[str]]:
    """Captions by ``str(image_id)`` (so 10 and "10" find the same image)."""
    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("annotations"), list):
        raise DataFormatError(path, 'expected an object with an "annotations" list')
    refs: dict[str, list[str]] = defaultdict(list)
    ids = RecordIds(path, "id")
    for index, ann in enumerate(payload["annotations"]):
        require_keys(ann, ("image_id", "caption"), path, index)
        if "id" in ann:  # the official file's caption ids: a repeated caption would count twice
            ids.claim(ann["id"], f"annotations[{index}]")
        refs[str(ann["image_id"])].append(require_str(ann, "caption", path, index))
    return refs


def load_coco_karpathy(
    karpathy: str, images: str, split: str = "test", annotations: str | None = None
) -> LoadedData:
    """Load one split of the Karpathy COCO file; images under ``images/<filepath>/<filename>``."""
    karpathy_path = Path(karpathy)
    payload = read_json(karpathy_path)
    if not isinstance(payload, dict) or not isinstance(payload.get("images"), list):
        raise DataFormatError(karpathy_path, 'expected an object with an "images" list')
    official = _official_references(Path(annotations)) if annotations else None
    docs: list[Doc] = []
    ids = RecordIds(karpathy_path, "cocoid")
    for index, entry in enumerate(payload["images"]):
        require_keys(entry, ("split", "filename", "cocoid", "sentences"), karpathy_path, index)
        if entry["split"] != split:
            continue
        cocoid = entry["cocoid"]
        doc_id = ids.claim(cocoid, f"images[{index}]")
        if official is not None:
            references = official.get(doc_id)
            if not references:
                raise DataFormatError(annotations, "no captions for image", cocoid)
        else:
            references = [
                require_str(s, "raw", karpathy_path, doc_id)
                for s in entry["sentences"]
                if isinstance(s, dict) and "raw" in s
            ]
            if not references:
                raise DataFormatError(karpathy_path, "image has no sentences", cocoid)
        relative = str(Path(entry.get("filepath", "")) / entry["filename"])
        docs.append(
            Doc(
                doc_id=doc_id,
                fields={
                    "image_id": cocoid,
                    "image": image_under(images, relative, karpathy_path, cocoid),
                    "references": list(references),
                },
            )
        )
    if not docs:
        raise DataFormatError(karpathy_path, f"no images in split {split!r}")
    files = [karpathy_path] + ([Path(annotations)] if annotations else [])
    return LoadedData(
        docs=docs, fingerprint=fingerprint_files(files), sources=[str(f) for f in files]
    )
