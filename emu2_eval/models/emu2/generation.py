"""Generation settings: the published short-answer defaults and the two decoding semantics.

Emu2's ``generate`` defaults (baaivision/Emu ``Emu2/emu/emu.py``; confirmed for the paper's VQA
numbers in baaivision/Emu#77): beam search with 5 beams, ``max_new_tokens=10``, ``min_len=1``,
``length_penalty=-1``, no sampling. A task's own settings replace them key by key.

What those settings mean depends on the transformers version that runs them (see
:mod:`~emu2_eval.models.emu2.reference_decoding`), so the ``emu2`` adapter names the semantics:
``decoding=emu2_reference`` (default) reproduces the published stack (transformers 4.31: an
immediate ``</s>`` is allowed under ``min_length=1``; a beam cut at ``max_new_tokens`` is
length-normalised over ``1 + n``); ``decoding=transformers`` passes the settings unchanged to the
installed transformers' ``generate``.
"""

from __future__ import annotations

from typing import Any

PUBLISHED_DEFAULTS: dict[str, Any] = {
    "num_beams": 5,
    "max_new_tokens": 10,
    "min_length": 1,
    "length_penalty": -1.0,
    "do_sample": False,
}
# Harness-level keys that are not arguments of ``generate``.
NOT_GENERATE_KWARGS = ("seed", "until", "stop")


def search_options(options: dict[str, Any]) -> dict[str, Any]:
    """A task's options over the published defaults, harness-only keys removed."""
    settings = {**PUBLISHED_DEFAULTS, **options}
    for key in NOT_GENERATE_KWARGS:
        settings.pop(key, None)
    return settings


def generation_kwargs(
    options: dict[str, Any], pad_token_id: int, bos_token_id: int, eos_token_id: int
) -> dict[str, Any]:
    """Keyword arguments for the installed transformers' ``generate`` (decoding=transformers)."""
    settings = search_options(options)
    if settings.get("num_beams", 1) == 1:
        settings.pop("length_penalty", None)  # only meaningful for beam search
    settings.update(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id)
    return settings
