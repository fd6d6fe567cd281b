"""Shared fixtures: an isolated cache home (demo data, tiny model) built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point EMU2_EVAL_HOME at a temp dir so tests never touch the user's cache."""
    home = tmp_path_factory.mktemp("emu2_eval_home")
    os.environ["EMU2_EVAL_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def demo_dir(isolated_home: Path) -> Path:
    from emu2_eval.data.demo import demo_root

    return demo_root()


@pytest.fixture(scope="session")
def tiny_model_dir(isolated_home: Path) -> Path:
    from emu2_eval.models.tiny_vlm import tiny_checkpoint

    return tiny_checkpoint()


@pytest.fixture(scope="session")
def tiny_adapter(tiny_model_dir: Path):
    from emu2_eval.models.tiny_vlm import TinyVLMAdapter

    return TinyVLMAdapter(pretrained=str(tiny_model_dir))


@pytest.fixture
def task_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private task directory searched before the project's tasks (reset after the test)."""
    from emu2_eval.tasks import locations

    monkeypatch.setattr(locations, "_extra_dirs", [])
    directory = tmp_path / "tasks"
    directory.mkdir()
    locations.add_task_dir(directory)
    return directory
