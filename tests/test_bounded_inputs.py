"""Hostile files and settings: images that are bombs, pipes or too big, bad EMU2_EVAL_* values.

Each must end as a sample error (the run finishes, report.html is written, ``score`` and
``report`` work) or as a clear error naming the variable, never a hang or a late crash.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.core.environment import EnvironmentSettingError
from emu2_eval.core.prompts import ImageLoadError, ImagePart
from emu2_eval.reporting.images import thumbnail_uri
from tests.runs import evaluate_run

REPO = Path(__file__).resolve().parents[1]


def png_bomb(path: Path, side: int = 20000) -> Path:
    """A 1-bit PNG of side x side pixels (400 Mpx for 20000) in about 50 KB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed)
        + chunk(b"IEND", b"")
    )
    return path


def within(seconds: float, fifo: Path, call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread; if it is still blocked after ``seconds`` (reading ``fifo``),
    unblock it by opening the pipe's writing end and fail: a hang, not a result."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(10)
        pytest.fail(f"blocked for more than {seconds}s reading the named pipe {fifo}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def test_a_named_pipe_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match=r"pipe\.jpg: a named pipe, not a regular file"):
        within(10, fifo, lambda: ImagePart.from_file(fifo).load())
    directory = tmp_path / "folder.jpg"
    directory.mkdir()
    with pytest.raises(ImageLoadError, match=r"folder\.jpg: a directory, not a regular file"):
        ImagePart.from_file(directory).load()


def test_image_files_over_the_byte_limit_are_refused(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    path = tmp_path / "small.png"
    Image.new("RGB", (64, 64), "red").save(path)
    size = path.stat().st_size
    monkeypatch.setenv("EMU2_EVAL_MAX_IMAGE_BYTES", str(size - 1))
    with pytest.raises(ImageLoadError, match=rf"{size} bytes exceeds the limit of {size - 1}"):
        ImagePart.from_file(path).load()
    with pytest.raises(ImageLoadError, match="EMU2_EVAL_MAX_IMAGE_BYTES"):
        ImagePart.from_bytes(path.read_bytes()).load()
    assert thumbnail_uri.__wrapped__(str(path)) is None
    monkeypatch.setenv("EMU2_EVAL_MAX_IMAGE_BYTES", str(size))
    assert ImagePart.from_file(path).load().size == (64, 64)


def test_thumbnails_refuse_a_bomb_instead_of_crashing(tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 200_000
    assert thumbnail_uri.__wrapped__(str(bomb)) is None
    with pytest.raises(ImageLoadError, match=r"bomb.*400000000 pixels"):
        ImagePart.from_file(bomb).load()


def test_generated_images_use_the_same_guard(tmp_path: Path) -> None:
    import hashlib

    from emu2_eval.rundir.images import GeneratedImageError, load_generated

    bomb = png_bomb(tmp_path / "generated.png")
    reference = {"path": "generated.png", "sha256": hashlib.sha256(bomb.read_bytes()).hexdigest()}
    with pytest.raises(GeneratedImageError, match=r"bomb.*400000000 pixels"):
        load_generated(reference, tmp_path)


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5e6"])
def test_invalid_image_limits_are_refused_by_name(value: str, monkeypatch) -> None:
    for name in ("EMU2_EVAL_MAX_IMAGE_PIXELS", "EMU2_EVAL_MAX_IMAGE_BYTES"):
        monkeypatch.setenv(name, value)
        with pytest.raises(
            EnvironmentSettingError, match=rf"{name}='{value}' is invalid: expected a positive"
        ):
            ImagePart.from_bytes(b"not decoded").load()
        monkeypatch.delenv(name)


def test_a_run_with_an_invalid_limit_stops_before_model_work(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EMU2_EVAL_MAX_IMAGE_PIXELS", "lots")
    output = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "4", "--output", output],
    )
    assert result.exit_code != 0
    assert "EMU2_EVAL_MAX_IMAGE_PIXELS='lots' is invalid: expected a positive integer" in (
        result.output
    )
    assert not (output / "results.json").exists()


def test_a_bomb_and_a_pipe_in_a_run_are_sample_errors_and_reports_are_written(
    task_dir, demo_dir, tmp_path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    images = data / "images" / "val2014"
    png_bomb(images / "COCO_val2014_000000000001.jpg")  # content decides the format, not the name
    fifo = images / "COCO_val2014_000000000002.jpg"
    fifo.unlink()
    os.mkfifo(fifo)
    source = (REPO / "tasks" / "demo" / "demo_vqa.yaml").read_text()
    (task_dir / "hostile.yaml").write_text(
        source.replace("task: demo_vqa", "task: hostile_images").replace("{demo}", str(data))
    )
    output = tmp_path / "run"
    results = within(
        120,
        fifo,
        lambda: evaluate_run(
            "tiny-vlm", {}, ["hostile_images"], output, limit=12, batch_size=4, progress=False
        ),
    )
    block = results["tasks"]["hostile_images"]
    assert block["n_errors"] == 8 and block["n_scored"] == 4
    samples = (output / "samples_hostile_images.jsonl").read_text()
    assert "decompression bomb" in samples
    assert "a named pipe, not a regular file" in samples
    assert "<html" in (output / "report.html").read_text()
    thumbnail_uri.cache_clear()
    for command in (["score", str(output)], ["report", str(output)]):
        outcome = within(120, fifo, lambda c=command: CliRunner().invoke(main, c))
        assert outcome.exit_code == 0, (command, outcome.output, outcome.exception)


def billion_laughs(levels: int = 9) -> str:
    """A task file of about 1.2 KB whose dataset arguments stand for 10**levels strings."""
    lines = ['    l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"    l{level}: &l{level} [{refs}]")
    return "task: laughs\ndataset:\n  loader: vqa_official\n  args:\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", [["validate"], ["run", "--model", "tiny-vlm"]])
def test_a_yaml_alias_bomb_is_refused_before_it_is_walked(command, tmp_path) -> None:
    import subprocess
    import sys

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "laughs.yaml").write_text(billion_laughs())
    assert (tasks / "laughs.yaml").stat().st_size < 1300
    args = [*command, "--include-path", str(tasks)]
    if command[0] == "run":
        args += ["--tasks", "laughs", "--output", str(tmp_path / "run")]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "emu2_eval", *args],
            capture_output=True,
            text=True,
            timeout=90,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`emu2-eval {command[0]}` still walking an alias bomb after 90 s")
    assert done.returncode != 0
    if command[0] == "validate":
        assert "laughs.yaml" in done.stderr, done.stderr
        assert "aliases expand to more than 100000 nodes" in done.stderr, done.stderr
    else:  # the registry skips a file it cannot read; naming it in `run` is its own issue
        assert "laughs" in done.stderr, done.stderr


def test_recursive_aliases_are_refused_and_small_ones_kept() -> None:
    from emu2_eval.core.safe_yaml import YAMLBombError, safe_load_bounded

    with pytest.raises(YAMLBombError, match=r"recursive alias \(line 1\)"):
        safe_load_bounded("a: &a [1, *a]\n")
    with pytest.raises(YAMLBombError, match="aliases expand"):
        safe_load_bounded(billion_laughs(6).replace("task: laughs\n", ""))
    text = "base: &g {num_beams: 1, max_new_tokens: 5}\nuse: *g\nagain: *g\n"
    assert safe_load_bounded(text)["again"] == {"num_beams": 1, "max_new_tokens": 5}
    with pytest.raises(yaml_error()):
        safe_load_bounded("!!python/object/apply:os.system ['true']\n")


def yaml_error() -> type[Exception]:
    import yaml

    return yaml.YAMLError


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EMU2_EVAL_HOME", "", "EMU2_EVAL_HOME='' is empty: expected a directory"),
        ("EMU2_EVAL_DATA", "  ", "EMU2_EVAL_DATA='  ' is empty: expected a directory"),
        ("EMU2_EVAL_TASKS", "{missing}", "does not exist (extra directories of task YAML files)"),
        ("EMU2_EVAL_DREAMBENCH", "{file}", "is not a directory (the DreamBench dataset folder)"),
    ],
)
def test_invalid_path_settings_are_refused_by_name(name, value, message, tmp_path, monkeypatch):
    """An empty path would silently mean the current directory (demo data and models written
    there); a missing task directory would only show up as "unknown task"."""
    afile = tmp_path / "a_file"
    afile.write_text("x")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value.format(missing=tmp_path / "nope", file=afile))
    output = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        ["run", "--model", "tiny-vlm", "--tasks", "demo_vqa", "--limit", "2", "--output", output],
    )
    assert result.exit_code != 0, result.output
    assert name in result.output and message in result.output, result.output
    assert not (output / "results.json").exists()


def test_a_bomb_among_a_metrics_real_images_is_a_clear_error(tmp_path, tiny_clip_dir) -> None:
    """Real images are read at scoring time (CLIP-I, DINO, FID): through the same guard, and a
    failure names the task, metric and file instead of a traceback."""
    import dataclasses

    from PIL import Image

    from emu2_eval.engine.scoring import MetricImageError, score_records
    from emu2_eval.rundir.images import ImageStore
    from emu2_eval.tasks.config import MetricSpec
    from emu2_eval.tasks.registry import get_task

    data = tmp_path / "data"
    data.mkdir()
    png_bomb(data / "bomb.png")
    Image.new("RGB", (40, 40), "blue").save(data / "fine.png")
    run = tmp_path / "run"
    refs = [ImageStore(run).put(Image.new("RGB", (40, 40), "red"))]
    fields = {
        "reference_image": "bomb.png",
        "real_images": ["bomb.png", "fine.png"],
        "image_root": str(data),
    }
    records = [{"doc_id": "a", "doc": fields, "response": refs, "error": None}]
    spec = MetricSpec("clip_i", {"backbone": str(tiny_clip_dir), "device": "cpu"})
    config = dataclasses.replace(get_task("demo_vqa").config, filters=(), metrics=(spec,))
    with pytest.raises(
        MetricImageError,
        match=r"task 'demo_vqa', metric 'clip_i': cannot read image .*bomb\.png",
    ):
        score_records(config, records, run)


def test_images_are_opened_in_one_place_only() -> None:
    """Every decode goes through emu2_eval/core/image_files.py, so no caller can skip its guards."""
    import re

    pattern = re.compile(r"\bImage\.open\(|\bPIL\.Image\.open\(|from PIL\.Image import open")
    package = REPO / "emu2_eval"
    openers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    )
    assert openers == ["core/image_files.py"]
