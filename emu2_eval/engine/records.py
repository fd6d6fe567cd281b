"""Per-sample records of a task: built once, complete, then written as ``samples_<task>.jsonl``.

A sample's input side (:class:`SampleInput`: the doc, the prompt built for it, the request
hash, or the data error that stopped it being built) is made when the requests are built; its
record (:class:`SampleRow`) when the answer is known, from the cache or the model. Nothing
is changed in place, and :meth:`SampleRow.to_json` gives the row with the keys in the order
the samples files have always had (the files are compared byte for byte across runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SampleInput:
    """One doc's side of a sample, before any answer: what was asked, or why nothing was."""

    task: str
    doc_id: Any
    doc: dict[str, Any]
    demonstrations: tuple[Any, ...] = ()  # doc ids of the demonstrations shown
    demonstration_docs: tuple[dict[str, Any], ...] = ()  # their fields, for the report
    prompt: str | None = None
    request_hash: str | None = None
    error: dict[str, str] | None = None  # a data error while building the request

    @property
    def built(self) -> bool:
        """Whether a request was built (else ``error`` says why not)."""
        return self.error is None


@dataclass(frozen=True)
class SampleRow:
    """A sample with its answer: the response (or the error) and whether it came from cache."""

    sample: SampleInput
    response: Any = None
    error: dict[str, Any] | None = None
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        """The samples-file row (before scoring adds ``filtered`` and ``scores``)."""
        sample = self.sample
        row: dict[str, Any] = {
            "task": sample.task,
            "doc_id": sample.doc_id,
            "doc": sample.doc,
            "response": self.response,
            "error": self.error,
            "cached": self.cached,
        }
        if not sample.built:
            return row
        row["demonstrations"] = list(sample.demonstrations)
        if sample.demonstration_docs:
            row["demonstration_docs"] = list(sample.demonstration_docs)
        row["prompt"] = sample.prompt
        row["request_hash"] = sample.request_hash
        return row
