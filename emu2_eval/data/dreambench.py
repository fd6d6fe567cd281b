"""DreamBench (google/dreambooth ``dataset/``): subjects, their classes and the prompt lists.

Layout: ``dataset/<subject>/NN.jpg`` (4-6 photos per subject) and ``prompts_and_classes.txt``,
a text file (not a data format) with a ``Classes`` table (``subject_name,class`` rows), then an
``Object Prompts`` and a ``Live Subject Prompts`` list written as Python lines
``'a {0} {1} in the jungle'.format(unique_token, class_token),``. It is parsed line by line
(string literals with ``ast.literal_eval``, nothing executed); every other line is an error
naming the file and line. Live subjects are those of the live classes, dog and cat (the
dataset README: "9 out of these subjects are live subjects (dogs and cats)").

One document per (subject, prompt): 30 x 25 = 750, each asking for 4 images. Recorded per doc:
the CLIP-T text (the prompt with the class noun and the unique token, empty by default for
zero-shot models: "a dog in the jungle"), Emu2's rewrite of it (the text after the subject
image: "in the jungle"; "a red {0} {1}" -> "Make it red"), the reference image (Kosmos-G
protocol, one per subject; rules in :mod:`emu2_eval.data.dreambench_references`: ``kosmos_g``,
``first``, a per-subject map, an index or a file name) and all real images of the subject
(DreamBooth's all-pairs metrics). The rule and the image chosen per subject are recorded in
``LoadedData.protocol`` (results.json ``dataset.protocol``).
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emu2_eval.core.environment import DREAMBENCH
from emu2_eval.data.docs import DataFormatError, Doc, LoadedData, image_under
from emu2_eval.data.dreambench_references import describe_rule, named_map
from emu2_eval.data.roots import data_root

PROMPTS_FILE = "prompts_and_classes.txt"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LIVE_CLASSES = ("dog", "cat")
_PROMPT_LINE = re.compile(r"^'(?P<body>(?:[^'\\]|\\.)*)'\.format\(unique_token, class_token\),?$")
_ATTRIBUTE = re.compile(r"^a (?P<attribute>.+?) \{0\} \{1\}$")
_CONTEXT = re.compile(r"^a \{0\} \{1\} (?P<context>.+)$")
_SECTIONS = {"Object Prompts": "object", "Live Subject Prompts": "live"}


def dreambench_root() -> Path:
    """``{dreambench}``: ``EMU2_EVAL_DREAMBENCH``, default ``<data_root>/dreambench/dataset``."""
    default = data_root() / "dreambench" / "dataset"
    return DREAMBENCH.get(default)


@dataclass(frozen=True)
class DreamBenchPrompts:
    """The content of ``prompts_and_classes.txt``."""

    classes: dict[str, str]  # subject -> class noun, in file order
    object_prompts: tuple[str, ...]
    live_prompts: tuple[str, ...]

    def prompts_for(self, subject: str, live_classes: tuple[str, ...] = LIVE_CLASSES) -> tuple:
        return self.live_prompts if self.classes[subject] in live_classes else self.object_prompts


def parse_prompts_file(path: str | Path) -> DreamBenchPrompts:
    """Read the classes table and both prompt lists, or raise naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "file not found (DreamBench's prompts_and_classes.txt)")
    classes: dict[str, str] = {}
    prompts: dict[str, list[str]] = {"object": [], "live": []}
    state = "start"
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line == "Classes":
            state = "classes"
        elif line == "Prompts":
            state = "prompts"
        elif line in _SECTIONS:
            state = _SECTIONS[line]
        elif state == "classes":
            if line == "subject_name,class":
                continue
            subject, sep, noun = line.partition(",")
            if not sep or not subject.strip() or not noun.strip():
                raise DataFormatError(path, f"expected 'subject_name,class', got {line!r}", number)
            classes[subject.strip()] = noun.strip()
        elif state in prompts:
            if line in ("prompt_list = [", "]"):
                continue
            match = _PROMPT_LINE.match(line)
            if match is None:
                raise DataFormatError(
                    path,
                    f"expected 'TEMPLATE'.format(unique_token, class_token), got {line!r}",
                    number,
                )
            template = ast.literal_eval(f"'{match['body']}'")
            if template.count("{0}") != 1 or template.count("{1}") != 1:
                raise DataFormatError(
                    path, f"prompt {template!r} needs one {{0}} and one {{1}}", number
                )
            prompts[state].append(template)
        else:
            raise DataFormatError(path, f"unexpected line {line!r}", number)
    problems = [
        what
        for what, empty in (
            ("the Classes table", not classes),
            ("Object Prompts", not prompts["object"]),
            ("Live Subject Prompts", not prompts["live"]),
        )
        if empty
    ]
    if problems:
        raise DataFormatError(path, f"missing or empty: {', '.join(problems)}")
    return DreamBenchPrompts(classes, tuple(prompts["object"]), tuple(prompts["live"]))


def write_prompts_file(
    path: str | Path,
    classes: dict[str, str],
    object_prompts: list[str],
    live_prompts: list[str],
) -> Path:
    """Write ``prompts_and_classes.txt`` in the dataset's own format (demo data and tests)."""

    def block(prompts: list[str]) -> list[str]:
        lines = [f"{p!r}.format(unique_token, class_token)," for p in prompts]
        lines[-1] = lines[-1].rstrip(",")
        return ["prompt_list = [", *lines, "]"]

    lines = ["Classes", "", "subject_name,class"]
    lines += [f"{subject},{noun}" for subject, noun in classes.items()]
    lines += ["", "Prompts", "", "Object Prompts", "", *block(object_prompts), ""]
    lines += ["Live Subject Prompts", "", *block(live_prompts), ""]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- prompt texts ---------------------------------------------------------------------------
def fill_prompt(template: str, class_noun: str, unique_token: str = "") -> str:
    """DreamBooth's prompt with the class noun (and the unique token, if any), spaces tidied."""
    return " ".join(template.format(unique_token, class_noun).split())


def emu2_rewrite(template: str) -> str:
    """The text that follows the subject image in Emu2's prompt (PROTOCOL, Tables 5).

    ``a {0} {1} <context>`` -> ``<context>``; ``a <attribute> {0} {1}`` -> ``Make it
    <attribute>`` (``a red {}`` -> ``{} Make it red``, the subject being the image).
    """
    context = _CONTEXT.match(template)
    if context:
        return context["context"]
    attribute = _ATTRIBUTE.match(template)
    if attribute:
        return f"Make it {attribute['attribute']}"
    raise ValueError(f"no Emu2 rewrite for DreamBench prompt {template!r}")


# -- loading --------------------------------------------------------------------------------
def subject_images(folder: Path) -> list[str]:
    """Image file names of a subject folder, sorted by name."""
    return sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def choose_reference(names: list[str], rule: Any, folder: Path) -> str:
    """The reference image of a subject: ``first`` (by name), an index, a file name, or the
    subject's entry of a per-subject map (``kosmos_g`` or a task's own) given as a file stem."""
    per_subject = named_map(rule)
    if per_subject is not None:
        return _from_map(names, per_subject, folder)
    if rule == "first":
        return names[0]
    if isinstance(rule, int) and not isinstance(rule, bool):
        if not -len(names) <= rule < len(names):
            raise DataFormatError(folder, f"reference_image index {rule} but {len(names)} images")
        return names[rule]
    if isinstance(rule, str) and rule in names:
        return rule
    raise DataFormatError(
        folder,
        f"reference_image {rule!r} is neither 'kosmos_g', 'first', a per-subject map, an "
        f"index nor one of {names}",
    )


def _from_map(names: list[str], per_subject: dict[str, Any], folder: Path) -> str:
    subject = folder.name
    if subject not in per_subject:
        raise DataFormatError(
            folder,
            f"reference_image map has no entry for subject {subject!r}; add one "
            '(subject: file stem, e.g. "02") or use reference_image: first',
        )
    stem = per_subject[subject]
    if not isinstance(stem, str):
        raise DataFormatError(
            folder,
            f"reference_image map entry {subject}: {stem!r} must be a file stem in quotes "
            '(e.g. "02"; YAML reads 02 unquoted as a number)',
        )
    matches = [n for n in names if n == stem or Path(n).stem == stem]
    if len(matches) != 1:
        found = "no image" if not matches else f"several images ({', '.join(matches)})"
        raise DataFormatError(
            folder, f"reference_image map names {stem!r} for {subject!r}, but {found} of {names}"
        )
    return matches[0]


def load_dreambench(
    dataset: str,
    prompts_file: str | None = None,
    subjects: str | list[str] = "all",
    reference_image: str | int | dict[str, str] = "first",
    unique_token: str = "",
    live_classes: list[str] | None = None,
) -> LoadedData:
    """Docs of DreamBench: one per (subject, prompt), subjects in the table's order.

    ``subjects``: ``all`` (every subject of the table; a missing folder is an error),
    ``present`` (those with a folder, e.g. a subset) or a list of names.
    ``reference_image``: see :mod:`emu2_eval.data.dreambench_references` (the paper task uses
    ``kosmos_g``; ``first`` stays the default of the loader, which also serves other folders).
    """
    root = Path(dataset)
    if not root.is_dir():
        raise DataFormatError(root, "DreamBench dataset directory not found")
    prompts_path = Path(prompts_file) if prompts_file else root / PROMPTS_FILE
    table = parse_prompts_file(prompts_path)
    live = tuple(live_classes or LIVE_CLASSES)
    chosen = _subjects(table, subjects, root)
    if isinstance(reference_image, dict):
        unknown = sorted(set(map(str, reference_image)) - set(table.classes))
        if unknown:
            raise DataFormatError(
                prompts_path,
                f"reference_image map names subject(s) not in the classes table: "
                f"{', '.join(unknown)} (a typo?)",
            )
    docs: list[Doc] = []
    digest = hashlib.sha256(prompts_path.read_bytes())
    chosen_images: dict[str, str] = {}
    # a map is recorded by its name (kosmos_g, per_subject_map), not copied into every doc
    label = describe_rule(reference_image, {})["reference_image"]
    rule = label if named_map(reference_image) is not None else reference_image
    for subject in chosen:
        folder = root / subject
        names = subject_images(folder)
        if not names:
            raise DataFormatError(folder, "no images (*.jpg, *.jpeg, *.png) for this subject")
        reference = choose_reference(names, reference_image, folder)
        chosen_images[subject] = f"{subject}/{reference}"
        digest.update(f"{subject}:{','.join(names)}:{reference}".encode())
        noun = table.classes[subject]
        for index, template in enumerate(table.prompts_for(subject, live)):
            docs.append(
                Doc(
                    doc_id=f"{subject}/{index:02d}",
                    fields=_fields(
                        root,
                        subject,
                        noun,
                        noun in live,
                        index,
                        template,
                        names,
                        reference,
                        rule,
                        unique_token,
                        prompts_path,
                    ),
                )
            )
    return LoadedData(
        docs=docs,
        fingerprint=digest.hexdigest(),
        sources=[str(prompts_path)],
        protocol=describe_rule(reference_image, chosen_images),
    )


def _subjects(table: DreamBenchPrompts, subjects: str | list[str], root: Path) -> list[str]:
    if subjects == "present":
        chosen = [s for s in table.classes if (root / s).is_dir()]
        if not chosen:
            raise DataFormatError(root, "none of the subjects of the classes table has a folder")
        return chosen
    chosen = list(table.classes) if subjects == "all" else list(subjects)
    unknown = [s for s in chosen if s not in table.classes]
    if unknown:
        raise DataFormatError(root, f"subject(s) not in the classes table: {', '.join(unknown)}")
    missing = [s for s in chosen if not (root / s).is_dir()]
    if missing:
        raise DataFormatError(
            root,
            f"missing subject folder(s) {', '.join(missing)} (use subjects: present for a subset)",
        )
    return chosen


def _fields(
    root: Path,
    subject: str,
    noun: str,
    live: bool,
    index: int,
    template: str,
    names: list[str],
    reference: str,
    rule: Any,
    unique_token: str,
    prompts_path: Path,
) -> dict[str, Any]:
    return {
        "subject": subject,
        "class": noun,
        "live": live,
        "prompt_index": index,
        "template": template,
        "prompt": fill_prompt(template, noun, unique_token),
        "emu2_prompt": emu2_rewrite(template),
        "reference_image": image_under(root, f"{subject}/{reference}", prompts_path, subject),
        "real_images": [f"{subject}/{name}" for name in names],
        "image_root": str(root),
        "reference_rule": rule,
    }
