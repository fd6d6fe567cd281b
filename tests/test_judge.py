"""MM-Vet / TouchStone: official submission files and the opt-in judge on a local HTTP server.

The judge adapter talks to a small OpenAI-compatible server started in the test (http.server
in a thread) that returns canned replies and records every request it gets.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from emu2_eval.judge import mmvet, touchstone
from emu2_eval.judge.client import ChatJudge, JudgeError, JudgeSettings


class FakeJudge:
    """A chat completions endpoint whose reply is ``answer(request body)``."""

    def __init__(self, answer: Callable[[dict[str, Any]], str]) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), **body}
                )
                reply = {
                    "model": body["model"] + "-0613",
                    "choices": [{"message": {"role": "assistant", "content": owner.answer(body)}}],
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[dict[str, Any]], str]], FakeJudge]]:
    started: list[FakeJudge] = []

    def start(answer: Callable[[dict[str, Any]], str]) -> FakeJudge:
        started.append(FakeJudge(answer))
        return started[-1]

    yield start
    for judge in started:
        judge.close()


def _replies(*contents: str) -> Callable[[dict[str, Any]], str]:
    queue = list(contents)
    return lambda body: queue.pop(0)


# -- score parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [("0.7", 0.7), ("1.0", 1.0), ("0.0", 0.0), ("0.5 because", 0.5), ("0.4\n", 0.4),
     ("1.2", None), ("-0.1", None), ("great", None), ("", None), (" 0.5", None)],
)  # fmt: skip
def test_mmvet_score_parsing_follows_the_0_to_1_convention(
    content: str, expected: float | None
) -> None:
    """The first space-separated token, a number in [0, 1] (MM-Vet's evaluator)."""
    assert mmvet.parse_score(content) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [("8 7", (8.0, 7.0)), (" 9 6.5 \nAssistant 1 is better", (9.0, 6.5)), ("8, 7", None),
     ("8  7", None), ("8", None), ("Assistant 1: 8", None), ("", None)],
)  # fmt: skip
def test_touchstone_score_parsing(content: str, expected: tuple | None) -> None:
    assert touchstone.parse_scores(content) == expected


def test_mmvet_grading_retries_like_the_official_evaluator(serve) -> None:
    server = serve(_replies("great", "1.5", "0.3"))
    graded = mmvet.grade(ChatJudge(JudgeSettings(server.url, "gpt-4")), "Q?", "a <AND> b", "a")
    assert graded["score"] == 0.3 and graded["replies"] == ["great", "1.5", "0.3"]
    assert [r["temperature"] for r in server.requests] == [0.0, 0.0, 0.5]
    for request in server.requests:
        assert request["max_tokens"] == 3 and request["path"] == "/v1/chat/completions"
    first, retry = (r["messages"][0]["content"] for r in server.requests[:2])
    assert first == mmvet.GRADING_PROMPT + "\nQ? | a  <AND>  b | a | "
    assert retry == first + "\nPredict the correctness of the answer (digit): "
    hopeless = serve(lambda body: "no idea")
    graded = mmvet.grade(ChatJudge(JudgeSettings(hopeless.url, "gpt-4")), "Q?", "a", "b")
    assert graded["score"] == 0.0 and len(hopeless.requests) == 6  # last reply is not read


def test_touchstone_rounds_are_position_balanced(serve) -> None:
    server = serve(_replies("8 6", "oops", "oops", "oops", "oops", "oops"))
    row = {"question": "Q?", "human_annotation": "a red square", "gpt4_ha_answer": "REF"}
    graded = touchstone.grade(ChatJudge(JudgeSettings(server.url, "gpt-4")), row, "MINE")
    assert graded["model_scores"] == [6.0]  # round 2 never parsed: an error, left out
    assert graded["round2"]["scores"] is None and len(graded["round2"]["replies"]) == 5
    one, two = (server.requests[i]["messages"][1]["content"] for i in (0, 1))
    assert one.index("REF") < one.index("MINE") and two.index("MINE") < two.index("REF")
    system = {"role": "system", "content": touchstone.SYSTEM_PROMPT}
    assert server.requests[0]["messages"][0] == system
    assert server.requests[0]["stop"] == ["\n"] and server.requests[0]["temperature"] == 0


def test_judge_settings_are_explicit_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(JudgeError, match="must start with http:// or https://"):
        JudgeSettings("api.openai.com/v1", "gpt-4")
    with pytest.raises(JudgeError, match="--judge-model is required"):
        JudgeSettings("http://localhost:1/v1", "")
    monkeypatch.delenv("MY_JUDGE_KEY", raising=False)
    with pytest.raises(JudgeError, match="--judge-api-key-env MY_JUDGE_KEY: the variable is not"):
        ChatJudge(JudgeSettings("http://localhost:1/v1", "gpt-4", "MY_JUDGE_KEY"))
    with pytest.raises(JudgeError, match="unreachable"):
        ChatJudge(JudgeSettings("http://127.0.0.1:9/v1", "gpt-4", timeout_s=2)).complete([])


# -- end to end on the demo tasks -----------------------------------------------------------


@pytest.fixture(scope="module")
def judged_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import emu2_eval

    output = tmp_path_factory.mktemp("judged_run")
    emu2_eval.evaluate(
        model="tiny-vlm", tasks=["demo_chat_mmvet", "demo_chat_touchstone"], output=output
    )
    return output


def _samples(run: Path, task: str) -> dict[str, str]:
    lines = (run / f"samples_{task}.jsonl").read_text().splitlines()
    return {str(r["doc_id"]): r["filtered"] for r in map(json.loads, lines)}


def test_mmvet_results_file_and_grades(judged_run: Path, serve, monkeypatch) -> None:
    from emu2_eval.data.demo_chat import demo_chat_root
    from emu2_eval.judge.finish import finish

    results = json.loads((judged_run / "results.json").read_text())
    block = results["tasks"]["demo_chat_mmvet"]
    assert block["metrics"] == {}
    assert "predict-only" in block["metric_options"]["gpt_judge"]["judge"]
    server = serve(lambda body: "0.5")
    out = finish(judged_run, "demo_chat_mmvet")  # no judge given: none is called
    assert server.requests == [] and not (judged_run / "judge_demo_chat_mmvet.json").exists()
    submitted = json.loads(Path(out["submission"]).read_text())
    questions = json.loads((demo_chat_root() / "mm-vet/mm-vet.json").read_text())
    assert list(submitted) == list(questions)  # every question id, in the file's order
    assert submitted == _samples(judged_run, "demo_chat_mmvet")
    assert all(isinstance(v, str) for v in submitted.values())

    scores = iter(["1.0", "0.0", "0.5", "0.3"])
    server = serve(lambda body: next(scores))
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test-123")
    settings = JudgeSettings(server.url, "gpt-4", "MY_JUDGE_KEY")
    out = finish(judged_run, "demo_chat_mmvet", settings)
    assert all(r["auth"] == "Bearer sk-test-123" for r in server.requests)
    graded = dict(zip(questions, [1.0, 0.0, 0.5, 0.3], strict=True))
    math = [graded[q] for q, r in questions.items() if "math" in r["capability"]]
    assert out["scores"]["mmvet_total"] == pytest.approx(100 * sum(graded.values()) / 4)
    assert out["scores"]["mmvet_math"] == pytest.approx(100 * sum(math) / len(math))
    written = (judged_run / "judge_demo_chat_mmvet.json").read_text()
    assert "sk-test-123" not in written
    assert json.loads(written)["judge"] == {
        "base_url": server.url, "model": "gpt-4", "api_key_env": "MY_JUDGE_KEY"
    }  # fmt: skip


def test_touchstone_submission_has_the_scorer_columns(judged_run: Path, serve) -> None:
    from emu2_eval.judge.finish import finish

    server = serve(lambda body: "8 6")
    out = finish(judged_run, "demo_chat_touchstone", JudgeSettings(server.url, "gpt-4"))
    with open(out["submission"], encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert list(rows[0]) == ["index", "question", "human_annotation", "gpt4_ha_answer",
                             "category", "task_name", "response"]  # fmt: skip
    responses = _samples(judged_run, "demo_chat_touchstone")
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert {r["index"]: r["response"] for r in rows} == responses
    assert len(server.requests) == 6  # two rounds per question
    # the model is assistant 2 then 1: its scores are 6 and 8 each time -> mean 7 -> 700 points
    assert out["scores"]["touchstone_score"] == pytest.approx(700.0)
    assert out["scores"]["touchstone_Visual Recognition"] == pytest.approx(700.0)


def test_judge_refusals_name_the_fix(
    judged_run: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    from click.testing import CliRunner

    import emu2_eval
    from emu2_eval.cli import main
    from emu2_eval.judge.finish import JudgeTaskError, finish

    limited = tmp_path / "limited"
    emu2_eval.evaluate(model="tiny-vlm", tasks=["demo_chat_mmvet", "demo_chat_vqa"], limit=2,
                       output=limited)  # fmt: skip
    with pytest.raises(JudgeTaskError, match=r"no answer for 2 MM-Vet question.*without --limit"):
        finish(limited, "demo_chat_mmvet")
    with pytest.raises(JudgeTaskError, match="task 'demo_chat_vqa' has no gpt_judge metric"):
        finish(limited, "demo_chat_vqa")
    result = CliRunner().invoke(main, ["judge", str(judged_run), "--task", "demo_chat_mmvet",
                                       "--judge-model", "gpt-4"])  # fmt: skip
    assert result.exit_code != 0 and "need --judge-base-url" in result.output
    result = CliRunner().invoke(main, ["judge", str(judged_run), "--task", "demo_chat_mmvet"])
    assert result.exit_code == 0 and "submission_demo_chat_mmvet.json" in result.output
