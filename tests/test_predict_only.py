"""Splits without labels: predict-only runs, submission files, and the refusals to score them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from emu2_eval.cli import main
from emu2_eval.engine.evaluate import rescore
from emu2_eval.engine.scoring import score_records
from emu2_eval.tasks.config import TaskConfigError, parse_task
from emu2_eval.tasks.labels import UnlabelledSplitError
from tests.helpers import FixedAnswerAdapter, run_cli
from tests.runs import evaluate_run

TASKS = Path(__file__).resolve().parents[1] / "tasks"


class CountingAdapter(FixedAnswerAdapter):
    """Answers "yes" and counts the requests it was given (model work)."""

    name = "counting"
    answer = "yes"
    model_fingerprint = "counting-model"


@pytest.fixture(scope="module")
def testdev_run(tmp_path_factory, isolated_home):
    """A predict-only run of both demo test splits on the built-in tiny model."""
    output = tmp_path_factory.mktemp("testdev")
    results = evaluate_run(
        "tiny-vlm",
        {},
        ["demo_vqav2_testdev", "demo_vizwiz_test"],
        output,
        batch_size=4,
        progress=False,
    )
    return output, results


def _samples(output: Path, task: str) -> dict[str, dict]:
    lines = (output / f"samples_{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["doc_id"]: row for row in map(json.loads, lines)}


def _demo_file(relative: str) -> Path:
    from emu2_eval.data.demo_unlabelled import demo_unlabelled_root

    return demo_unlabelled_root() / relative


def test_predict_only_demo_writes_evalai_vqav2_submission(testdev_run) -> None:
    """EvalAI format: a list of {question_id: int, answer: str} covering every test2015
    question once; test-dev questions carry the run's (filtered) answer, the others ""."""
    output, results = testdev_run
    block = results["tasks"]["demo_vqav2_testdev"]
    submission = json.loads((output / block["submission"]["file"]).read_text(encoding="utf-8"))
    assert block["submission"]["file"] == "submission_demo_vqav2_testdev.json"
    test2015 = json.loads(
        _demo_file("vqa/v2_OpenEnded_mscoco_test2015_questions.json").read_text()
    )["questions"]
    test_dev = json.loads(
        _demo_file("vqa/v2_OpenEnded_mscoco_test-dev2015_questions.json").read_text()
    )["questions"]
    assert isinstance(submission, list)
    for entry in submission:
        assert set(entry) == {"question_id", "answer"}
        assert type(entry["question_id"]) is int
        assert isinstance(entry["answer"], str)
    ids = [e["question_id"] for e in submission]
    assert len(ids) == len(set(ids))
    assert set(ids) == {q["question_id"] for q in test2015}
    dev_ids = {q["question_id"] for q in test_dev}
    assert 0 < len(dev_ids) < len(ids)
    samples = _samples(output, "demo_vqav2_testdev")
    assert set(samples) == {str(i) for i in dev_ids}
    for entry in submission:
        qid = entry["question_id"]
        want = samples[str(qid)]["filtered"] if qid in dev_ids else ""
        assert entry["answer"] == want, qid
    assert any(samples[str(i)]["filtered"] for i in dev_ids)  # real answers, not all empty
    assert block["submission"]["n_entries"] == len(test2015)
    assert block["submission"]["n_filled_empty"] == len(test2015) - len(dev_ids)


def test_predict_only_run_records_no_numbers(testdev_run) -> None:
    output, results = testdev_run
    for task in ("demo_vqav2_testdev", "demo_vizwiz_test"):
        block = results["tasks"][task]
        assert block["predict_only"] is True and block["labels"] is False
        assert block["metrics"] == {} and block["intervals"] == {} and block["n_scored"] == 0
        assert all(row["scores"] == {} for row in _samples(output, task).values())
    recorded = json.loads((output / "results.json").read_text(encoding="utf-8"))
    assert recorded["tasks"]["demo_vqav2_testdev"]["metrics"] == {}
    report = (output / "report.md").read_text(encoding="utf-8")
    assert "(predict-only: submission_demo_vqav2_testdev.json)" in report


def test_vizwiz_submission_covers_every_test_image(testdev_run) -> None:
    output, results = testdev_run
    block = results["tasks"]["demo_vizwiz_test"]
    submission = json.loads((output / block["submission"]["file"]).read_text(encoding="utf-8"))
    records = json.loads(_demo_file("vizwiz/test.json").read_text())
    assert [e["image"] for e in submission] == [r["image"] for r in records]
    samples = _samples(output, "demo_vizwiz_test")
    for entry in submission:
        assert set(entry) == {"image", "answer"} and isinstance(entry["answer"], str)
        assert entry["answer"] == samples[Path(entry["image"]).stem]["filtered"]


def test_vqav2_submission_fills_questions_outside_the_run(tmp_path, isolated_home) -> None:
    """With --limit, every test2015 id is still present: the unanswered ones empty."""
    results = evaluate_run(
        "counting", {}, ["demo_vqav2_testdev"], tmp_path, limit=2, adapter=CountingAdapter(),
        progress=False,
    )  # fmt: skip
    submission = json.loads((tmp_path / "submission_demo_vqav2_testdev.json").read_text())
    assert sum(e["answer"] == "yes" for e in submission) == 2
    assert len(submission) == results["tasks"]["demo_vqav2_testdev"]["submission"]["n_entries"]


def _unlabelled_task(task_dir: Path, name: str = "my_testdev") -> None:
    source = (TASKS / "demo" / "demo_vqav2_testdev.yaml").read_text(encoding="utf-8")
    source = source.replace("task: demo_vqav2_testdev", f"task: {name}")
    (task_dir / f"{name}.yaml").write_text(source.replace("labels: false\n", ""))


def test_unlabelled_split_is_refused_at_load_before_model_work(task_dir, tmp_path) -> None:
    """Today's code crashed at scoring with KeyError 'answers' after the model ran."""
    _unlabelled_task(task_dir)
    adapter = CountingAdapter()
    with pytest.raises(UnlabelledSplitError) as caught:
        evaluate_run(
            "counting", {}, ["my_testdev"], tmp_path / "run", adapter=adapter, progress=False
        )
    message = str(caught.value)
    for part in ("'my_testdev'", "'answers'", "'vqa_accuracy'", "--predict-only", "labels: false"):
        assert part in message, part
    assert "test-dev2015_questions.json" in message  # the data file
    assert adapter.calls == 0


def test_unlabelled_split_is_refused_before_the_model_loads(task_dir, tmp_path, monkeypatch):
    """A model given by name is never loaded (minutes for Emu2) for a run that cannot score."""
    from emu2_eval.engine import evaluate as engine

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(engine, "load_adapter", no_loading)
    _unlabelled_task(task_dir)
    with pytest.raises(UnlabelledSplitError, match="'my_testdev'"):
        evaluate_run("tiny-vlm", {}, ["my_testdev"], tmp_path / "run", progress=False)


def test_predict_only_flag_runs_the_unlabelled_split(task_dir, tmp_path) -> None:
    _unlabelled_task(task_dir)
    adapter = CountingAdapter()
    results = evaluate_run(
        "counting", {}, ["my_testdev"], tmp_path / "run", adapter=adapter, progress=False,
        predict_only=True,
    )  # fmt: skip
    block = results["tasks"]["my_testdev"]
    assert block["predict_only"] is True and block["labels"] is True and block["metrics"] == {}
    assert (tmp_path / "run" / "submission_my_testdev.json").is_file()
    assert adapter.calls == 6


def test_python_api_predict_only_on_a_labelled_task(tmp_path, isolated_home) -> None:
    import emu2_eval

    results = emu2_eval.evaluate(
        "tiny-vlm", "demo_vqa", limit=4, output=tmp_path, predict_only=True
    )
    block = results["tasks"]["demo_vqa"]
    assert block["predict_only"] is True and block["metrics"] == {}
    assert "submission" not in block  # demo_vqa names no submission writer
    rows = _samples(tmp_path, "demo_vqa")
    assert len(rows) == 4 and all(isinstance(r["filtered"], str) for r in rows.values())


def test_cli_predict_only_prints_no_metric_numbers(tmp_path, isolated_home) -> None:
    tasks = "demo_vqav2_testdev,demo_vqa"
    result = run_cli(tmp_path / "run", "--model", "tiny-vlm", "--tasks", tasks, "--limit", "4",
                     "--predict-only", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "demo_vqav2_testdev: predict-only, 4 responses" in result.output
    assert "demo_vqa: predict-only, 4 responses" in result.output
    assert "submission_demo_vqav2_testdev.json" in result.output
    assert "vqa_accuracy" not in result.output


def test_score_refuses_a_predict_only_run_naming_the_task(testdev_run, tmp_path) -> None:
    import shutil

    output = tmp_path / "copy"
    shutil.copytree(testdev_run[0], output)
    before = (output / "results.json").read_bytes()
    with pytest.raises(UnlabelledSplitError, match=r"task 'demo_vqav2_testdev'.*no labels"):
        rescore(output)
    assert (output / "results.json").read_bytes() == before
    result = CliRunner().invoke(main, ["score", str(output)])
    assert result.exit_code != 0
    assert "demo_vqav2_testdev" in result.output and "submission_" in result.output


def test_scoring_refuses_records_without_labels() -> None:
    """score_records on answerless docs: a clear refusal, not KeyError 'answers'."""
    config = parse_task(
        {
            "task": "t",
            "dataset": {"loader": "vqa_official", "args": {}},
            "prompt": "emu2_vqa_zeroshot",
            "metrics": [{"name": "vqa_accuracy"}],
        },
        "t.yaml",
    )
    records = [{"doc_id": "1", "doc": {"question": "q"}, "response": "yes", "error": None}]
    with pytest.raises(UnlabelledSplitError, match=r"task 't': doc 1 .* no 'answers'"):
        score_records(config, records)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"labels": "no"}, "'labels' must be true or false"),
        ({"submission": {"writer": "evalai"}}, "registered 'writer'"),
        ({"submission": {"writer": "vqav2_evalai", "args": {"questions": "{nowhere}/q"}}},
         "unknown path root"),
    ],
)  # fmt: skip
def test_task_file_refuses_bad_labels_and_submission(extra, problem) -> None:
    raw = {
        "task": "t",
        "dataset": {"loader": "vqa_official", "args": {}},
        "prompt": "emu2_vqa_zeroshot",
        "metrics": ["vqa_accuracy"],
        **extra,
    }
    with pytest.raises(TaskConfigError, match=problem):
        parse_task(raw, "t.yaml")


def test_vqav2_writer_refuses_a_question_list_without_the_run_ids(tmp_path) -> None:
    from emu2_eval.data.docs import DataFormatError
    from emu2_eval.submissions.vqav2 import vqav2_evalai

    questions = tmp_path / "v2_OpenEnded_mscoco_test-dev2015_questions.json"
    questions.write_text(json.dumps({"questions": [{"question_id": 1, "image_id": 1}]}))
    rows = [{"doc_id": "2", "filtered": "yes", "error": None}]
    with pytest.raises(DataFormatError, match=r"test-dev2015_questions.json.*question 2"):
        vqav2_evalai(rows, str(questions))


def test_a_submission_writer_is_added_by_name(task_dir, tmp_path) -> None:
    """Another benchmark (MMMU test...) registers its writer; a task names it."""
    from emu2_eval.core.registry import SUBMISSION_WRITERS

    def answers_by_id(rows, prefix: str = ""):
        return {prefix + r["doc_id"]: r["filtered"] for r in rows}, {"n_entries": len(rows)}

    if "answers_by_id_test" not in SUBMISSION_WRITERS:
        SUBMISSION_WRITERS.register("answers_by_id_test", answers_by_id)
    source = (TASKS / "demo" / "demo_vizwiz_test.yaml").read_text(encoding="utf-8")
    source = source.replace("task: demo_vizwiz_test", "task: custom_writer")
    source = source.replace("writer: vizwiz_evalai", "writer: answers_by_id_test")
    source = source.replace('annotations: "{demo_unlabelled}/vizwiz/test.json"\nprompt',
                            'prefix: "q"\nprompt')  # fmt: skip
    (task_dir / "custom_writer.yaml").write_text(source)
    evaluate_run(
        "counting", {}, ["custom_writer"], tmp_path, limit=3, adapter=CountingAdapter(),
        progress=False,
    )  # fmt: skip
    written = json.loads((tmp_path / "submission_custom_writer.json").read_text())
    assert written == {f"qVizWiz_test_{k:08d}": "yes" for k in range(3)}


def test_missing_submission_question_list_is_found_before_the_model(task_dir, tmp_path) -> None:
    """The test2015 list is read only after the model ran: preflight names it first."""
    from emu2_eval.engine.preflight import PreflightError

    source = (TASKS / "demo" / "demo_vqav2_testdev.yaml").read_text(encoding="utf-8")
    source = source.replace("task: demo_vqav2_testdev", "task: no_list").replace(
        "/vqa/v2_OpenEnded_mscoco_test2015_questions.json", "/vqa/missing_test2015.json"
    )
    (task_dir / "no_list.yaml").write_text(source)
    adapter = CountingAdapter()
    with pytest.raises(PreflightError, match=r"'no_list': submission file .*missing_test2015"):
        evaluate_run("counting", {}, ["no_list"], tmp_path / "run", adapter=adapter, progress=False)
    assert adapter.calls == 0


def test_mmmu_submission_answers_each_question_as_mmmu_submits_it() -> None:
    """Multiple choice: the parsed letter (or the recorded fallback); open: the response."""
    from emu2_eval.scoring.metrics.mmmu import fallback_letter
    from emu2_eval.submissions.mmmu import mmmu_answer

    choice = {"question_type": "multiple-choice", "options": ["cat", "dog", "cow"]}
    row = {"doc_id": "test_Art_1", "doc": choice, "filtered": "The answer is (B).", "error": None}
    assert mmmu_answer(row, "random") == ("B", False)
    # option text counts only in a response of more than five words (MMMU's parser)
    long = {**row, "filtered": "the animal in the picture is a cow"}
    assert mmmu_answer(long, "random") == ("C", False)
    unclear = {**row, "filtered": "I cannot tell."}
    assert mmmu_answer(unclear, "random") == (fallback_letter("test_Art_1", ["A", "B", "C"]), True)
    assert mmmu_answer(unclear, "empty") == ("", True)
    failed = {**row, "filtered": None, "error": {"type": "X", "message": "boom"}}
    assert mmmu_answer(failed, "random") == ("", False)
    open_row = {"doc_id": "test_Math_2", "doc": {"question_type": "open"}, "filtered": "about 12"}
    assert mmmu_answer(open_row, "random") == ("about 12", False)


def test_predict_only_demo_writes_the_mmmu_test_submission(tmp_path, isolated_home) -> None:
    """Every test id once, string answers; the questions the run skipped (--limit) are ""."""
    from emu2_eval.submissions.mmmu import mmmu_answer

    results = evaluate_run(
        "tiny-vlm", {}, ["demo_chat_mmmu_test"], tmp_path, limit=5, progress=False
    )
    block = results["tasks"]["demo_chat_mmmu_test"]
    assert block["predict_only"] is True and block["metrics"] == {}
    submission = json.loads((tmp_path / "submission_demo_chat_mmmu_test.json").read_text())
    samples = _samples(tmp_path, "demo_chat_mmmu_test")
    assert len(samples) == 5 and len(submission) == 8 == block["submission"]["n_entries"]
    assert all(key.startswith("test_") and isinstance(v, str) for key, v in submission.items())
    for doc_id, answer in submission.items():
        want = mmmu_answer(samples[doc_id], "random")[0] if doc_id in samples else ""
        assert answer == want, doc_id
    record = block["submission"]
    assert record["n_filled_empty"] == 3 and record["fallback"] == "random"
