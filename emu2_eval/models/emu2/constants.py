"""Emu2's fixed vocabulary of special tokens, placeholders, system messages and image statistics.

These are facts of the published checkpoints (baaivision/Emu ``Emu2/emu`` and the BAAI/Emu2 remote
code); the token *order* matters because it fixes the ids (``[PAD]`` 32000, ``[IMG]`` 32001, ...).
"""

from __future__ import annotations

PAD_TOKEN = "[PAD]"
BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
UNK_TOKEN = "<unk>"

IMG_TOKEN = "[IMG]"  # begin of an image
IMG_END_TOKEN = "[/IMG]"
IMAGE_TOKEN = "<image>"  # one slot per visual embedding, overwritten by the projected features
GIMG_TOKEN = "[gIMG]"  # also borrowed as the slot of video frame features
GIMG_END_TOKEN = "[/gIMG]"
EOC_TOKEN = "[EOC]"
VIDEO_TOKEN = "[VIDEO]"
# Not a special token: the published chat code (``_prepare_inputs``) takes it as the end of a
# video's frames and does not write it into the prompt text.
VIDEO_END_TEXT = "[/VIDEO]"

GROUNDING_TOKEN = "<grounding>"
PHRASE_TOKEN = "<phrase>"
PHRASE_END_TOKEN = "</phrase>"
OBJECT_TOKEN = "<object>"
OBJECT_END_TOKEN = "</object>"
DELIMITER_TOKEN = "</delimiter_of_multi_objects/>"
REC_TOKEN = "<REC>"
N_PATCH_INDEX_TOKENS = 257  # <patch_index_0000> ... <patch_index_0256>

USER_TOKEN = "[USER]"
ASSISTANT_TOKEN = "[ASSISTANT]"

IMAGE_PLACEHOLDER = "[<IMG_PLH>]"
VIDEO_PLACEHOLDER = "[<VID_PLH>]"

# Emu2-Chat system messages (published constants): concise for short-answer benchmarks,
# detailed for GPT-scored ones.
SYSTEM_MESSAGES: dict[str, str] = {
    "short": "You are a helpful assistant, dedicated to provide concise and efficient answers.",
    "detailed": (
        "You are a helpful assistant, dedicated to delivering comprehensive and meticulous "
        "responses."
    ),
    "none": "",
}

# EVA-CLIP input statistics (OpenAI CLIP mean/std).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def patch_index_tokens(n: int = N_PATCH_INDEX_TOKENS) -> list[str]:
    return [f"<patch_index_{i:04d}>" for i in range(n)]


def base_special_tokens() -> list[str]:
    """Additional special tokens of Emu2, in the order the published code adds them."""
    return [
        IMG_TOKEN,
        IMG_END_TOKEN,
        IMAGE_TOKEN,
        GIMG_TOKEN,
        GIMG_END_TOKEN,
        EOC_TOKEN,
        VIDEO_TOKEN,
        GROUNDING_TOKEN,
        PHRASE_TOKEN,
        PHRASE_END_TOKEN,
        OBJECT_TOKEN,
        OBJECT_END_TOKEN,
        DELIMITER_TOKEN,
        REC_TOKEN,
        *patch_index_tokens(),
    ]


def special_tokens(variant: str) -> list[str]:
    """Additional special tokens of a variant: Emu2-Chat appends ``[USER]`` and ``[ASSISTANT]``."""
    tokens = base_special_tokens()
    if variant == "chat":
        tokens += [USER_TOKEN, ASSISTANT_TOKEN]
    return tokens
