"""RefCOCO, RefCOCO+ and RefCOCOg in the refer toolkit's layout (lichengunc/refer).

Each dataset directory holds ``refs(<splitBy>).p`` (a pickle: a list of referred objects) and
``instances.json`` (COCO-style ``images`` and ``annotations`` of those objects); the pictures
are COCO ``train2014`` images. Split names: RefCOCO and RefCOCO+ (``refs(unc).p``): ``train``,
``val``, ``testA``, ``testB``; RefCOCOg umd split (``refs(umd).p``): ``train``, ``val``,
``test``.

Ref record: ``{"ref_id", "ann_id", "image_id", "split", "category_id", "file_name", "sent_ids",
"sentences": [{"sent_id", "sent", "raw", "tokens"}]}``; the box is the instance annotation's
``bbox`` (COCO ``[x, y, width, height]`` in pixels of the original image).

Convention: one document per referring sentence (doc id ``sent_id``), which is how the REC
accuracies of Shikra, Qwen-VL and the Emu2 README are counted (RefCOCO val: 10,834 sentences on
3,811 objects). ``sentence_field`` picks the text: ``sent`` (default, the refer toolkit's
cleaned lower-case sentence) or ``raw`` (as typed by the annotator); it is recorded in the
dataset protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emu2_eval.data.docs import (
    DataFormatError,
    Doc,
    LoadedData,
    fingerprint_files,
    image_under,
    read_json,
    require_keys,
)
from emu2_eval.data.safe_pickle import load_containers

SENTENCE_FIELDS = ("sent", "raw")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _images(path: Path, payload: Any) -> dict[int, dict[str, Any]]:
    """``instances.json`` images by id: file name, width and height."""
    if not isinstance(payload, dict) or not isinstance(payload.get("images"), list):
        raise DataFormatError(path, 'expected an object with an "images" list (COCO instances)')
    images: dict[int, dict[str, Any]] = {}
    for index, image in enumerate(payload["images"]):
        require_keys(image, ("id", "file_name", "width", "height"), path, f"images[{index}]")
        if not all(_number(image[k]) and image[k] > 0 for k in ("width", "height")):
            raise DataFormatError(path, "width and height must be positive numbers", image["id"])
        images[image["id"]] = image
    return images


def _boxes(path: Path, payload: Any) -> dict[int, dict[str, Any]]:
    """``instances.json`` annotations by id, each with a valid ``[x, y, w, h]`` bbox."""
    if not isinstance(payload.get("annotations"), list):
        raise DataFormatError(path, 'expected an "annotations" list (COCO instances)')
    boxes: dict[int, dict[str, Any]] = {}
    for index, ann in enumerate(payload["annotations"]):
        require_keys(ann, ("id", "image_id", "bbox"), path, f"annotations[{index}]")
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
            raise DataFormatError(
                path, f"bbox must be [x, y, width, height] numbers, got {bbox!r}", ann["id"]
            )
        if bbox[2] < 0 or bbox[3] < 0:
            raise DataFormatError(path, f"bbox has a negative width or height: {bbox}", ann["id"])
        boxes[ann["id"]] = ann
    return boxes


def _sentences(ref: dict[str, Any], path: Path, field: str) -> list[tuple[Any, str]]:
    sentences = ref["sentences"]
    if not isinstance(sentences, list) or not sentences:
        raise DataFormatError(path, "sentences must be a non-empty list", f"ref_id {ref['ref_id']}")
    out = []
    for k, sentence in enumerate(sentences):
        where = f"ref_id {ref['ref_id']}, sentences[{k}]"
        require_keys(sentence, ("sent_id", field), path, where)
        if not isinstance(sentence[field], str) or not sentence[field].strip():
            raise DataFormatError(path, f"{field} must be a non-empty string", where)
        out.append((sentence["sent_id"], sentence[field]))
    return out


def load_refcoco(
    refs: str, instances: str, images: str, split: str, sentence_field: str = "sent"
) -> LoadedData:
    """One split of a RefCOCO-family dataset, one doc per referring sentence."""
    if sentence_field not in SENTENCE_FIELDS:
        raise ValueError(
            f"refcoco option sentence_field={sentence_field!r}; valid: {', '.join(SENTENCE_FIELDS)}"
        )
    refs_path, instances_path = Path(refs), Path(instances)
    records = load_containers(refs_path)
    if not isinstance(records, list):
        raise DataFormatError(refs_path, "expected a list of refs (the refer toolkit's pickle)")
    payload = read_json(instances_path)
    image_table = _images(instances_path, payload)
    box_table = _boxes(instances_path, payload)
    docs: list[Doc] = []
    seen: dict[str, str] = {}
    splits: set[str] = set()
    for index, ref in enumerate(records):
        require_keys(ref, ("ref_id", "ann_id", "image_id", "split", "sentences"), refs_path, index)
        splits.add(str(ref["split"]))
        if ref["split"] != split:
            continue
        where = f"ref_id {ref['ref_id']}"
        ann = box_table.get(ref["ann_id"])
        if ann is None:
            raise DataFormatError(
                refs_path, f"ann_id {ref['ann_id']!r} is not in {instances_path}", where
            )
        if ann["image_id"] != ref["image_id"]:
            raise DataFormatError(
                refs_path,
                f"image_id {ref['image_id']!r} differs from annotation {ref['ann_id']}'s "
                f"image_id {ann['image_id']!r} in {instances_path}",
                where,
            )
        image = image_table.get(ref["image_id"])
        if image is None:
            raise DataFormatError(
                refs_path, f"image_id {ref['image_id']!r} is not in {instances_path}", where
            )
        part = image_under(Path(images), image["file_name"], instances_path, ref["image_id"])
        for sent_id, text in _sentences(ref, refs_path, sentence_field):
            doc_id = str(sent_id)
            if doc_id in seen:
                raise DataFormatError(
                    refs_path, f"sent_id {sent_id!r} also used by {seen[doc_id]}", where
                )
            seen[doc_id] = where
            fields = {
                "image": part,
                "expression": text,
                "bbox": [float(v) for v in ann["bbox"]],
                "width": float(image["width"]),
                "height": float(image["height"]),
                "ref_id": ref["ref_id"],
                "ann_id": ref["ann_id"],
                "image_id": ref["image_id"],
                "category_id": ref.get("category_id"),
            }
            docs.append(Doc(doc_id=doc_id, fields=fields))
    if not docs:
        raise DataFormatError(
            refs_path,
            f"no ref of split {split!r}; splits in this file: "
            + (", ".join(sorted(splits)) or "none"),
        )
    return LoadedData(
        docs=docs,
        fingerprint=fingerprint_files([refs_path, instances_path]),
        sources=[str(refs_path), str(instances_path)],
        protocol={"unit": "sentence", "sentence_field": sentence_field, "split": split},
    )
