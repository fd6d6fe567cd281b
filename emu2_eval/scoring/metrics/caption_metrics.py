"""COCO caption metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr, optional SPICE) via pycocoevalcap.

Why not ``COCOEvalCap.evaluate()``: in pycocoevalcap 1.2 it always builds ``Spice()``, whose
constructor downloads Stanford CoreNLP (fails offline) and whose jar fails on newer Java.  This
module runs the same pipeline step by step instead, so the numbers are identical to
``COCOEvalCap`` (the tests check this to 1e-9):

1. ``PTBTokenizer().tokenize`` on the references, then on the predictions (two calls, exactly as
   ``COCOEvalCap`` does), input format ``{id: [{"caption": text}, ...]}``;
2. ``Bleu(4)``, ``Meteor()``, ``Rouge()``, ``Cider()`` and, only when asked for or available,
   ``Spice()``, each fed the tokenized ``gts``/``res`` dicts.

Differences from ``COCOEvalCap``, all on inputs where it silently misbehaves:

* Line breaks inside a caption: ``COCOEvalCap`` only replaces ``"\\n"``, but the Java tokenizer also
  breaks lines on ``"\\r"``, ``"\\v"``, ``"\\f"``, U+2028 and U+2029, which shifts every later
  caption onto the wrong image.  Here every line break (``str.splitlines``) becomes a space.
* Ids are mapped to ``0..n-1`` internally, so ids may be ints or strings (even mixed; SPICE sorts
  ids) and come back unchanged in the per-image output.

Empty predictions: they are scored as given.  pycocoevalcap 1.2 handles an empty (or
punctuation-only) hypothesis without error: the tokenizer keeps the empty line, METEOR 1.5 returns
0 for an empty hypothesis (it does not hang), and BLEU, ROUGE-L and CIDEr give 0 for that image.
No substitution is made, so the image gets the 0 it deserves and corpus BLEU/METEOR include its
reference length, exactly as in ``COCOEvalCap``.

SPICE: ``spice=None`` (default) runs SPICE only when its Stanford CoreNLP jars are installed (see
:func:`missing_spice_jars`) and otherwise leaves ``"SPICE"`` out of the result (no error, no
download); ``spice=True`` raises :class:`SpiceUnavailableError` if they are missing; ``spice=False``
never runs it.  SPICE 1.0 is known to need Java 8; on newer Java it may fail, which is reported
as a ``RuntimeError``.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.spice import spice as _spice_module

from emu2_eval.scoring.stats.caption import ptb_tokenize as _tokenize

__all__ = [
    "BLEU_KEYS",
    "CORPUS_KEYS",
    "JavaNotFoundError",
    "SpiceUnavailableError",
    "caption_metrics",
    "caption_metrics_detailed",
    "missing_spice_jars",
    "spice_lib_dir",
]

BLEU_KEYS: tuple[str, ...] = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4")
#: Keys always present in the corpus result ("SPICE" is added only when SPICE ran).
CORPUS_KEYS: tuple[str, ...] = (*BLEU_KEYS, "METEOR", "ROUGE_L", "CIDEr")

#: Jars SPICE needs besides the ones pycocoevalcap ships: ``spice-1.0.jar``'s manifest Class-Path
#: lists them under ``lib/``, and ``get_stanford_models.py`` downloads them from
#: ``stanford-corenlp-full-2015-12-09.zip`` (it only checks for the first before downloading).
SPICE_CORENLP_JARS: tuple[str, ...] = (
    "stanford-corenlp-3.6.0.jar",
    "stanford-corenlp-3.6.0-models.jar",
)
_CORENLP_ZIP_URL = "http://nlp.stanford.edu/software/stanford-corenlp-full-2015-12-09.zip"

_JAVA_HINT = (  # the same advice as the run's preflight (emu2_eval/engine/preflight.py)
    "pycocoevalcap's PTBTokenizer and METEOR run Java (Java 17, as README says) as a "
    "subprocess, but no `java` executable was found on PATH. Install Java 17, e.g. "
    "`apt-get install -y openjdk-17-jre-headless` (Debian/Ubuntu), "
    "`conda install -c conda-forge openjdk=17`, or `brew install openjdk@17`, and make sure "
    "`java -version` works in this environment."
)


class JavaNotFoundError(RuntimeError):
    """Raised when ``java`` is not on PATH; the tokenizer and METEOR cannot run without it."""


class SpiceUnavailableError(RuntimeError):
    """Raised for ``spice=True`` when SPICE's Stanford CoreNLP jars are not installed."""


def spice_lib_dir() -> Path:
    """Return pycocoevalcap's ``spice/lib`` folder, where SPICE expects its CoreNLP jars."""
    return Path(_spice_module.__file__).resolve().parent / "lib"


def missing_spice_jars(lib_dir: Path | None = None) -> list[Path]:
    """Return the SPICE jar paths that are absent (empty list: SPICE can run).

    Checked up front so that ``Spice()`` is never constructed without them: its constructor
    would otherwise try to download ~400 MB of CoreNLP.
    """
    lib = spice_lib_dir() if lib_dir is None else Path(lib_dir)
    required = [lib.parent / _spice_module.SPICE_JAR] + [lib / name for name in SPICE_CORENLP_JARS]
    return [path for path in required if not path.is_file()]


def caption_metrics(
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    *,
    spice: bool | None = None,
) -> dict[str, float]:
    """Corpus caption metrics, raw pycocoevalcap values (multiply by 100 for the usual tables).

    Keys: ``Bleu_1``..``Bleu_4``, ``METEOR``, ``ROUGE_L``, ``CIDEr`` and, only if SPICE ran,
    ``SPICE``.  See the module docstring for the ``spice`` modes and empty-caption handling.
    """
    return caption_metrics_detailed(predictions, references, spice=spice)[0]


def caption_metrics_detailed(
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    *,
    spice: bool | None = None,
) -> tuple[dict[str, float], dict[Hashable, dict[str, float]]]:
    """Like :func:`caption_metrics`, plus per-image scores keyed by the ids as given.

    Per-image keys: ``Bleu_1``..``Bleu_4``, ``METEOR``, ``ROUGE_L``, ``CIDEr`` (and ``SPICE``,
    the SPICE "All" F-score, when SPICE ran), taken from each scorer's per-item output exactly as
    ``COCOEvalCap.imgToEval`` does.

    Raises:
        ValueError: ids of ``predictions`` and ``references`` differ, or an id has no
            (non-blank) reference.
        TypeError: a prediction is not a ``str`` or a reference list is not a list of ``str``.
        SpiceUnavailableError: ``spice=True`` but the SPICE jars are missing.
        JavaNotFoundError: ``java`` is not on PATH.
    """
    ids = _validate(predictions, references)

    if spice is None:
        run_spice = not missing_spice_jars()
    elif spice:
        missing = missing_spice_jars()
        if missing:
            raise SpiceUnavailableError(_spice_missing_message(missing))
        run_spice = True
    else:
        run_spice = False

    if shutil.which("java") is None:
        raise JavaNotFoundError(_JAVA_HINT)

    # Same order as COCOEvalCap.evaluate: references first, then predictions.
    gts = _tokenize({i: list(references[key]) for i, key in enumerate(ids)})
    res = _tokenize({i: [predictions[key]] for i, key in enumerate(ids)})

    corpus: dict[str, float] = {}
    per_item: dict[str, list[float]] = {}

    bleu, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
    for name, value, items in zip(BLEU_KEYS, bleu, bleu_items, strict=True):
        corpus[name], per_item[name] = float(value), [float(x) for x in items]

    corpus["METEOR"], per_item["METEOR"] = _meteor(gts, res)

    rouge, rouge_items = Rouge().compute_score(gts, res)
    corpus["ROUGE_L"], per_item["ROUGE_L"] = float(rouge), [float(x) for x in rouge_items]

    cider, cider_items = Cider().compute_score(gts, res)
    corpus["CIDEr"], per_item["CIDEr"] = float(cider), [float(x) for x in cider_items]

    if run_spice:
        corpus["SPICE"], per_item["SPICE"] = _spice(gts, res)

    per_image = {
        key: {name: values[i] for name, values in per_item.items()} for i, key in enumerate(ids)
    }
    return corpus, per_image


def _validate(
    predictions: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]]
) -> list[Hashable]:
    """Check ids and types before any JVM starts; return the ids in prediction order."""
    pred_ids, ref_ids = set(predictions), set(references)
    if pred_ids != ref_ids:
        missing = [key for key in references if key not in pred_ids]
        extra = [key for key in predictions if key not in ref_ids]
        parts = []
        if missing:
            parts.append(f"{len(missing)} id(s) without a prediction: {_preview(missing)}")
        if extra:
            parts.append(f"{len(extra)} id(s) without references: {_preview(extra)}")
        raise ValueError(
            "predictions and references must have exactly the same ids; " + "; ".join(parts)
        )
    if not predictions:
        raise ValueError("no predictions to score")

    ids = list(predictions)
    for key in ids:
        if not isinstance(predictions[key], str):
            raise TypeError(
                f"prediction for id {key!r} must be a str, got {type(predictions[key]).__name__}"
            )
        refs = references[key]
        if isinstance(refs, str | bytes) or not all(isinstance(ref, str) for ref in refs):
            raise TypeError(f"references for id {key!r} must be a sequence of str, got {refs!r}")
    empty = [key for key in ids if not any(ref.strip() for ref in references[key])]
    if empty:
        raise ValueError(
            f"{len(empty)} id(s) have no (non-blank) reference caption: {_preview(empty)}"
        )
    return ids


def _preview(keys: Iterable[Hashable], limit: int = 5) -> str:
    """Render a few ids for an error message."""
    keys = list(keys)
    shown = ", ".join(repr(key) for key in keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def _meteor(gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, list[float]]:
    """Score METEOR and always shut its JVM down, even if scoring fails."""
    meteor = Meteor()
    try:
        score, items = meteor.compute_score(gts, res)
    except ValueError as exc:  # the JVM died: readline() returned b"" and float() failed
        stderr = _close_meteor(meteor, read_stderr=True)
        raise RuntimeError(f"METEOR subprocess failed: {stderr or exc}") from exc
    finally:
        _close_meteor(meteor)
    return float(score), [float(x) for x in items]


def _close_meteor(meteor: Meteor, *, read_stderr: bool = False) -> str:
    """Kill METEOR's JVM now instead of waiting for ``Meteor.__del__``.

    In pycocoevalcap 1.2 the process lives until garbage collection, and ``__del__`` acquires
    ``meteor.lock``, which ``compute_score`` leaves held if it raised, so ``__del__`` could block
    forever.  Safe to call twice; returns the captured stderr when asked (for error messages).
    """
    proc = meteor.meteor_p
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    stderr = ""
    if read_stderr and proc.stderr is not None and not proc.stderr.closed:
        stderr = proc.stderr.read().decode(errors="replace").strip()[-2000:]
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:  # unflushed stdin data after the kill: nothing left to do
                pass
    meteor.lock = threading.Lock()  # fresh, unheld lock so the later __del__ returns at once
    return stderr


def _spice(gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, list[float]]:
    """Run SPICE (jars already checked) and return its mean and per-item "All" F-scores."""
    try:
        score, items = _spice_module.Spice().compute_score(gts, res)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"SPICE failed ({exc}); SPICE 1.0 is known to need Java 8 "
            "(check `java -version`) and up to 8 GB of heap"
        ) from exc
    # Spice returns items in sorted-id order, which is 0..n-1, i.e. our order.
    return float(score), [float(item["All"]["f"]) for item in items]


def _spice_missing_message(missing: Sequence[Path]) -> str:
    """Say which SPICE files are missing, where they go and where to get them."""
    lib = spice_lib_dir()
    names = ", ".join(str(path) for path in missing)
    return (
        f"SPICE was requested (spice=True) but these files are missing: {names}. "
        f"Put {' and '.join(SPICE_CORENLP_JARS)} into {lib} (they are in {_CORENLP_ZIP_URL}; "
        "with network access `python -m pycocoevalcap.spice.get_stanford_models` downloads "
        "them), or pass spice=None to skip SPICE when it is unavailable."
    )
