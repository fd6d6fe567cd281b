"""Checks of a task file's values, so that `validate` (and `run`, before the model loads) refuse
what would otherwise fail only after the model work: a task name that is not a safe file name,
generation values of the wrong type or range, metric options a metric does not take or values it
refuses (an unknown ``variant``).

Each check returns a list of problems (empty when fine); the caller adds the file.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from emu2_eval.core.registry import FEATURE_ENCODERS, METRICS

# A task name becomes part of file names (samples_<task>.jsonl) and of sweep cell directories.
TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is not a count


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_at_least(low: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: _is_int(v) and v >= low), f"an integer >= {low}"


def _number(test: Callable[[float], bool], what: str) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: _is_number(v) and test(v)), what


# generation key -> (accepts the value?, what it must be)
GENERATION_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_new_tokens": _int_at_least(1),
    "num_beams": _int_at_least(1),
    "min_length": _int_at_least(0),
    "min_new_tokens": _int_at_least(0),
    "length_penalty": _number(lambda v: True, "a number"),
    "do_sample": ((lambda v: isinstance(v, bool)), "true or false"),
    "temperature": _number(lambda v: v > 0, "a number > 0"),
    "top_p": _number(lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "top_k": _int_at_least(0),
    "repetition_penalty": _number(lambda v: v > 0, "a number > 0"),
    "no_repeat_ngram_size": _int_at_least(0),
    "height": _int_at_least(1),
    "width": _int_at_least(1),
    "num_inference_steps": _int_at_least(1),
    "guidance_scale": _number(lambda v: v >= 0, "a number >= 0"),
    "num_images_per_prompt": _int_at_least(1),
    "seed": _int_at_least(0),
}


def check_task_name(name: str) -> list[str]:
    """A task name must be usable as a file name on every system (no '/', '..', spaces...)."""
    if TASK_NAME.fullmatch(name):
        return []
    return [
        f"task name {name!r} is not a safe file name: use letters, digits, '.', '_' and '-' "
        "(starting with a letter or digit, at most 100 characters)"
    ]


def check_generation(generation: dict[str, Any]) -> list[str]:
    """Each known generation setting must have its type and range (unknown keys: the caller)."""
    problems = []
    for key, value in generation.items():
        rule = GENERATION_RULES.get(key)
        if rule is not None and not rule[0](value):
            problems.append(f"generation.{key} must be {rule[1]}, got {value!r}")
    return problems


def _accepts(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits a simple annotation (int, float, str, bool, None, unions of them)."""
    if hint is Any:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_accepts(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        return _is_number(value)
    if hint is str:
        return isinstance(value, str)
    return True  # anything richer is left to the metric itself


def _signature_problems(what: str, cls: type, options: dict[str, Any]) -> list[str]:
    """Unknown, missing or wrongly typed keyword arguments of ``cls``, per its signature."""
    params = {
        key: p
        for key, p in inspect.signature(cls.__init__).parameters.items()
        if key != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    valid = ", ".join(params) or "none"
    unknown = sorted(set(options) - set(params))
    if unknown:
        return [f"{what}: unknown option(s) {', '.join(unknown)}; valid: {valid}"]
    missing = [k for k, p in params.items() if p.default is p.empty and k not in options]
    if missing:
        return [f"{what}: option(s) {', '.join(missing)} required"]
    hints = typing.get_type_hints(cls.__init__)
    return [
        f"{what}: option {key} must be of type {_describe(hints[key])}, got {value!r}"
        for key, value in options.items()
        if key in hints and not _accepts(value, hints[key])
    ]


def check_metric_options(name: str, options: dict[str, Any]) -> list[str]:
    """Options against the metric's signature, then the metric's own checks (variant names...).

    Building a metric only records its options (backbones load when it scores), so this is cheap.
    """
    cls = METRICS.get(name)
    problems = _signature_problems(f"metric {name!r}", cls, options)
    if problems:
        return problems
    try:
        cls(**options)
    except (ValueError, TypeError) as exc:
        return [f"metric {name!r}: {exc}"]
    return []


def check_encoder_args(name: str, args: Any) -> list[str]:
    """``fewshot.encoder_args`` against the encoder's signature (not built: it may load weights)."""
    if not isinstance(args, dict):
        return ["fewshot.encoder_args must be a mapping"]
    return _signature_problems(f"fewshot encoder {name!r}", FEATURE_ENCODERS.get(name), args)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))
