"""DreamBench: the real prompts file, the shared 8-subject subset, a full-size file, the demo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart
from emu2_eval.data.docs import DataFormatError
from emu2_eval.data.dreambench import (
    emu2_rewrite,
    fill_prompt,
    load_dreambench,
    parse_prompts_file,
    write_prompts_file,
)
from tests.conftest import SHARED

SUBSET = SHARED / "dreambench_subset" / "dataset"
requires_subset = pytest.mark.skipif(
    not (SUBSET / "prompts_and_classes.txt").is_file(),
    reason=f"DreamBench subset not found at {SUBSET} (../shared/dreambench_subset)",
)
LIVE = {"cat", "cat2", "dog", "dog2", "dog3", "dog5", "dog6", "dog7", "dog8"}


@requires_subset
def test_real_prompts_file_is_parsed_exactly() -> None:
    table = parse_prompts_file(SUBSET / "prompts_and_classes.txt")
    assert len(table.classes) == 30 and len(set(table.classes.values())) == 15
    assert table.classes["bear_plushie"] == "stuffed animal" and table.classes["dog8"] == "dog"
    assert {s for s in table.classes if table.prompts_for(s) is table.live_prompts} == LIVE
    assert len(table.object_prompts) == len(table.live_prompts) == 25
    assert table.object_prompts[0] == "a {0} {1} in the jungle"
    assert table.object_prompts[-1] == table.live_prompts[-1] == "a cube shaped {0} {1}"
    assert table.live_prompts[13] == "a {0} {1} wearing a black top hat and a monocle"
    assert fill_prompt(table.object_prompts[0], "dog") == "a dog in the jungle"
    assert fill_prompt(table.object_prompts[0], "dog", "sks") == "a sks dog in the jungle"
    assert emu2_rewrite("a red {0} {1}") == "Make it red"
    assert emu2_rewrite("a cube shaped {0} {1}") == "Make it cube shaped"
    assert emu2_rewrite(table.live_prompts[10]) == "wearing a red hat"
    assert all(emu2_rewrite(p) for p in table.object_prompts + table.live_prompts)


@requires_subset
def test_shared_subset_loads_present_subjects_in_table_order() -> None:
    data = load_dreambench(str(SUBSET), subjects="present")
    subjects = list(dict.fromkeys(d["subject"] for d in data.docs))
    assert subjects == [
        "backpack",
        "berry_bowl",
        "can",
        "cat",
        "dog",
        "red_cartoon",
        "teapot",
        "vase",
    ]
    assert len(data.docs) == 8 * 25 and data.docs[0].doc_id == "backpack/00"
    dog = next(d for d in data.docs if d.doc_id == "dog/11")
    assert dog["live"] and dog["prompt"] == "a dog wearing a santa hat"
    assert dog["emu2_prompt"] == "wearing a santa hat"
    assert (
        isinstance(dog["reference_image"], ImagePart) and dog["reference_image"].key == "dog/00.jpg"
    )
    assert dog["real_images"] == [f"dog/{i:02d}.jpg" for i in range(5)]
    backpack = next(d for d in data.docs if d.doc_id == "backpack/20")
    assert backpack["prompt"] == "a red backpack"
    assert backpack["emu2_prompt"] == "Make it red" and len(backpack["real_images"]) == 6
    assert dog["reference_image"].load().size[0] > 0
    with pytest.raises(DataFormatError, match=r"missing subject folder.*backpack_dog"):
        load_dreambench(str(SUBSET))  # the full task needs all 30 subjects


@requires_subset
def test_reference_image_rule_is_configurable_and_recorded(tmp_path) -> None:
    root = tmp_path / "dataset"
    shutil.copytree(SUBSET / "vase", root / "vase")
    write_prompts_file(
        root / "prompts_and_classes.txt",
        {"vase": "vase"},
        ["a {0} {1} at home"] * 2,
        ["a {0} {1} in the snow"],
    )
    assert load_dreambench(str(root)).docs[0]["reference_image"].key == "vase/00.jpg"
    last = load_dreambench(str(root), reference_image=-1).docs[0]
    assert last["reference_image"].key == "vase/05.jpg" and last["reference_rule"] == -1
    named = load_dreambench(str(root), reference_image="02.jpg").docs[0]
    assert named["reference_image"].key == "vase/02.jpg"
    with pytest.raises(DataFormatError, match=r"reference_image 'nope\.jpg'"):
        load_dreambench(str(root), reference_image="nope.jpg")


def test_full_size_prompts_file_round_trips(tmp_path) -> None:
    classes = {f"subject{i:02d}": ("dog" if i < 9 else f"thing{i % 15}") for i in range(30)}
    objects = [f"a {{0}} {{1}} in place {i}" for i in range(24)] + ["a red {0} {1}"]
    lives = [f"a {{0}} {{1}} wearing hat {i}" for i in range(24)] + ["a wet {0} {1}"]
    path = write_prompts_file(tmp_path / "prompts_and_classes.txt", classes, objects, lives)
    table = parse_prompts_file(path)
    assert table.classes == classes
    assert (list(table.object_prompts), list(table.live_prompts)) == (objects, lives)
    for subject in classes:
        (tmp_path / subject).mkdir()
        (tmp_path / subject / "00.jpg").write_bytes(b"")
    data = load_dreambench(str(tmp_path))
    assert len(data.docs) == 30 * 25 and data.docs[-1].doc_id == "subject29/24"
    assert sum(d["live"] for d in data.docs) == 9 * 25


def test_malformed_prompts_file_names_file_and_line(tmp_path) -> None:
    path = write_prompts_file(tmp_path / "p.txt", {"a": "b"}, ["a {0} {1} x"], ["a {0} {1} y"])
    lines = path.read_text().splitlines()
    lines[8] = "'a {0} {1} x'.format(class_token)"
    path.write_text("\n".join(lines))
    with pytest.raises(DataFormatError, match=r"p.txt, record 9: expected 'TEMPLATE'"):
        parse_prompts_file(path)
    path.write_text("Classes\n\nsubject_name,class\n")
    with pytest.raises(
        DataFormatError, match="missing or empty: the Classes table, Object Prompts"
    ):
        parse_prompts_file(path)


def test_demo_dreambench_is_generated_in_the_real_layout(isolated_home: Path) -> None:
    from emu2_eval.tasks.config import resolve_roots

    root = Path(resolve_roots("{demo_dreambench}"))
    assert sorted(p.name for p in root.iterdir()) == [
        "blue_mug",
        "cat",
        "prompts_and_classes.txt",
        "red_block",
    ]
    data = load_dreambench(str(root))
    assert len(data.docs) == 12 and data.docs[0]["prompt"] == "a toy in the jungle"
    assert [d["emu2_prompt"] for d in data.docs if d["subject"] == "cat"][2] == "Make it purple"
    assert load_dreambench(str(root)).fingerprint == data.fingerprint


def test_dreambench_root_follows_the_environment(monkeypatch, tmp_path) -> None:
    from emu2_eval.data.dreambench import dreambench_root

    monkeypatch.setenv("EMU2_EVAL_DREAMBENCH", str(tmp_path))
    assert dreambench_root() == tmp_path
    monkeypatch.delenv("EMU2_EVAL_DREAMBENCH")
    monkeypatch.setenv("EMU2_EVAL_DATA", str(tmp_path / "data"))
    assert dreambench_root() == tmp_path / "data" / "dreambench" / "dataset"


# Kosmos-G's kept image per subject (microsoft/unilm kosmos-g/scripts/
# remove_dreambench_multiimg.sh), for the 8 subjects of the shared subset, typed in here from
# the script so the test does not read the list it checks.
KOSMOS_G_ON_SUBSET = {
    "backpack": "backpack/02.jpg",
    "berry_bowl": "berry_bowl/02.jpg",
    "can": "can/01.jpg",
    "cat": "cat/04.jpg",
    "dog": "dog/02.jpg",
    "red_cartoon": "red_cartoon/00.jpg",
    "teapot": "teapot/04.jpg",
    "vase": "vase/02.jpg",
}


@requires_subset
def test_shared_subset_uses_kosmos_g_reference_images() -> None:
    data = load_dreambench(str(SUBSET), subjects="present", reference_image="kosmos_g")
    picked = {d["subject"]: d["reference_image"].key for d in data.docs}
    assert picked == KOSMOS_G_ON_SUBSET
    assert {d["reference_rule"] for d in data.docs} == {"kosmos_g"}
    assert data.protocol["reference_image"] == "kosmos_g"
    assert "remove_dreambench_multiimg.sh" in data.protocol["source"]
    assert data.protocol["images"] == KOSMOS_G_ON_SUBSET
    first = load_dreambench(str(SUBSET), subjects="present", reference_image="first")
    assert first.fingerprint != data.fingerprint  # another reference, another dataset
    assert first.protocol["reference_image"] == "first"


@requires_subset
def test_subset_and_paper_tasks_default_to_kosmos_g(monkeypatch) -> None:
    from emu2_eval.tasks.registry import get_task

    monkeypatch.setenv("EMU2_EVAL_DREAMBENCH", str(SUBSET))
    data = get_task("dreambench_subset").load()
    assert {d["subject"]: d["reference_image"].key for d in data.docs} == KOSMOS_G_ON_SUBSET
    assert get_task("dreambench").config.loader_args["reference_image"] == "kosmos_g"


def _tiny_dreambench(root: Path, subjects: dict[str, int]) -> Path:
    """A DreamBench folder in the real layout: subject -> number of (empty) images."""
    for subject, count in subjects.items():
        (root / subject).mkdir(parents=True)
        for index in range(count):
            (root / subject / f"{index:02d}.jpg").write_bytes(b"")
    write_prompts_file(
        root / "prompts_and_classes.txt",
        {s: ("dog" if s.startswith("dog") else "toy") for s in subjects},
        ["a {0} {1} at home", "a red {0} {1}"],
        ["a {0} {1} in the snow"],
    )
    return root


def test_reference_image_map_picks_a_stem_per_subject(tmp_path) -> None:
    root = _tiny_dreambench(tmp_path / "dataset", {"dog": 4, "robot_toy": 2, "can": 3})
    data = load_dreambench(
        str(root), reference_image={"dog": "02", "robot_toy": "01.jpg", "can": "00"}
    )
    picked = {d["subject"]: d["reference_image"].key for d in data.docs}
    assert picked == {"dog": "dog/02.jpg", "robot_toy": "robot_toy/01.jpg", "can": "can/00.jpg"}
    assert data.protocol["reference_image"] == "per_subject_map"
    assert data.docs[0]["reference_rule"] == "per_subject_map"
    # the Kosmos-G map on the same folder: dog -> 02, robot_toy -> 00, can -> 01
    kosmos = load_dreambench(str(root), reference_image="kosmos_g")
    picked = {d["subject"]: d["reference_image"].key for d in kosmos.docs}
    assert picked == {"dog": "dog/02.jpg", "robot_toy": "robot_toy/00.jpg", "can": "can/01.jpg"}
    first = load_dreambench(str(root), reference_image="first")
    assert {d["reference_image"].key for d in first.docs} == {
        "dog/00.jpg",
        "robot_toy/00.jpg",
        "can/00.jpg",
    }


def test_reference_image_map_errors_name_subject_and_fix(tmp_path) -> None:
    root = _tiny_dreambench(tmp_path / "dataset", {"dog": 2, "can": 1})
    with pytest.raises(
        DataFormatError, match=r"dataset/can: reference_image map has no entry for subject 'can'"
    ):
        load_dreambench(str(root), reference_image={"dog": "01"})
    with pytest.raises(DataFormatError, match=r"names '05' for 'dog', but no image"):
        load_dreambench(str(root), reference_image={"dog": "05", "can": "00"})
    with pytest.raises(DataFormatError, match=r"must be a file stem in quotes"):
        load_dreambench(str(root), reference_image={"dog": 1, "can": "00"})
    with pytest.raises(DataFormatError, match=r"not in the classes table: dgo"):
        load_dreambench(str(root), reference_image={"dgo": "01", "dog": "01", "can": "00"})
    with pytest.raises(DataFormatError, match=r"kosmos_g.*a per-subject map"):
        load_dreambench(str(root), reference_image="kosmos-g")
    (root / "dog" / "01.png").write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"several images \(01\.jpg, 01\.png\)"):
        load_dreambench(str(root), reference_image={"dog": "01", "can": "00"})


def test_kosmos_g_map_covers_the_30_subjects_and_differs_from_first() -> None:
    from emu2_eval.data.dreambench_references import KOSMOS_G_REFERENCES

    assert len(KOSMOS_G_REFERENCES) == 30
    assert sorted(s for s, stem in KOSMOS_G_REFERENCES.items() if stem == "00") == [
        "dog5", "poop_emoji", "red_cartoon", "robot_toy",
    ]  # fmt: skip
