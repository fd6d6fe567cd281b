"""Emu2-Chat prompts of the Table 2 tasks against the published chat code's own strings.

``tests/data/emu2_chat_prompt_golden.json`` holds what baaivision/Emu ``Emu2/emu/chat.py``
``_prepare_chat_inputs`` assembles for single-turn inputs (``scripts/make_chat_prompt_golden.py``
ran it on transformers 4.31), with its ``SYSTEM_MESSAGE`` ("detailed") and with the concise
system message the paper names for academic tasks ("short").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.data.docs import Doc
from emu2_eval.models.emu2.prompting import chat_prompt, parts_to_text, system_message

GOLDEN = json.loads((Path(__file__).parent / "data" / "emu2_chat_prompt_golden.json").read_text())
IMAGE = ImagePart.from_bytes(b"picture")


def _parts(user: list[str]) -> tuple:
    return tuple(IMAGE if part == "<image>" else TextPart(part) for part in user)


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: f"{c['system_message']}")
def test_chat_template_is_the_published_chat_code_string(case: dict) -> None:
    text, images = parts_to_text(_parts(case["user"]))
    assert chat_prompt(text, system_message(case["system_message"])) == case["prompt"]
    assert len(images) == case["user"].count("<image>")


def _golden(user_text: str, system: str = "short") -> str:
    for case in GOLDEN["cases"]:
        if case["system_message"] == system and case["user"][-1] == user_text:
            return case["prompt"]
    raise AssertionError(f"no golden case for {user_text!r}")


TASK_DOCS = [
    ("chat_vqav2_val", {"question": "What is the man holding?"}),
    ("chat_okvqa_val", {"question": "Is the sky blue?"}),
    ("chat_gqa_testdev_balanced", {"question": "What is the man holding?"}),
    ("chat_vizwiz_val", {"question": "What does this label say?"}),
    (
        "chat_mmmu_val",
        {
            "question": "Which shape is in <image 1>?",
            "options_block": "\n\n(A) circle\n(B) square\n(C) triangle\n",
            "instruction": "Answer with the option's letter from the given choices directly.",
        },
    ),
    (
        "chat_mmmu_val",
        {
            "question": "How many shapes are in <image 1>?",
            "options_block": "",
            "instruction": "Answer the question using a single word or phrase.",
        },
    ),
]


@pytest.mark.parametrize(("task", "fields"), TASK_DOCS)
@pytest.mark.parametrize("system", ["short", "detailed"])
def test_chat_tasks_send_the_published_prompt(task: str, fields: dict, system: str) -> None:
    """Each Table 2 task's profile, under the emu2 chat template, is the published string."""
    from emu2_eval.tasks.registry import get_task

    profile = get_task(task).profile
    parts = profile.render(Doc("d", {**fields, "image": IMAGE}))
    text, _images = parts_to_text(parts)
    user = text.removeprefix("[<IMG_PLH>]")
    assert chat_prompt(text, system_message(system)) == _golden(user, system)


def test_mmmu_loader_fields_fill_the_official_mmmu_prompt() -> None:
    """The loader's options_block/instruction give MMMU's construct_prompt text (llava1.5)."""
    from emu2_eval.data.checks import RecordIds
    from emu2_eval.data.mmmu import _doc
    from emu2_eval.tasks.registry import get_task

    record = {
        "id": "validation_Math_3",
        "question": "Which shape is in <image 1>?",
        "options": "['circle', 'square', 'triangle']",
        "answer": "A",
        "question_type": "multiple-choice",
        "image_1": {"bytes": b"png", "path": None},
    }
    doc = _doc(record, Path("x.parquet"), None, RecordIds("x.parquet", "id"))
    text, _ = parts_to_text(get_task("chat_mmmu_val").profile.render(doc))
    wanted = _golden(
        "Which shape is in <image 1>?\n\n(A) circle\n(B) square\n(C) triangle\n\n\n"
        "Answer with the option's letter from the given choices directly.",
        "detailed",
    )
    assert chat_prompt(text, system_message("detailed")) == wanted


def test_emu2_chat_adapter_renders_the_published_string(tiny_emu2_chat_dir: Path) -> None:
    """The adapter's default (native layout) equals chat.py; the hf layout is a recorded option
    with the same reference token ids."""
    from emu2_eval.models.base import build_adapter

    args = {
        "pretrained": str(tiny_emu2_chat_dir),
        "device": "cpu",
        "system_message": "detailed",
    }
    native = build_adapter("emu2", args)
    hf = build_adapter("emu2", {**args, "chat_layout": "hf"})
    case = GOLDEN["cases"][0]
    assert native._text(_parts(case["user"]))[0] == case["prompt"]
    assert hf._text(_parts(case["user"]))[0] != case["prompt"]
    assert native.describe()["chat_layout"] == "native" and hf.describe()["chat_layout"] == "hf"
    assert native.fingerprint() != hf.fingerprint()
    parts = _parts(case["user"])
    assert native.encode_prompt(parts)[0] == hf.encode_prompt(parts)[0]  # reference ids agree
    with pytest.raises(ValueError, match="chat_layout 'spaces' is not one of native, hf"):
        build_adapter("emu2", {**args, "chat_layout": "spaces"})


TABLE2 = {  # task: (profile, paper split, measured split, metric)
    "chat_vqav2_val": ("chat_vqa_short", "test-dev", "val", "vqa_accuracy"),
    "chat_okvqa_val": ("chat_vqa_short", "val", None, "vqa_accuracy"),
    "chat_vizwiz_val": ("chat_vqa_unanswerable", "test-dev", "val", "vqa_accuracy"),
    "chat_textvqa_val": ("chat_vqa_short", "val", None, "vqa_accuracy"),
    "chat_gqa_testdev_balanced": ("chat_vqa_short", "test-dev", None, "exact_match"),
    "chat_mmmu_val": ("chat_mmmu", "test", "validation", "accuracy"),
    "chat_mmvet": ("chat_open", "test", None, "gpt4_score"),
    "chat_touchstone": ("chat_open", "test", None, "gpt4_score"),
    # the paper's own splits, predict-only: EvalAI/MMMU files (tests/test_predict_only.py)
    "chat_vqav2_testdev": ("chat_vqa_short", "test-dev", "test-dev", "vqa_accuracy"),
    "chat_vizwiz_test": ("chat_vqa_unanswerable", "test-dev", "test-dev", "vqa_accuracy"),
    "chat_mmmu_test": ("chat_mmmu", "test", None, "accuracy"),
}


@pytest.mark.parametrize("name", sorted(TABLE2))
def test_table2_tasks_pin_the_paper_protocol(name: str) -> None:
    """Beam 5 (paper App. E, Table 10), the chat profile, and the split recorded against the
    paper's, so a val number is never compared with a test-dev one."""
    from emu2_eval.reporting.paper import paper_tables
    from emu2_eval.tasks.registry import get_task

    config = get_task(name).config
    profile, split, measured, metric = TABLE2[name]
    assert config.group == "chat" and config.prompt == profile
    assert config.generation["num_beams"] == 5 and config.generation["length_penalty"] == -1.0
    reference = config.reference
    assert reference["split"] == split and reference.get("measured_split") == measured
    assert reference["metric"] == metric and reference["tables"] == ["Table 2"]
    if name.endswith(("_testdev", "_test")):
        assert config.labels is False and config.submission is not None
    table = paper_tables()
    row = table[(table.model == "Emu2-Chat") & (table.benchmark == reference["benchmark"])]
    assert list(row.split) == [split] and list(row.metric) == [metric]
