"""Task lookup through an explicit TaskIndex: no module-level directory list, no profile cache
shared between indexes (two indexes in one process never see each other's tasks or profiles)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.core.registry import UnknownNameError
from emu2_eval.tasks.files import TaskConfigError
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.registry import get_task, task_index, validate_all
from emu2_eval.tasks.selection import expand_task_names

REPO = Path(__file__).resolve().parents[1]
DEMO_VQA = (REPO / "tasks" / "demo" / "demo_vqa.yaml").read_text()


def _task_dir(root: Path, task: str, profile_text: str) -> Path:
    """A task directory holding ``task`` (demo_vqa's data) whose prompt is the profile
    ``house_style`` of this directory, asking ``profile_text``."""
    root.mkdir(parents=True)
    (root / "profiles").mkdir()
    (root / "profiles" / "house_style.yaml").write_text(
        f'profile: house_style\nversion: 1\nquery:\n  - image: image\n  - text: "{profile_text}"\n'
    )
    lines = [
        "prompt: house_style" if line.startswith("prompt:") else line
        for line in DEMO_VQA.replace("task: demo_vqa", f"task: {task}").splitlines()
    ]
    assert "prompt: house_style" in lines
    (root / f"{task}.yaml").write_text("\n".join(lines) + "\n")
    return root


def _prompt_text(index: TaskIndex, task: str) -> str:
    profile = get_task(task, index).profile
    return "".join(value for kind, value in profile.query if kind == "text")


def test_two_indexes_in_one_process_keep_their_own_tasks_and_profiles(tmp_path: Path) -> None:
    one = TaskIndex((_task_dir(tmp_path / "one", "task_one", "Q1: {question}"),))
    two = TaskIndex((_task_dir(tmp_path / "two", "task_two", "Q2: {question}"),))
    assert _prompt_text(one, "task_one") == "Q1: {question}"  # profiles of `one` read first
    assert _prompt_text(two, "task_two") == "Q2: {question}"  # a cache would give Q1 here
    assert "task_one" in task_index(one) and "task_one" not in task_index(two)
    assert "task_two" in task_index(two) and "task_two" not in task_index(one)
    with pytest.raises(UnknownNameError, match="task_two"):
        get_task("task_two", one)
    with pytest.raises(UnknownNameError):
        get_task("task_one", TaskIndex())  # the bundled tasks only
    assert "house_style" not in TaskIndex().profiles
    assert get_task("task_two", two).profile.query[1] == ("text", "Q2: {question}")
    assert "task_one" in validate_all(one)[0] and "task_one" not in validate_all(two)[0]
    assert expand_task_names(["task_*"], two) == ["task_two"]


def test_a_profile_name_is_checked_against_the_tasks_own_index(tmp_path: Path) -> None:
    """The profile exists only in the other index: the task file is refused, naming it."""
    one = _task_dir(tmp_path / "one", "task_one", "Q1: {question}")
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    (orphan / "task_one.yaml").write_text((one / "task_one.yaml").read_text())
    get_task("task_one", TaskIndex((one,)))
    with pytest.raises(TaskConfigError, match="unknown prompt profile 'house_style'"):
        get_task("task_one", TaskIndex((orphan,)))


def test_build_searches_the_last_include_path_first_then_entry_points(tmp_path: Path) -> None:
    a, b, plugin = (tmp_path / n for n in ("a", "b", "plugin"))
    for path in (a, b, plugin):
        path.mkdir()
    index = TaskIndex.build([a, b, a], [plugin])
    assert index.extra_dirs == (b, a, plugin)
    assert index.task_dirs()[:3] == [b, a, plugin]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TaskIndex((tmp_path / "missing",))


def test_tasks_listing_shows_include_path_tasks_without_changing_later_lookups(
    tmp_path: Path,
) -> None:
    from emu2_eval.cli import main

    extra = _task_dir(tmp_path / "extra", "task_extra", "E: {question}")
    listed = CliRunner().invoke(main, ["tasks", "--include-path", str(extra)])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if line.startswith("task_extra "))
    assert row.split()[1:3] == ["generate", "yes"] and row.endswith(str(extra / "task_extra.yaml"))
    plain = CliRunner().invoke(main, ["tasks"])  # the same process, no --include-path
    assert plain.exit_code == 0 and "task_extra" not in plain.output
    assert "task_extra" not in task_index()
