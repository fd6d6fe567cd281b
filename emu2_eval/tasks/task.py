"""A Task: its data, its prompt, its demonstrations and its metrics. It never knows a model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any

from emu2_eval.core.prompts import ImagePart, Part, TextPart
from emu2_eval.core.registry import DATA_LOADERS, DEMO_SELECTORS
from emu2_eval.core.requests import Request
from emu2_eval.data.docs import DataFormatError, Doc, LoadedData
from emu2_eval.data.integrity import verify_checksums
from emu2_eval.fewshot.answers import check_pool, with_demo_answer
from emu2_eval.tasks.config import TaskConfig, resolve_roots
from emu2_eval.tasks.labels import check_labelled
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.profiles import ProfileRegistry, PromptProfile, fill


def merge_text(parts: Sequence[Part]) -> tuple[Part, ...]:
    """Join adjacent text parts, so a prompt is text and images alternating."""
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, TextPart) and merged and isinstance(merged[-1], TextPart):
            merged[-1] = TextPart(merged[-1].text + part.text)
        elif not (isinstance(part, TextPart) and not part.text):
            merged.append(part)
    return tuple(merged)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def check_unicode(data: LoadedData, loader: str) -> LoadedData:
    """Refuse text no tokenizer or UTF-8 file takes (a lone surrogate, from a JSON escape such
    as ``"\\ud800"``), naming the data file, the doc and the field, before any model work."""
    for doc in data.docs:
        for key, value in doc.fields.items():
            for text in _strings(value):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise DataFormatError(
                        ", ".join(data.sources) or f"data of loader {loader!r}",
                        f"field {key!r} is not valid Unicode text ({exc.reason} at character "
                        f"{exc.start}: {text[exc.start]!r}); fix or remove that record",
                        record=doc.doc_id,
                    ) from None
    return data


class Task:
    """Builds requests for documents from a validated TaskConfig."""

    def __init__(self, config: TaskConfig, profiles: ProfileRegistry | None = None) -> None:
        self.config = config
        #: where its profile names are looked up: its task index's (default: the bundled ones)
        self.profiles = profiles if profiles is not None else TaskIndex().profiles
        self._selector = None
        # responses (and a submission file) only, no scoring: an unlabelled split always
        self.predict_only = not config.labels
        self._data: LoadedData | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def profile(self) -> PromptProfile:
        """The prompt of zero-shot requests."""
        return self.profiles.get(self.config.prompt)

    @cached_property
    def fewshot_profile(self) -> PromptProfile:
        """The prompt of requests with demonstrations (the task's own when none is given)."""
        spec = self.config.fewshot
        return self.profiles.get(spec.profile) if spec and spec.profile else self.profile

    def load(self) -> LoadedData:
        """Read the dataset through its registered loader (paths resolved now, not at parse).

        Unless the task runs predict-only, every doc must hold the fields its metrics read: a
        split without labels stops here, with the fix, not at scoring after the model ran. Read
        once per Task (``evaluate`` reads it before the model loads, the run reuses it)."""
        if self._data is None:
            if self.config.checksums:
                verify_checksums(self.config.checksums)
            loader = DATA_LOADERS.get(self.config.loader)
            raw = loader(**self.config.resolved_loader_args())
            self._data = check_unicode(raw, self.config.loader)
        data = self._data
        if not self.predict_only:
            where = ", ".join(data.sources) or f"the data of loader {self.config.loader!r}"
            check_labelled(self.config, ((d.doc_id, d.fields) for d in data.docs), where)
        return data

    def selector(self, query_fingerprint: str, store, progress: bool = True):
        """The demonstration selector over the few-shot pool (built once)."""
        spec = self.config.fewshot
        if spec is None:
            raise ValueError(f"task {self.name!r} has no 'fewshot' pool: it runs 0-shot only")
        if self._selector is None:
            pool = DATA_LOADERS.get(spec.pool_loader)(**resolve_roots(spec.pool_args))
            pool = check_unicode(pool, spec.pool_loader)
            check_pool(pool, spec.demo_answer, self.name, self.config.path)
            self._selector = DEMO_SELECTORS.get(spec.strategy).build(
                pool, self.name, spec, query_fingerprint, store, progress
            )
        return self._selector

    def selector_description(self) -> dict[str, str]:
        """What the built selector adds to results.json (RICES: the encoder's fingerprint)."""
        return self._selector.describe() if self._selector is not None else {}

    def demonstrations(self, doc: Doc, shots: int, seed: int, selector) -> tuple[list[Doc], bool]:
        """(demonstrations, text_only) for a doc; Flamingo's 0-shot text examples if configured.

        Each demonstration's ``answer`` is the one ``fewshot.demo_answer`` picks, so the prompt
        and the samples file's ``demonstration_docs`` show the same answer."""
        spec = self.config.fewshot
        if spec is None or (shots == 0 and not spec.zero_shot_text_examples):
            return [], False
        chosen = selector.select(doc, shots or spec.zero_shot_text_examples, seed)
        return [with_demo_answer(d, spec.demo_answer) for d in chosen], shots == 0

    def build_request(
        self, doc: Doc, demonstrations: Sequence[Doc] = (), text_only: bool = False
    ) -> Request:
        """The request for ``doc``, demonstrations (image, prompt, target) first."""
        profile = self.fewshot_profile if demonstrations else self.profile
        parts: list[Part] = []
        for demo in demonstrations:
            rendered = profile.render(demo)
            if text_only:
                rendered = tuple(p for p in rendered if not isinstance(p, ImagePart))
            parts += [*rendered, TextPart(fill(profile.target, demo)), TextPart(profile.separator)]
        parts += profile.render(doc)
        return Request(
            kind=self.config.request,  # type: ignore[arg-type]
            prompt=merge_text(parts),
            task=self.name,
            doc_id=doc.doc_id,
            options=tuple(sorted(self.config.generation.items())),
            continuations=self.config.continuations,
            mode=profile.mode,
        )
