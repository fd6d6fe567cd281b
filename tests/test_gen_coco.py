"""COCO text-to-image: a recorded, seeded sample of the val2014 captions file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.data.coco_t2i import load_coco_t2i
from emu2_eval.data.docs import DataFormatError


def _args(demo_dir: Path) -> dict[str, str]:
    return {
        "annotations": str(demo_dir / "coco" / "captions_val2014.json"),
        "images": str(demo_dir / "images" / "val2014"),
    }


def test_sample_is_a_pure_function_of_count_and_seed(demo_dir: Path) -> None:
    data = load_coco_t2i(**_args(demo_dir), count=8, seed=0)
    again = load_coco_t2i(**_args(demo_dir), count=8, seed=0)
    other = load_coco_t2i(**_args(demo_dir), count=8, seed=1)
    assert [d.doc_id for d in data.docs] == [d.doc_id for d in again.docs]
    assert [d.doc_id for d in data.docs] != [d.doc_id for d in other.docs]
    assert data.fingerprint == again.fingerprint != other.fingerprint
    doc = data.docs[0]
    assert doc["prompt"] == doc["caption"] and doc["real_images"] == [doc["reference_image"]]
    assert (Path(doc["image_root"]) / doc["reference_image"]).is_file()
    everything = load_coco_t2i(**_args(demo_dir))
    annotations = json.loads(Path(_args(demo_dir)["annotations"]).read_text())["annotations"]
    assert len(everything.docs) == len(annotations)


def test_one_caption_per_image_and_count_limits(demo_dir: Path) -> None:
    data = load_coco_t2i(**_args(demo_dir), count=40, seed=0, one_per_image=True)
    images = [d["image_id"] for d in data.docs]
    assert len(images) == len(set(images))
    with pytest.raises(DataFormatError, match="count 100000 but the file has"):
        load_coco_t2i(**_args(demo_dir), count=100000)


def test_bad_annotations_name_the_record(tmp_path: Path) -> None:
    path = tmp_path / "captions.json"
    path.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg"}],
                "annotations": [{"id": 5, "image_id": 2, "caption": "x"}],
            }
        )
    )
    with pytest.raises(DataFormatError, match="record 5: image_id 2 not in 'images'"):
        load_coco_t2i(str(path), str(tmp_path))
    path.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "../../etc/passwd"}],
                "annotations": [{"id": 5, "image_id": 1, "caption": "x"}],
            }
        )
    )
    with pytest.raises(DataFormatError, match="escapes the image root"):
        load_coco_t2i(str(path), str(tmp_path))
