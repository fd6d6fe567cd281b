"""Per-sample records: built once, complete, serialised with the samples files' key order."""

from __future__ import annotations

import dataclasses
import json

import pytest

from emu2_eval.engine.records import SampleInput, SampleRow

BUILT = SampleInput(
    "t", "d1", {"question": "q"}, demonstrations=("d0",), demonstration_docs=({"q": 0},),
    prompt="<image>q", request_hash="h",
)  # fmt: skip


def test_rows_keep_the_samples_file_key_order() -> None:
    """Built, cached and failed samples give exactly the rows the samples files hold."""
    computed = SampleRow(BUILT, "yes", None)
    expected = {
        "task": "t", "doc_id": "d1", "doc": {"question": "q"}, "response": "yes",
        "error": None, "cached": False, "demonstrations": ["d0"],
        "demonstration_docs": [{"q": 0}], "prompt": "<image>q", "request_hash": "h",
    }  # fmt: skip
    assert json.dumps(computed.to_json()) == json.dumps(expected)
    zero_shot = dataclasses.replace(BUILT, demonstrations=(), demonstration_docs=())
    assert list(SampleRow(zero_shot, "no", cached=True).to_json()) == [
        "task", "doc_id", "doc", "response", "error", "cached", "demonstrations", "prompt",
        "request_hash",
    ]  # fmt: skip
    error = {"type": "ImageLoadError", "message": "x.jpg: file not found"}
    failed = SampleInput("t", "d2", {}, error=error)
    assert not failed.built
    assert SampleRow(failed, error=failed.error).to_json() == {
        "task": "t", "doc_id": "d2", "doc": {}, "response": None, "error": error,
        "cached": False,
    }  # fmt: skip


def test_records_are_not_changed_in_place() -> None:
    row = SampleRow(BUILT, "yes")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.response = "no"  # type: ignore[misc]
    row.to_json()["demonstrations"].append("d9")  # a row is a fresh copy of the lists
    assert row.to_json()["demonstrations"] == ["d0"]
