"""Tests for emu2_eval.scoring.metrics.caption_metrics.

The expensive part is METEOR's JVM (~6 s to load its paraphrase table), so one module-scoped
fixture runs pycocoevalcap's own ``COCOEvalCap.evaluate()`` and our implementation once each on
the same data, and most tests read from that.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Hashable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from emu2_eval.scoring.metrics import caption_metrics as cm
from emu2_eval.scoring.metrics.caption_metrics import (
    CORPUS_KEYS,
    JavaNotFoundError,
    SpiceUnavailableError,
    caption_metrics,
    caption_metrics_detailed,
    missing_spice_jars,
)

requires_java = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="java not on PATH: pycocoevalcap's PTBTokenizer and METEOR need Java 8+",
)

# COCO image id -> five hand-written reference captions (realistic COCO style).
REFERENCES: dict[int, list[str]] = {
    139: [
        "A woman stands in the dining area at the table.",
        "A room with chairs, a table, and a woman in it.",
        "A woman standing in a kitchen by a window.",
        "A person standing at a table in a room.",
        "A living room with a table and chairs and a woman standing.",
    ],
    285: [
        "A big brown bear sitting in the grass.",
        "A large bear sits on the green grass.",
        "A brown bear is sitting in a field of grass.",
        "A close up of a bear sitting on the ground.",
        "The large brown bear is sitting in the grass.",
    ],
    632: [
        "Bedroom scene with a bookcase, blue comforter and window.",
        "A bedroom with a bookshelf full of books.",
        "This room has a bed with blue sheets and a large bookcase.",
        "A bed and a mirror in a small room.",
        "A bed room with a neatly made bed and a window.",
    ],
    724: [
        "A stop sign is mounted upside-down on its post.",
        "A stop sign that is hanging upside down.",
        "An upside down stop sign by the road.",
        "A red stop sign turned upside down on a pole.",
        "A stop sign installed upside down on a street corner.",
    ],
    776: [
        "Three teddy bears, each a different color, snuggling together.",
        "Three stuffed animals are sitting on a bed.",
        "A group of three teddy bears sitting together.",
        "Three teddy bears are sitting next to each other.",
        "Three different colored teddy bears cuddle together.",
    ],
    785: [
        "A woman posing for the camera standing on skis.",
        "A woman in a red jacket skiing down a slope.",
        "A skier stands on the snow and smiles at the camera.",
        "A person on skis posing in the snow.",
        "A woman wearing skis stands on a snowy hill.",
    ],
}
PREDICTIONS: dict[int, str] = {
    139: "A woman standing in a kitchen by a window.",  # identical to a reference
    285: "A Brown BEAR, sitting in the grass!!",  # case and punctuation
    632: "a bedroom with a bed and a bookshelf",  # close paraphrase
    724: "a plate of spaghetti with tomato sauce and basil",  # unrelated
    776: "",  # empty prediction
    785: "a person skiing down a snowy slope",  # partial match
}
IDENTICAL, UNRELATED, EMPTY = 139, 724, 776
# Our call uses these ids (ints and strings mixed) to check they come back unchanged.
OUR_ID: dict[int, Hashable] = {
    139: 139,
    285: "COCO_val2014_000000000285",
    632: 632,
    724: "724",
    776: 776,
    785: "img-785",
}


class _StubSpice:
    """Stands in for pycocoevalcap's Spice so COCOEvalCap.evaluate() runs offline."""

    def compute_score(self, gts: dict, res: dict) -> tuple[float, list[float]]:
        return 0.0, [0.0] * len(gts)

    def method(self) -> str:
        return "SPICE"


class _RecordingMeteor(cm.Meteor):
    """Meteor that remembers its instances, to check their JVMs are shut down."""

    instances: ClassVar[list[cm.Meteor]] = []

    def __init__(self) -> None:
        super().__init__()
        _RecordingMeteor.instances.append(self)


def _cocoevalcap_reference(tmp_dir: Path) -> Any:
    """Score PREDICTIONS the documented pycocoevalcap way (annotation + results files)."""
    from pycocoevalcap import eval as coco_eval_module
    from pycocotools.coco import COCO

    annotations = {
        "info": {"description": "caption_metrics test"},
        "licenses": [],
        "type": "captions",
        "images": [{"id": image_id} for image_id in REFERENCES],
        "annotations": [
            {"id": n, "image_id": image_id, "caption": caption}
            for n, (image_id, caption) in enumerate(
                ((image_id, c) for image_id, caps in REFERENCES.items() for c in caps), start=1
            )
        ],
    }
    results = [{"image_id": image_id, "caption": text} for image_id, text in PREDICTIONS.items()]
    ann_file, res_file = tmp_dir / "captions_val.json", tmp_dir / "results.json"
    ann_file.write_text(json.dumps(annotations))
    res_file.write_text(json.dumps(results))

    coco = COCO(str(ann_file))
    coco_res = coco.loadRes(str(res_file))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coco_eval_module, "Spice", _StubSpice)
        evaluator = coco_eval_module.COCOEvalCap(coco, coco_res)
        evaluator.params["image_id"] = coco_res.getImgIds()
        evaluator.evaluate()
    return evaluator


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run COCOEvalCap and our implementation once; SPICE jars reported missing (auto mode)."""
    if shutil.which("java") is None:
        pytest.skip("java not on PATH: pycocoevalcap's PTBTokenizer and METEOR need Java 8+")
    evaluator = _cocoevalcap_reference(tmp_path_factory.mktemp("coco"))

    preds = {OUR_ID[k]: v for k, v in PREDICTIONS.items()}
    refs = {OUR_ID[k]: v for k, v in REFERENCES.items()}
    _RecordingMeteor.instances = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cm, "Meteor", _RecordingMeteor)
        mp.setattr(cm, "missing_spice_jars", lambda lib_dir=None: [Path("stanford-corenlp.jar")])
        corpus, per_image = caption_metrics_detailed(preds, refs)  # spice=None: auto
    return {
        "evaluator": evaluator,
        "corpus": corpus,
        "per_image": per_image,
        "meteors": list(_RecordingMeteor.instances),
    }


@requires_java
@pytest.mark.parametrize("metric", CORPUS_KEYS)
def test_corpus_scores_match_cocoevalcap(scored: dict[str, Any], metric: str) -> None:
    """Each corpus metric equals COCOEvalCap.evaluate() on the same data."""
    assert scored["corpus"][metric] == pytest.approx(scored["evaluator"].eval[metric], abs=1e-9)


@requires_java
@pytest.mark.parametrize("metric", ["CIDEr", "Bleu_4", "METEOR", "ROUGE_L"])
def test_per_image_scores_match_cocoevalcap(scored: dict[str, Any], metric: str) -> None:
    """Per-image values equal COCOEvalCap's evalImgs, under the ids we passed in."""
    theirs = {item["image_id"]: item[metric] for item in scored["evaluator"].evalImgs}
    assert set(theirs) == set(REFERENCES)
    for image_id, value in theirs.items():
        assert scored["per_image"][OUR_ID[image_id]][metric] == pytest.approx(value, abs=1e-9)


@requires_java
def test_result_shapes_and_ids_kept(scored: dict[str, Any]) -> None:
    """Floats only, all corpus keys, per-image keys are the (mixed int/str) ids as given."""
    assert list(scored["corpus"]) == list(CORPUS_KEYS)
    assert all(type(v) is float for v in scored["corpus"].values())
    assert list(scored["per_image"]) == [OUR_ID[k] for k in PREDICTIONS]
    for scores in scored["per_image"].values():
        assert set(scores) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"}
        assert all(type(v) is float for v in scores.values())


@requires_java
def test_spice_auto_mode_skips_silently(scored: dict[str, Any]) -> None:
    """With the jars missing, spice=None leaves SPICE out instead of failing."""
    assert "SPICE" not in scored["corpus"]
    assert all("SPICE" not in s for s in scored["per_image"].values())


@requires_java
def test_identical_prediction_beats_unrelated(scored: dict[str, Any]) -> None:
    """A caption identical to a reference scores ~1 BLEU; an unrelated one scores far lower."""
    same, other = scored["per_image"][OUR_ID[IDENTICAL]], scored["per_image"][OUR_ID[UNRELATED]]
    assert same["Bleu_1"] == pytest.approx(1.0, abs=1e-6)
    assert same["Bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert same["ROUGE_L"] == pytest.approx(1.0)
    for metric in ("Bleu_1", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"):
        assert other[metric] < same[metric] - 0.5 * same[metric], metric


@requires_java
def test_empty_prediction_scores_zero(scored: dict[str, Any]) -> None:
    """An empty caption is scored (no crash, no hang) and gets 0 on every metric."""
    empty = scored["per_image"][OUR_ID[EMPTY]]
    assert empty["CIDEr"] == 0.0
    assert all(value == 0.0 for value in empty.values()), empty


@requires_java
def test_meteor_jvm_is_shut_down(scored: dict[str, Any]) -> None:
    """The METEOR subprocess is gone after the call, not left for garbage collection."""
    assert len(scored["meteors"]) == 1
    proc = scored["meteors"][0].meteor_p
    assert proc.poll() is not None
    assert proc.stdin.closed and proc.stdout.closed


@requires_java
def test_tokenizer_normalises_and_keeps_alignment() -> None:
    """PTB lower-cases and drops punctuation; line breaks Java splits on (\\r, U+2028, ...)
    stay inside their caption, and empty captions keep their slot."""
    captions = {
        0: ["A Brown BEAR, sitting in the grass!!", "x\u2028y"],
        1: ["", "The CAT\x0bsat\x0c!"],
        2: ["A dog\r\nruns.", "..."],
        3: ["last one", ""],
    }
    assert cm._tokenize(captions) == {
        0: ["a brown bear sitting in the grass !!", "x y"],  # "!!" is not in its PUNCTUATIONS
        1: ["", "the cat sat"],
        2: ["a dog runs", ""],
        3: ["last one", ""],
    }


def test_mismatched_ids_raise_value_error_naming_them() -> None:
    """Missing and extra ids are named; 1 and "1" are different ids."""
    refs = {1: ["a cat"], 2: ["a dog"], 3: ["a bird"]}
    with pytest.raises(ValueError, match=r"without a prediction: 3.*without references: 'x'"):
        caption_metrics({1: "cat", 2: "dog", "x": "?"}, refs)
    with pytest.raises(ValueError, match=r"without a prediction: 1\b.*without references: '1'"):
        caption_metrics({"1": "cat", 2: "dog", 3: "bird"}, refs)


def test_many_missing_ids_are_abbreviated() -> None:
    """The message names a few ids, not thousands."""
    refs = {i: ["a cat"] for i in range(100)}
    with pytest.raises(ValueError, match=r"95 id\(s\) without a prediction: 5, 6, 7, 8, 9, \.\.\."):
        caption_metrics({i: "cat" for i in range(5)}, refs)


def test_empty_references_raise_value_error_naming_the_id() -> None:
    """An id with no reference (or only blank ones) cannot be scored."""
    with pytest.raises(ValueError, match=r"no \(non-blank\) reference caption: 'b'$"):
        caption_metrics({"a": "cat", "b": "dog"}, {"a": ["a cat"], "b": []})
    with pytest.raises(ValueError, match=r"reference caption: 7"):
        caption_metrics({7: "cat"}, {7: ["", "  "]})


def test_bad_types_raise_type_error() -> None:
    """A bare string as references or a non-str prediction is a caller bug, not a caption."""
    with pytest.raises(TypeError, match="sequence of str"):
        caption_metrics({1: "cat"}, {1: "a cat"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="must be a str"):
        caption_metrics({1: None}, {1: ["a cat"]})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="no predictions"):
        caption_metrics({}, {})


@pytest.mark.parametrize("how", ["empty PATH", "which() returns None"])
def test_missing_java_raises_java_not_found(
    how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without java the error says why it is needed and how to install it."""
    if how == "empty PATH":
        monkeypatch.setenv("PATH", str(tmp_path))
    else:
        monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(JavaNotFoundError) as info:
        caption_metrics({1: "a cat"}, {1: ["a cat sits"]}, spice=False)
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "PTBTokenizer" in message and "METEOR" in message and "Java 17" in message
    assert "apt-get install -y openjdk-17-jre-headless" in message  # as README and preflight


def test_spice_requested_without_jars_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """spice=True with missing CoreNLP jars fails up front, saying what to put where."""
    lib = tmp_path / "lib"
    lib.mkdir()
    monkeypatch.setattr(cm, "spice_lib_dir", lambda: lib)
    with pytest.raises(SpiceUnavailableError) as info:
        caption_metrics({1: "a cat"}, {1: ["a cat sits"]}, spice=True)
    message = str(info.value)
    assert "stanford-corenlp-3.6.0.jar" in message
    assert "stanford-corenlp-3.6.0-models.jar" in message
    assert str(lib) in message


def test_missing_spice_jars_checks_corenlp_jars(tmp_path: Path) -> None:
    """Only the CoreNLP jars (and spice-1.0.jar beside lib/) decide availability."""
    lib = tmp_path / "spice" / "lib"
    lib.mkdir(parents=True)
    names = {path.name for path in missing_spice_jars(lib)}
    assert names == {"spice-1.0.jar", *cm.SPICE_CORENLP_JARS}
    for name in ("spice-1.0.jar", *(f"lib/{n}" for n in cm.SPICE_CORENLP_JARS)):
        (tmp_path / "spice" / name).write_bytes(b"")
    assert missing_spice_jars(lib) == []


def test_installed_spice_lib_dir_exists() -> None:
    """spice_lib_dir points at pycocoevalcap's real spice/lib folder."""
    assert (cm.spice_lib_dir() / "SceneGraphParser-1.0.jar").is_file()


class _FakeMeteor:
    """A Meteor look-alike around a plain subprocess, to test shutdown without a JVM."""

    def __init__(self, code: str) -> None:
        self.meteor_p = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lock = threading.Lock()

    def compute_score(self, gts: dict, res: dict) -> tuple[float, list[float]]:
        self.lock.acquire()  # like pycocoevalcap 1.2, which never releases it on error
        self.meteor_p.wait()
        return float(self.meteor_p.stdout.readline().strip()), []


def test_close_meteor_kills_process_and_frees_held_lock() -> None:
    """A lock left held by a failed compute_score must not make Meteor.__del__ block."""
    fake = _FakeMeteor("import time; time.sleep(60)")
    fake.lock.acquire()
    cm._close_meteor(fake)  # type: ignore[arg-type]
    assert fake.meteor_p.poll() is not None
    assert not fake.lock.locked()
    cm._close_meteor(fake)  # type: ignore[arg-type]  # idempotent


def test_meteor_crash_becomes_runtime_error_with_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the METEOR JVM dies, the caller sees its stderr instead of float('') errors."""
    made: list[_FakeMeteor] = []

    def factory() -> _FakeMeteor:
        made.append(_FakeMeteor("import sys; sys.stderr.write('Exception in thread main')"))
        return made[-1]

    monkeypatch.setattr(cm, "Meteor", factory)
    with pytest.raises(RuntimeError, match="METEOR subprocess failed: Exception in thread main"):
        cm._meteor({0: ["a cat"]}, {0: ["a cat"]})
    assert made[0].meteor_p.poll() is not None and not made[0].lock.locked()
