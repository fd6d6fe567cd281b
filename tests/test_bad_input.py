"""Bad input: each case of docs/bad_input.md that is not covered elsewhere, with its message."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from emu2_eval.cli import main
from emu2_eval.core.prompts import ImageLoadError, ImagePart
from emu2_eval.data.docs import DataFormatError
from emu2_eval.data.hateful_memes import load_hateful_memes
from emu2_eval.data.vqa import load_vqa_official
from tests.helpers import run_offline
from tests.runs import evaluate_run

REPO = Path(__file__).resolve().parents[1]


def test_wrong_types_name_the_record(demo_dir: Path, tmp_path: Path) -> None:
    payload = json.loads((demo_dir / "vqa/annotations_val2014.json").read_text())
    payload["annotations"][3]["answers"] = "red"
    path = tmp_path / "a.json"
    path.write_text(json.dumps(payload))
    qid = payload["annotations"][3]["question_id"]
    with pytest.raises(
        DataFormatError, match=rf"a\.json, record {qid}: answers must be a non-empty list"
    ):
        load_vqa_official(
            str(demo_dir / "vqa/questions_val2014.json"),
            str(demo_dir / "images/val2014"),
            str(path),
        )


def test_truncated_annotation_file(demo_dir: Path, tmp_path: Path) -> None:
    text = (demo_dir / "vqa/annotations_val2014.json").read_text()
    path = tmp_path / "a.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(DataFormatError, match=r"a\.json: invalid JSON at line 1"):
        load_vqa_official(
            str(demo_dir / "vqa/questions_val2014.json"),
            str(demo_dir / "images/val2014"),
            str(path),
        )


def test_image_paths_cannot_escape_the_dataset_root(demo_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "memes"
    root.mkdir()
    for name in ("../../etc/passwd", "/etc/passwd", "img/../../secret.png"):
        (root / "dev.jsonl").write_text(json.dumps({"id": 1, "img": name, "text": "t", "label": 0}))
        with pytest.raises(DataFormatError, match="escapes the image root"):
            load_hateful_memes(str(root / "dev.jsonl"), str(root))
    # a name that goes down and up again inside the root is fine
    (root / "dev.jsonl").write_text(json.dumps({"id": 1, "img": "img/../a.png", "text": "t"}))
    assert load_hateful_memes(str(root / "dev.jsonl"), str(root)).docs[0]["image"].path == str(
        root / "a.png"
    )


def test_zero_byte_and_bomb_images_are_refused(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"empty\.jpg.*UnidentifiedImageError"):
        ImagePart.from_file(empty).load()
    buffer = io.BytesIO()
    Image.new("L", (3000, 3000)).save(buffer, "PNG")  # 9 Mpx in a few KB
    monkeypatch.setenv("EMU2_EVAL_MAX_IMAGE_PIXELS", "4000000")
    with pytest.raises(ImageLoadError, match=r"3000x3000 pixels exceeds the limit of 4000000"):
        ImagePart.from_bytes(buffer.getvalue()).load()
    monkeypatch.setenv("EMU2_EVAL_MAX_IMAGE_PIXELS", "10000000")
    assert ImagePart.from_bytes(buffer.getvalue()).load().size == (3000, 3000)


def test_bad_images_in_a_run_are_counted_not_fatal(task_dir, demo_dir, tmp_path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    images = data / "images" / "val2014"
    (images / "COCO_val2014_000000000001.jpg").write_bytes(b"")
    buffer = io.BytesIO()
    Image.new("L", (3000, 3000)).save(buffer, "JPEG")
    (images / "COCO_val2014_000000000002.jpg").write_bytes(buffer.getvalue())
    source = (REPO / "tasks" / "demo" / "demo_vqa.yaml").read_text()
    (task_dir / "bad.yaml").write_text(
        source.replace("task: demo_vqa", "task: bad_images").replace("{demo}", str(data))
    )
    import os

    os.environ["EMU2_EVAL_MAX_IMAGE_PIXELS"] = "4000000"
    try:
        results = evaluate_run(
            "tiny-vlm", {}, ["bad_images"], tmp_path / "run", limit=12, batch_size=4, progress=False
        )
    finally:
        del os.environ["EMU2_EVAL_MAX_IMAGE_PIXELS"]
    block = results["tasks"]["bad_images"]
    assert block["n_errors"] == 8 and block["n_scored"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--shots", "-1"], "--shots must be >= 0"),
        (["--shots", "4", "--tasks", "demo_caption"], "has no 'fewshot' pool"),
        (["--model-args", "pretrained"], "expected key=value"),
        (["--model-args", "colour=red"], "does not accept argument(s) colour"),
    ],
)
def test_contradictory_or_invalid_options(args, message, tmp_path) -> None:
    base = ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--output", str(tmp_path / "o")]
    if "--tasks" in args:
        base = base[:3] + base[5:]
    result = CliRunner().invoke(main, base + args)
    assert result.exit_code != 0
    assert message in result.output


def test_corrupt_cache_file_is_named(tmp_path: Path) -> None:
    from emu2_eval.engine.cache import ResponseCache

    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RuntimeError, match=r"cache\.sqlite is unreadable"):
        ResponseCache(path).get_many(["x"])


def test_corrupt_results_json_in_run_directory_is_named(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "results.json").write_text('{"tasks": ')
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "1", "--output", str(out)],
    )
    assert result.exit_code == 1 and "results.json is not valid JSON" in result.output


def test_nan_loglikelihoods_are_a_clear_error() -> None:
    from emu2_eval.scoring.metrics.base import Sample
    from emu2_eval.scoring.metrics.roc_auc import RocAucMetric

    samples = [
        Sample(str(i), {"label": i % 2}, [float("nan") if i == 2 else -1.0 * i, -1.0])
        for i in range(6)
    ]
    with pytest.raises(ValueError, match="doc 2 has no finite log-likelihood"):
        RocAucMetric().score(samples)


@pytest.mark.slow
def test_demo_runs_with_the_network_blocked(tmp_path: Path, tiny_model_dir, demo_dir) -> None:
    run_offline(
        ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa,demo_caption", "--limit", "4",
         "--output", str(tmp_path / "o"), "--no-progress"],
        timeout=300,
    )  # fmt: skip
    assert (tmp_path / "o" / "results.json").is_file()


def test_checksum_manifest_fails_loudly_on_mismatch(task_dir, demo_dir, tmp_path) -> None:
    import hashlib

    data = tmp_path / "data"
    shutil.copytree(demo_dir / "vqa", data / "vqa")
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  vqa/{p.name}"
        for p in sorted((data / "vqa").glob("*_val2014.json"))
    ]
    (data / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    source = (REPO / "tasks" / "demo" / "demo_vqa.yaml").read_text()
    source = (
        source.replace("task: demo_vqa", "task: checked")
        .replace(
            '    questions: "{demo}/vqa/questions_val2014.json"',
            f'    questions: "{data}/vqa/questions_val2014.json"',
        )
        .replace(
            '    annotations: "{demo}/vqa/annotations_val2014.json"',
            f'    annotations: "{data}/vqa/annotations_val2014.json"',
        )
        .replace(
            "  loader: vqa_official\n",
            f"  loader: vqa_official\n  checksums: {data}/SHA256SUMS\n",
            1,
        )
    )
    (task_dir / "checked.yaml").write_text(source)
    from emu2_eval.data.integrity import ChecksumMismatchError
    from emu2_eval.tasks.registry import get_task

    assert len(get_task("checked").load().docs) == 96
    annotations = data / "vqa" / "annotations_val2014.json"
    annotations.write_text(annotations.read_text().replace('"red"', '"blue"', 1))
    with pytest.raises(ChecksumMismatchError, match=r"annotations_val2014\.json has sha256"):
        get_task("checked").load()


def test_full_disk_keeps_the_previous_output_and_names_the_file(tmp_path, monkeypatch) -> None:
    """ENOSPC while writing results: a clear error, the old results.json intact, no temp file."""
    import errno

    from emu2_eval.core import atomic

    out = tmp_path / "o"
    first = evaluate_run("tiny-vlm", {}, ["demo_vqa"], out, limit=2, progress=False)
    before = (out / "results.json").read_bytes()

    class FullDisk(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = open

    def fake_open(path, mode="r", *args, **kwargs):
        if "w" in mode:
            return FullDisk()
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", fake_open, raising=False)
    with pytest.raises(atomic.OutputWriteError, match=r"cannot write .*: No space left on device"):
        evaluate_run("tiny-vlm", {}, ["demo_vqa"], out, limit=2, progress=False)
    assert (out / "results.json").read_bytes() == before
    assert not list(out.glob(".*.tmp"))
    assert (
        json.loads(before)["tasks"]["demo_vqa"]["metrics"] == first["tasks"]["demo_vqa"]["metrics"]
    )
