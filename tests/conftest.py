"""Shared fixtures: an isolated cache home (demo data, tiny models) and tiny checkpoints in the
real layouts (Emu2, Emu2-Chat, Emu2-Gen, Stable Diffusion, CLIP, DINO), built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SMALL_IMAGES = {"height": 32, "width": 32, "num_inference_steps": 1}  # tiny generation tasks


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


def count_cache_rows(db: Path) -> int:
    """Responses a run has committed to its SQLite cache (0 before the table exists)."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


@pytest.fixture(scope="session")
def cache_rows():
    """``cache_rows(path)``: the progress of a run, for kill tests that trigger on it."""
    return count_cache_rows


def _tiny_run_command(output: Path, *options: str) -> list[str]:
    """``emu2-eval run --model tiny-vlm --output OUTPUT --no-progress OPTIONS`` as a process."""
    import sys

    return [
        sys.executable,
        "-m",
        "emu2_eval.cli",
        "run",
        "--model",
        "tiny-vlm",
        "--output",
        str(output),
        "--no-progress",
        *options,
    ]


@pytest.fixture(scope="session")
def tiny_run_command():
    """``tiny_run_command(output, *options)``: the command line of a tiny-vlm run (kill tests)."""
    return _tiny_run_command


@pytest.fixture
def task_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private task directory searched before the project's tasks, for this test only.

    Given through ``EMU2_EVAL_TASKS`` (read by every task index when it searches), so lookups
    without an explicit index, the CLI in-process and its subprocesses all see it."""
    directory = tmp_path / "tasks"
    directory.mkdir()
    monkeypatch.setenv("EMU2_EVAL_TASKS", str(directory))
    return directory


# -- tiny checkpoints of the real model layouts (built once per session, no download) ------------
@pytest.fixture(scope="session")
def tiny_emu2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny base Emu2, sharded ``pytorch_model-*.bin`` with index (the published layout)."""
    from tests.emu2_factories import TinyEmu2

    return TinyEmu2("base").save(tmp_path_factory.mktemp("tiny_emu2"))


@pytest.fixture(scope="session")
def tiny_emu2_chat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Emu2-Chat, safetensors shards with the native split q/v bias."""
    from tests.emu2_factories import TinyEmu2

    return TinyEmu2("chat").save(
        tmp_path_factory.mktemp("tiny_emu2_chat"), safe_serialization=True, split_qkv_bias=True
    )


@pytest.fixture(scope="session")
def tiny_emu2_chat_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Emu2-Chat with the real LLaMA tokenizer (``../shared``): for token ids compared with
    golden files of the published code, which tokenised with it. Skips, saying so, without it."""
    from tests.emu2_factories import TOKENIZER_DIR, TinyEmu2

    if not (TOKENIZER_DIR / "tokenizer.model").is_file():
        pytest.skip(f"the real LLaMA/Emu2 tokenizer is not at {TOKENIZER_DIR} (../shared)")
    return TinyEmu2("chat").save(
        tmp_path_factory.mktemp("tiny_emu2_chat_llama"),
        safe_serialization=True,
        split_qkv_bias=True,
        real_tokenizer=True,
    )


@pytest.fixture(scope="session")
def tiny_emu2_adapter(tiny_emu2_dir: Path):
    from emu2_eval.models.emu2.adapter import Emu2Adapter

    return Emu2Adapter(pretrained=str(tiny_emu2_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_emu2_llama_adapter(tmp_path_factory: pytest.TempPathFactory):
    """The tiny base Emu2 with the real LLaMA tokenizer (``../shared``): for the golden texts of
    the published code, which were decoded with it. Skips, saying so, without it."""
    from emu2_eval.models.emu2.adapter import Emu2Adapter
    from tests.emu2_factories import TOKENIZER_DIR, TinyEmu2

    if not (TOKENIZER_DIR / "tokenizer.model").is_file():
        pytest.skip(f"the real LLaMA/Emu2 tokenizer is not at {TOKENIZER_DIR} (../shared)")
    directory = tmp_path_factory.mktemp("tiny_emu2_llama")
    TinyEmu2("base").save(directory, real_tokenizer=True)
    return Emu2Adapter(pretrained=str(directory), device="cpu")


@pytest.fixture(scope="session")
def tiny_emu2_gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Emu2-Gen in the BAAI/Emu2-Gen layout (the published configs, shrunk)."""
    from tests.gen_factories import TinyEmu2Gen

    return TinyEmu2Gen().save(tmp_path_factory.mktemp("tiny_emu2_gen"))


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.gen_factories import save_tiny_sd

    return save_tiny_sd(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.gen_factories import save_tiny_clip

    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def tiny_dino_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.gen_factories import save_tiny_dino

    return save_tiny_dino(tmp_path_factory.mktemp("tiny_dino"))


@pytest.fixture
def gen_task_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_clip_dir: Path, tiny_dino_dir: Path
) -> Path:
    """Private copies of the demo generation tasks, small and scored with the tiny backbones."""
    import yaml

    directory = tmp_path / "tasks"
    directory.mkdir()
    for source, name in (
        ("demo_dreambench", "tiny_dreambench"),
        ("demo_coco_t2i", "tiny_coco"),
        ("demo_coco_autoencode", "tiny_autoencode"),
    ):
        raw = yaml.safe_load((REPO / "tasks" / "generation" / f"{source}.yaml").read_text())
        raw["task"] = name
        raw["generation"].update(SMALL_IMAGES)
        for metric in raw["metrics"]:
            metric["device"] = "cpu"
            if metric["name"] == "dino":
                metric.update(backbone=str(tiny_dino_dir), resize=36, crop=32)
            else:
                metric["backbone"] = str(tiny_clip_dir)
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(raw))
    return directory
