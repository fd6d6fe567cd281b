"""Emu2 prompt text: harness parts -> placeholders -> expanded special-token sequences.

The harness hands over interleaved :class:`TextPart`/:class:`ImagePart`; Emu2 writes one
``[<IMG_PLH>]`` per image, which expands to ``[IMG]`` + ``<image>`` x n_query + ``[/IMG]`` (and
``[<VID_PLH>]`` to ``[IMG]`` + ``[gIMG]`` x v_query + ``[/IMG]`` per video frame). A video is
written as the published ``_prepare_inputs`` writes ``["[VIDEO]", frame, ..., "[/VIDEO]"]``:
``[VIDEO]`` then one ``[<VID_PLH>]`` per frame; ``[/VIDEO]`` only ends the frames there and is not
written into the text. Emu2-Chat wraps the text in its single-turn template, in one of two
published layouts (``CHAT_LAYOUTS``): ``native`` (baaivision/Emu ``Emu2/emu/chat.py``
``_prepare_chat_inputs``: ``system + " [USER]: " + text + " [ASSISTANT]:"``) or ``hf`` (the
BAAI/Emu2-Chat remote code: ``system + "[USER]: " + text + "[ASSISTANT]:"``). The spaces vanish
under the reference tokenisation (same ids); the fast tokenisation keeps them, so the layout is a
recorded option.
"""

from __future__ import annotations

from collections.abc import Sequence

from emu2_eval.core.prompts import ImagePart, Part, TextPart, VideoPart
from emu2_eval.models.emu2.constants import (
    ASSISTANT_TOKEN,
    GIMG_TOKEN,
    GROUNDING_TOKEN,
    IMAGE_PLACEHOLDER,
    IMAGE_TOKEN,
    IMG_END_TOKEN,
    IMG_TOKEN,
    SYSTEM_MESSAGES,
    USER_TOKEN,
    VIDEO_PLACEHOLDER,
    VIDEO_TOKEN,
)


def parts_to_text(parts: Sequence[Part]) -> tuple[str, list[ImagePart]]:
    """Text with ``[<IMG_PLH>]`` at each image, and the images in prompt order (no videos)."""
    text, images, videos = render_parts(parts)
    if videos:
        raise TypeError("this Emu2 path takes images only; the prompt holds a video part")
    return text, images


def video_text(n_frames: int) -> str:
    """``[VIDEO]`` and one frame placeholder per frame (``[/VIDEO]`` is not written)."""
    return VIDEO_TOKEN + VIDEO_PLACEHOLDER * n_frames


def render_parts(parts: Sequence[Part]) -> tuple[str, list[ImagePart], list[VideoPart]]:
    """Text with ``[<IMG_PLH>]`` per image and :func:`video_text` per video; images and videos
    each in prompt order (their features fill ``<image>`` and ``[gIMG]`` slots in that order)."""
    chunks: list[str] = []
    images: list[ImagePart] = []
    videos: list[VideoPart] = []
    for part in parts:
        if isinstance(part, TextPart):
            chunks.append(part.text)
        elif isinstance(part, ImagePart):
            chunks.append(IMAGE_PLACEHOLDER)
            images.append(part)
        elif isinstance(part, VideoPart):
            chunks.append(video_text(part.n_frames))
            videos.append(part)
        else:
            raise TypeError(f"unsupported prompt part {type(part).__name__}")
    return "".join(chunks), images, videos


def expand_placeholders(text: str, n_query: int, v_query: int) -> str:
    """Replace image/video placeholders by the token runs the visual features will fill."""
    image = IMG_TOKEN + IMAGE_TOKEN * n_query + IMG_END_TOKEN
    video = IMG_TOKEN + GIMG_TOKEN * v_query + IMG_END_TOKEN
    return text.replace(IMAGE_PLACEHOLDER, image).replace(VIDEO_PLACEHOLDER, video)


def system_message(name_or_text: str) -> str:
    """A named system message (short|detailed|none) or, failing that, the text itself."""
    return SYSTEM_MESSAGES.get(name_or_text, name_or_text)


#: layout name -> single-turn template (``{system}``, ``{text}``)
CHAT_LAYOUTS: dict[str, str] = {
    "native": f"{{system}} {USER_TOKEN}: {{text}} {ASSISTANT_TOKEN}:",
    "hf": f"{{system}}{USER_TOKEN}: {{text}}{ASSISTANT_TOKEN}:",
}


def check_chat_layout(layout: str) -> str:
    """The layout name, or a ValueError naming the valid ones."""
    if layout not in CHAT_LAYOUTS:
        valid = ", ".join(CHAT_LAYOUTS)
        raise ValueError(f"chat_layout {layout!r} is not one of {valid} (emu2 model argument)")
    return layout


def chat_prompt(text: str, system: str = "", layout: str = "native") -> str:
    """Emu2-Chat's single-turn template in ``layout`` (default: the native chat.py one)."""
    if check_chat_layout(layout) == "native":
        return f"{system} {USER_TOKEN}: {text} {ASSISTANT_TOKEN}:"
    return f"{system}{USER_TOKEN}: {text}{ASSISTANT_TOKEN}:"


def grounding_chat_prompt(text: str, layout: str = "native") -> str:
    """Emu2-Chat's grounding request, as the published ``chat.py`` builds it with
    ``is_grounding=True``: the grounding system message (the concise one) and ``<grounding>``
    right after ``[ASSISTANT]:``."""
    return chat_prompt(text, SYSTEM_MESSAGES["short"], layout) + GROUNDING_TOKEN
