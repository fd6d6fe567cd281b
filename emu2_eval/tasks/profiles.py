"""Prompt profiles: named, versioned prompt templates stored as YAML under ``tasks/profiles/``.

A profile lists the parts of a query as ``- image: <doc field>``, ``- video: <doc field>``,
``- media: <doc field>`` (an image or a video, e.g. SEED-Bench) or ``- text: "<template>"``;
templates substitute ``{field}`` from the document by plain lookup (no attribute access or format
specs, so a config cannot reach into Python objects). The profile name and version are recorded
in results.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import ImagePart, Part, TextPart, VideoPart
from emu2_eval.data.docs import Doc

FIELD = re.compile(r"\{(\w+)\}")
PROFILE_KEYS = {"profile", "version", "description", "query", "target", "separator", "mode"}
#: Visual part kinds of a query and the part types their doc field may hold.
VISUAL_KINDS: dict[str, tuple[type, ...]] = {
    "image": (ImagePart,),
    "video": (VideoPart,),
    "media": (ImagePart, VideoPart),
}
# Prompt modes beyond plain text: each adapter declares the ones it renders (``prompt_modes``);
# a task whose profile names one the model lacks is refused before any model work.
PROMPT_MODES: dict[str, str] = {
    "grounding": (
        "ask for a box: Emu2-Chat's grounding request (published chat.py is_grounding=True: the "
        "grounding system message, '<grounding>' after '[ASSISTANT]:', answer decoded with its "
        "special tokens kept)"
    ),
}


class PromptError(ValueError):
    """A prompt could not be built for a document (missing field, wrong type)."""


def fill(template: str, doc: Doc) -> str:
    """Substitute ``{field}`` with ``str(doc[field])``; a missing field is a clear error."""

    def lookup(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in doc.fields:
            raise PromptError(f"doc {doc.doc_id} has no field {key!r} used by the prompt")
        return str(doc.fields[key])

    return FIELD.sub(lookup, template)


@dataclass(frozen=True)
class PromptProfile:
    """A query template (parts), with the target template and separator used by few-shot."""

    name: str
    version: int
    query: tuple[tuple[str, str], ...]
    target: str = "{answer}"
    separator: str = " "
    description: str = ""
    mode: str = ""  # a PROMPT_MODES name, or "" for a plain prompt

    def render(self, doc: Doc) -> tuple[Part, ...]:
        parts: list[Part] = []
        for kind, value in self.query:
            if kind == "text":
                parts.append(TextPart(fill(value, doc)))
            else:
                visual = doc.fields.get(value)
                if not isinstance(visual, VISUAL_KINDS[kind]):
                    what = "an image or a video" if kind == "media" else f"a {kind}"
                    raise PromptError(f"doc {doc.doc_id} field {value!r} is not {what}")
                parts.append(visual)
        return tuple(parts)

    def input_kinds(self) -> frozenset[str]:
        """What the query can show a model: ``image`` and/or ``video`` (``media``: both)."""
        kinds = set()
        for kind, _ in self.query:
            if kind in ("image", "media"):
                kinds.add("image")
            if kind in ("video", "media"):
                kinds.add("video")
        return frozenset(kinds)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.mode:
            described["mode"] = self.mode
        return described


def check_profile(raw: Any) -> list[str]:
    """Problems of a profile mapping (empty when valid)."""
    if not isinstance(raw, dict):
        return ["a profile must be a mapping"]
    problems = []
    unknown = set(raw) - PROFILE_KEYS
    if unknown:
        problems.append(f"unknown key(s) {', '.join(sorted(unknown))}")
    mode = raw.get("mode", "")
    if mode and mode not in PROMPT_MODES:
        problems.append(f"unknown mode {mode!r}; valid: {', '.join(PROMPT_MODES)}")
    query = raw.get("query")
    if not isinstance(query, list) or not query:
        problems.append(
            "'query' must be a non-empty list of {image|video|media: field} / {text: template}"
        )
        return problems
    for index, part in enumerate(query):
        if not (
            isinstance(part, dict)
            and len(part) == 1
            and set(part) <= {*VISUAL_KINDS, "text"}
            and isinstance(next(iter(part.values())), str)
        ):
            problems.append(
                f"query part {index} must be {{image|video|media: field}} or {{text: template}}"
            )
    return problems


def build_profile(raw: dict[str, Any], name: str) -> PromptProfile:
    query = tuple((next(iter(p)), next(iter(p.values()))) for p in raw["query"])
    return PromptProfile(
        name=name,
        version=int(raw.get("version", 1)),
        query=query,
        target=raw.get("target", "{answer}"),
        separator=raw.get("separator", " "),
        description=raw.get("description", ""),
        mode=raw.get("mode", "") or "",
    )


class ProfileRegistry:
    """The profiles of one task index (its ``profiles/*.yaml``), read on first use.

    Built by :attr:`emu2_eval.tasks.locations.TaskIndex.profiles` from the index's directories,
    so it sees exactly that index's profiles (first directory wins).
    """

    def __init__(self, yaml_files: Callable[[], list[Path]]) -> None:
        self._yaml_files = yaml_files
        self._files: dict[str, Path] | None = None

    def _index(self) -> dict[str, Path]:
        if self._files is None:
            from emu2_eval.tasks.files import read_yaml

            self._files = {}
            for path in self._yaml_files():
                raw = read_yaml(path)
                if isinstance(raw, dict) and isinstance(raw.get("profile"), str):
                    self._files.setdefault(raw["profile"], path)
        return self._files

    def __contains__(self, name: object) -> bool:
        return name in self._index()

    def __iter__(self):
        return iter(sorted(self._index()))

    def check_inline(self, raw: dict[str, Any]) -> list[str]:
        return check_profile(raw)

    def get(self, spec: str | dict[str, Any]) -> PromptProfile:
        from emu2_eval.tasks.files import TaskConfigError, read_yaml

        if isinstance(spec, dict):
            return build_profile(spec, spec.get("profile", "inline"))
        if spec not in self._index():
            raise KeyError(f"unknown prompt profile {spec!r}; valid: {', '.join(self)}")
        path = self._index()[spec]
        raw = read_yaml(path)
        problems = check_profile(raw)
        if problems:
            raise TaskConfigError(path, problems)
        return build_profile(raw, spec)
