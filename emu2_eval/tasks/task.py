"""A Task: its data, its prompt and its metrics. It never knows a model."""

from __future__ import annotations

from functools import cached_property

from emu2_eval.data.docs import Doc, LoadedData
from emu2_eval.registry import DATA_LOADERS
from emu2_eval.requests import Request
from emu2_eval.tasks.config import TaskConfig
from emu2_eval.tasks.profiles import PROFILES, PromptProfile


class Task:
    """Builds requests for documents from a validated TaskConfig."""

    def __init__(self, config: TaskConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def profile(self) -> PromptProfile:
        return PROFILES.get(self.config.prompt)

    def load(self) -> LoadedData:
        """Read the dataset through its registered loader (paths resolved now, not at parse)."""
        loader = DATA_LOADERS.get(self.config.loader)
        return loader(**self.config.resolved_loader_args())

    def build_request(self, doc: Doc) -> Request:
        return Request(
            kind=self.config.request,  # type: ignore[arg-type]
            prompt=self.profile.render(doc),
            task=self.name,
            doc_id=doc.doc_id,
            options=tuple(sorted(self.config.generation.items())),
            continuations=self.config.continuations,
        )
