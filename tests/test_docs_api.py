"""docs/api.md's example runs as written (names, loaded pipeline, a refused mistake)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_api_page_example_runs(isolated_home: Path, demo_dir: Path) -> None:
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(blocks[0], "docs/api.md", "exec"), {})  # the doc's own code
    lines = printed.getvalue().splitlines()
    assert lines[0].endswith("percent 4")
    assert lines[1] == "diffusers-t2i ['clip_i_vitl', 'clip_t_vitb']"
    assert lines[2].startswith("refused: unknown task 'demo_vqa2'")
