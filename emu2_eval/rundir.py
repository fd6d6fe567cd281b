"""Reading run directories (results.json + samples_<task>.jsonl) for reports, compare and gates.

Errors name the file and the line, and say what a run directory is, because these commands are
pointed at paths typed by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunDir:
    """A run directory's results and, loaded on demand, its per-sample records."""

    path: Path
    results: dict[str, Any]
    _samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.results.get("tasks", {})

    @property
    def model_name(self) -> str:
        return str(self.results.get("model", {}).get("name", ""))

    def block(self, task: str) -> dict[str, Any]:
        if task not in self.tasks:
            raise KeyError(f"{self.path / 'results.json'} has no task {task!r}")
        return self.tasks[task]

    def samples(self, task: str) -> list[dict[str, Any]]:
        """The task's sample records, in the run's document order."""
        if task not in self._samples:
            self._samples[task] = read_samples(self.path / f"samples_{task}.jsonl")
        return self._samples[task]

    def scored_ids(self, task: str) -> list[str]:
        """Ids of the documents the metrics scored (errored samples excluded), in order."""
        return [str(r["doc_id"]) for r in self.samples(task) if r.get("error") is None]

    def all_ids(self, task: str) -> list[str]:
        return [str(r["doc_id"]) for r in self.samples(task)]


def load_run(path: str | Path) -> RunDir:
    """Open a run directory; raises FileNotFoundError/ValueError naming what is wrong."""
    path = Path(path)
    results_path = path / "results.json"
    if not results_path.is_file():
        raise FileNotFoundError(
            f"{results_path} not found: {path} is not a run directory (made by `emu2-eval run`)"
        )
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{results_path} is not valid JSON ({exc})") from None
    if not isinstance(results, dict) or not isinstance(results.get("tasks"), dict):
        raise ValueError(f"{results_path} has no 'tasks' object: not a results file")
    return RunDir(path=path, results=results)


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Read samples_<task>.jsonl; a bad line raises naming the file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (per-sample log of the run)")
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {line_no}: invalid JSON ({exc.msg})") from None
    return records


def ids_digest(doc_ids: list[str]) -> str:
    """sha256 of the ordered document ids (one per line): which documents a result covers."""
    return hashlib.sha256("\n".join(doc_ids).encode("utf-8")).hexdigest()
