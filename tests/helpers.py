"""Helpers several test files share: small models, pictures, task-file pieces and CLI calls.

Fixtures live in ``conftest.py``; these are plain functions and classes, imported by name, so a
test reads what it builds.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from emu2_eval.core.prompts import ImagePart
from emu2_eval.core.requests import Request
from emu2_eval.models.base import ModelAdapter


class FixedAnswerAdapter(ModelAdapter):
    """A model that gives every generate request the same ``answer`` and counts the requests
    (the model work a run did); subclasses set the name, answer and fingerprint."""

    name = "fixed"
    supported_kinds = frozenset({"generate"})
    answer = ""
    model_fingerprint = "fixed-answer-model"

    def __init__(self) -> None:
        self.calls = 0

    def fingerprint(self) -> str:
        return self.model_fingerprint

    def generate(self, requests: Sequence[Request]) -> list[str]:
        self.calls += len(requests)
        return [self.answer for _ in requests]


def red_blue_image(path: Path, red_fraction: float, size: int) -> ImagePart:
    """A ``size`` x ``size`` picture, its top ``red_fraction`` of rows pure red, the rest pure
    blue: its colour histogram (and so its RICES similarity) is set by ``red_fraction``."""
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    cut = round(red_fraction * size)
    pixels[:cut, :, 0] = 255
    pixels[cut:, :, 2] = 255
    Image.fromarray(pixels).save(path)
    return ImagePart.from_file(path, key=path.name)


def demo_vqa_loader(split: str = "val2014", root: str = "{demo}") -> str:
    """The ``vqa_official`` loader of the demo VQA files as a one-line YAML mapping, for task
    files written by tests (``{demo}`` is left for the task loader to resolve)."""
    return (
        f'{{loader: vqa_official, args: {{questions: "{root}/vqa/questions_{split}.json", '
        f'annotations: "{root}/vqa/annotations_{split}.json", images: "{root}/images/{split}"}}}}'
    )


def run_cli(output: Path, *options: str):
    """``emu2-eval run OPTIONS --output OUTPUT`` in this process (click's test runner)."""
    from click.testing import CliRunner

    from emu2_eval.cli import main

    return CliRunner().invoke(main, ["run", *options, "--output", str(output)])


# The CLI with every socket connection refused: a run must need no network.
OFFLINE_CLI = """
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted during an offline run")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
from emu2_eval.cli import main
sys.exit(main(sys.argv[1:], standalone_mode=False) or 0)
"""


def run_offline(args: Sequence[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Run ``emu2-eval ARGS`` in a fresh process without network; assert it succeeded and never
    tried to connect (``kwargs`` go to ``subprocess.run``: env, cwd)."""
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "network access attempted" not in done.stderr
    return done
