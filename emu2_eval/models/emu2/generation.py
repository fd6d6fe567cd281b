"""Generation settings: the published short-answer defaults, and their meaning on transformers 5.

Emu2's ``generate`` defaults (baaivision/Emu ``Emu2/emu/emu.py``; confirmed for the paper's VQA
numbers in baaivision/Emu#77): beam search with 5 beams, ``max_new_tokens=10``, ``min_len=1``,
``length_penalty=-1``, no sampling. A task's own settings replace them key by key.

One translation is needed: generation starts from ``inputs_embeds`` with no prompt ids. Under
transformers 4.31 ``min_length`` then counted new tokens only (EOS was banned at the first step);
transformers 5 subtracts the prompt length, which turns ``min_length=1`` into nothing. We pass
``min_new_tokens`` so the published behaviour is kept.
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


def generation_kwargs(
    options: dict[str, Any], pad_token_id: int, bos_token_id: int, eos_token_id: int
) -> dict[str, Any]:
    """``generate`` keyword arguments for a task's options (published defaults underneath)."""
    settings = {**PUBLISHED_DEFAULTS, **options}
    for key in NOT_GENERATE_KWARGS:
        settings.pop(key, None)
    if "min_length" in settings and "min_new_tokens" not in settings:
        settings["min_new_tokens"] = settings.pop("min_length")
    else:
        settings.pop("min_length", None)
    if settings.get("num_beams", 1) == 1:
        settings.pop("length_penalty", None)  # only meaningful for beam search
    settings.update(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id)
    return settings
