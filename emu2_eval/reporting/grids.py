"""Image grids of generation tasks: one PNG per subject (DreamBench) or per task, for report.md.

Each row is one document: its prompt, then the real reference image (when the doc names one),
then the generated images as saved in the run directory. Grids are written under
``<run>/grids/<task>/`` and linked from ``report.md`` by relative path, so the report renders
wherever the run directory is copied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from emu2_eval.core.atomic import save_image_atomic
from emu2_eval.core.prompts import ImageLoadError, ImagePart
from emu2_eval.rundir.images import GeneratedImageError, load_generated, references
from emu2_eval.rundir.read import read_samples
from emu2_eval.rundir.schema import RunResults, as_run_results, results_path

THUMB = 128
LABEL_WIDTH = 320
MAX_ROWS = 25
FONT_SIZE = 15  # px; Pillow's old default bitmap font (~11 px) was unreadable at report size
PADDING = 8
SEPARATOR = (200, 200, 200)


def _records(run_dir: Path, task: str) -> list[dict[str, Any]]:
    path = run_dir / f"samples_{task}.jsonl"
    if not path.is_file():
        return []
    return read_samples(path)  # a damaged line is named (file and line), not a JSON traceback


def _thumb(image: Image.Image) -> Image.Image:
    image = ImageOps.contain(image.convert("RGB"), (THUMB - 4, THUMB - 4))  # up or down
    tile = Image.new("RGB", (THUMB, THUMB), (255, 255, 255))
    tile.paste(image, ((THUMB - image.width) // 2, (THUMB - image.height) // 2))
    return tile


def _reference(doc: dict[str, Any]) -> Image.Image | None:
    key, root = doc.get("reference_image"), doc.get("image_root")
    if not isinstance(key, str) or not isinstance(root, str):
        return None
    try:
        return ImagePart.from_file(Path(root) / key).load()
    except ImageLoadError:
        return None


def _generated(record: dict[str, Any], run_dir: Path) -> list[Image.Image]:
    try:
        return [load_generated(ref, run_dir) for ref in references(record.get("response"))]
    except GeneratedImageError:
        return []


def caption_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled scalable font at ``FONT_SIZE`` (the bitmap default without FreeType)."""
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def caption_lines(label: str, font: Any, width: int, max_lines: int) -> list[str]:
    """``label`` wrapped to ``width`` pixels in ``font``; the last kept line ends in an ellipsis
    when the label does not fit ``max_lines`` (so a caption never runs into the next row)."""
    lines: list[str] = []
    for word in label.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            while font.getlength(word) > width and len(word) > 1:  # a long token: hard break
                cut = max(1, len(word) * width // max(1, int(font.getlength(word))))
                lines.append(word[:cut])
                word = word[cut:]
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def grid_image(rows: list[tuple[str, list[Image.Image]]]) -> Image.Image:
    """A white canvas: a wrapped caption then the row's images, one row per entry, rows
    separated by a rule."""
    columns = max((len(images) for _, images in rows), default=1)
    canvas = Image.new("RGB", (LABEL_WIDTH + columns * THUMB, len(rows) * THUMB), "white")
    draw = ImageDraw.Draw(canvas)
    font = caption_font()
    line_height = int(sum(font.getmetrics()) if hasattr(font, "getmetrics") else 11) + 3
    max_lines = max(1, (THUMB - 2 * PADDING) // line_height)
    for row, (label, images) in enumerate(rows):
        top = row * THUMB
        lines = caption_lines(label, font, LABEL_WIDTH - 2 * PADDING, max_lines)
        for i, line in enumerate(lines):
            draw.text((PADDING, top + PADDING + i * line_height), line, fill=(0, 0, 0), font=font)
        for column, image in enumerate(images):
            canvas.paste(_thumb(image), (LABEL_WIDTH + column * THUMB, top))
        if row:
            draw.line([(0, top), (canvas.width, top)], fill=SEPARATOR, width=1)
    return canvas


def _label(record: dict[str, Any]) -> str:
    """The doc's prompt text, and what the model was given when that differs."""
    text = str(record["doc"].get("prompt", ""))
    given = str(record.get("prompt", ""))
    return f"{text}  [model: {given}]" if given and given != text else text or given


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "grid"


def write_grids(
    results: Mapping[str, Any] | RunResults, run_dir: Path, max_rows: int = MAX_ROWS
) -> list[dict]:
    """Write the grids of every generation task; returns [{task, group, path (relative)}]."""
    run_dir = Path(run_dir)
    written = []
    for task, block in as_run_results(results, results_path(run_dir)).tasks.items():
        if block.request != "generate_images":
            continue
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in _records(run_dir, task):
            if record.get("error") is None and record.get("response"):
                groups.setdefault(str(record["doc"].get("subject", "samples")), []).append(record)
        for group, records in groups.items():
            rows = []
            for record in records[:max_rows]:
                reference = _reference(record["doc"])
                images = ([reference] if reference is not None else []) + _generated(
                    record, run_dir
                )
                rows.append((_label(record), images))
            relative = Path("grids") / _safe(task) / f"{_safe(group)}.png"
            (run_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            save_image_atomic(run_dir / relative, grid_image(rows))
            written.append({"task": task, "group": group, "path": relative.as_posix()})
    return written


def grids_markdown(grids: list[dict]) -> str:
    """The report.md section embedding the grids (empty when there are none)."""
    if not grids:
        return ""
    lines = [
        "",
        "## Image grids",
        "",
        "Each row: prompt [as given to the model], real reference image (when the task has one), "
        "generated images.",
        "",
    ]
    for grid in grids:
        lines += [
            f"### {grid['task']} / {grid['group']}",
            "",
            f"![{grid['task']} {grid['group']}]({grid['path']})",
            "",
        ]
    return "\n".join(lines)
