"""COCO text-to-image: a recorded, seeded sample of the val2014 captions file."""

from __future__ import annotations

import json
import random
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


def _shuffled_captions(tmp_path: Path, n: int = 60) -> Path:
    """A captions file whose annotation ids are not in file order (as in the real file)."""
    ids = list(range(1000, 1000 + n))
    random.Random(7).shuffle(ids)
    (tmp_path / "images").mkdir()
    images = [{"id": i, "file_name": f"im{i}.jpg"} for i in range(10)]
    for image in images:
        (tmp_path / "images" / image["file_name"]).write_bytes(b"")
    annotations = [
        {"id": ann_id, "image_id": index % 10, "caption": f"caption {ann_id}"}
        for index, ann_id in enumerate(ids)
    ]
    path = tmp_path / "captions_val2014.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path


def _kosmos_g_sample(path: Path, count: int, seed: int) -> list[str]:
    """Kosmos-G's published steps (sample_kosmosg_coco.py), on the global generator."""
    state = random.getstate()
    try:
        random.seed(seed)
        files = json.loads(path.read_text())["annotations"]
        return [str(ann["id"]) for ann in random.sample(files, count)]
    finally:
        random.setstate(state)


@pytest.mark.parametrize("count,seed", [(30, 0), (7, 0), (60, 3)])
def test_sample_is_kosmos_g_published_sample(tmp_path: Path, count: int, seed: int) -> None:
    path = _shuffled_captions(tmp_path)
    data = load_coco_t2i(str(path), str(tmp_path / "images"), count=count, seed=seed)
    assert [d.doc_id for d in data.docs] == _kosmos_g_sample(path, count, seed)
    assert data.protocol["sampling"] == "kosmos_g" and data.protocol["seed"] == seed
    assert "sample_kosmosg_coco.py" in data.protocol["rule"]
    earlier = load_coco_t2i(
        str(path), str(tmp_path / "images"), count=count, seed=seed, sampling="sorted_by_id"
    )
    if count < 60:
        assert [d.doc_id for d in earlier.docs] != [d.doc_id for d in data.docs]
    assert (
        earlier.fingerprint != data.fingerprint and earlier.protocol["sampling"] == "sorted_by_id"
    )
    with pytest.raises(ValueError, match="sampling 'file_order' is not one of kosmos_g"):
        load_coco_t2i(str(path), str(tmp_path / "images"), count=count, sampling="file_order")
