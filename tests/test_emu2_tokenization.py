"""Emu2 prompt expansion and token ids.

Most tests use the tiny SentencePiece model built in code (``tests/emu2_factories.py``), padded
to LLaMA's 32,000 pieces so the special tokens have their published ids; they run on a fresh
clone. Their expected text ids come from the bare SentencePiece model (``sp.encode``), so they
check how the Emu2 tokenizer cuts text around special tokens, strips whitespace and numbers the
added tokens.

``test_ids_match_transformers_4_31`` is the extra that pins the real tokenizer: expected ids were
produced once by transformers 4.31.0 / tokenizers 0.13.3 (the published stack) in a scratch
environment, with the tokenizer set up exactly as baaivision/Emu ``Emu2/emu/lm.py`` does it:
``LlamaTokenizer.from_pretrained`` (slow, legacy) + ``add_special_tokens`` -> "reference";
``AutoTokenizer.from_pretrained`` (``LlamaTokenizerFast``) + the same call -> "fast". It needs
``../shared/emu2_assets/tokenizer`` and skips, saying so, without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emu2_eval.core.prompts import ImagePart, TextPart
from emu2_eval.models.emu2.constants import special_tokens
from emu2_eval.models.emu2.prompting import chat_prompt, expand_placeholders, parts_to_text
from emu2_eval.models.emu2.tokenization import Emu2Tokenizer, Emu2TokenizerError
from tests.emu2_factories import (
    TOKENIZER_DIR,
    copy_tokenizer,
    requires_emu2_assets,
    write_tiny_tokenizer,
)

IMG, END, SLOT, VID = 32001, 32002, 32003, 32004
VQA = "[<IMG_PLH>]based on the picture, what is it? short answer:"
VQA_IDS = [2729, 373, 278, 7623, 29892, 825, 338, 372, 29973, 3273, 1234, 29901]
SYSTEM = "You are a helpful assistant, dedicated to provide concise and efficient answers."
SYSTEM_IDS = [887, 526, 263, 8444, 20255, 29892, 16955, 304, 3867, 3022, 895, 322, 8543, 6089]


def image(n: int) -> list[int]:
    return [IMG, *[SLOT] * n, END]


def video_frame(n: int) -> list[int]:
    return [IMG, *[VID] * n, END]


# "[VIDEO][<VID_PLH>][<VID_PLH>][/VIDEO] what happens?": both classes cut it alike.
VIDEO_TEXT_IDS = [518, 29914, 13044, 29923, 29949, 29962, 825, 5930, 29973]  # "[/VIDEO] what..."
VIDEO_IDS = [1, 32007, *video_frame(3), *video_frame(3), *VIDEO_TEXT_IDS]


# (variant, n_query, prompt, reference ids, fast ids), from transformers 4.31.0.
CASES = [
    ("base", 64, VQA, [1, *image(64), *VQA_IDS], [1, *image(64), *VQA_IDS]),
    (
        "base",
        64,
        "[<IMG_PLH>] based on the picture, what is it? short answer: ",
        [1, *image(64), *VQA_IDS, 29871],
        [1, *image(64), 29871, *VQA_IDS, 29871],
    ),
    (
        "base",
        64,
        "a photo [<IMG_PLH>] and  [<IMG_PLH>]what differs?",
        [1, 263, 15373, *image(64), 322, *image(64), 825, 2923, 414, 29973],
        [1, 263, 15373, 29871, *image(64), 29871, 322, 259, *image(64), 825, 2923, 414, 29973],
    ),
    (
        "chat",
        4,
        SYSTEM + "[USER]: [<IMG_PLH>]what is it?[ASSISTANT]:",
        [1, *SYSTEM_IDS, 29889, 32272, 584, *image(4), 825, 338, 372, 29973, 32273, 584],
        [1, *SYSTEM_IDS, 29889, 32272, 584, 29871, *image(4), 825, 338, 372, 29973, 32273, 584],
    ),
    (
        "chat",
        4,
        SYSTEM + " [USER]: [<IMG_PLH>]what is it? [ASSISTANT]: cat</s>[USER]: why? [ASSISTANT]:",
        [
            1,
            *SYSTEM_IDS,
            29889,
            32272,
            584,
            *image(4),
            825,
            338,
            372,
            29973,
            32273,
            584,
            6635,
            2,
            32272,
            584,
            2020,
            29973,
            32273,
            584,
        ],
        [
            1,
            *SYSTEM_IDS,
            29889,
            29871,
            32272,
            584,
            29871,
            *image(4),
            825,
            338,
            372,
            29973,
            29871,
            32273,
            584,
            6635,
            829,
            29879,
            29958,
            32272,
            584,
            2020,
            29973,
            29871,
            32273,
            584,
        ],
    ),
    (
        "base",
        64,
        "  leading spaces and trailing  ",
        [1, 259, 8236, 8162, 322, 25053, 259],
        [1, 259, 8236, 8162, 322, 25053, 259],
    ),
    (
        "base",
        64,
        "[VIDEO][<VID_PLH>][<VID_PLH>][/VIDEO] what happens?",
        VIDEO_IDS,
        VIDEO_IDS,
    ),
    (
        "base",
        4,
        "x\n[<IMG_PLH>]\nnew line. ",
        [1, 921, *image(4), 716, 1196, 29889, 29871],
        [1, 921, 13, *image(4), 29871, 13, 1482, 1196, 29889, 29871],
    ),
    (
        "base",
        64,
        "<grounding><phrase>dog</phrase><object><patch_index_0004><patch_index_0256></object>",
        [1, 32008, 32009, 11203, 32010, 32011, 32019, 32271, 32012],
        [1, 32008, 32009, 11203, 32010, 32011, 32019, 32271, 32012],
    ),
    ("base", 64, "", [1], [1]),
]


@requires_emu2_assets
@pytest.mark.parametrize(("variant", "n_query", "prompt", "reference", "fast"), CASES)
def test_ids_match_transformers_4_31(variant, n_query, prompt, reference, fast) -> None:
    text = expand_placeholders(prompt, n_query=n_query, v_query=3)
    for mode, expected in (("reference", reference), ("fast", fast)):
        tokenizer = Emu2Tokenizer(TOKENIZER_DIR / "tokenizer.model", variant, mode)
        assert tokenizer.encode(text) == expected, mode


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny SentencePiece model file (no ``../shared`` needed)."""
    return write_tiny_tokenizer(tmp_path_factory.mktemp("tiny_tokenizer"))


@pytest.fixture(scope="module")
def sp(tiny_model: Path):
    """The bare SentencePiece model: the expected ids of plain text pieces."""
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=str(tiny_model))


def test_the_tiny_model_has_llama_ids_for_its_own_tokens(sp) -> None:
    assert sp.get_piece_size() == 32000
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, 2)
    space = sp.piece_to_id("\u2581")
    assert sp.id_to_piece(3) == "<0x00>" and sp.encode("\n") == [space, sp.piece_to_id("<0x0A>")]
    assert sp.encode("yes") == [sp.piece_to_id("\u2581yes")]  # a dummy prefix, as LLaMA's
    assert sp.encode(sp.id_to_piece(31999)) == [space, 31999]  # a filler encodes to itself


def test_reference_and_fast_cut_text_as_the_two_published_classes(tiny_model: Path, sp) -> None:
    """Reference (slow LlamaTokenizer, legacy): split at every special token, strip the spaces
    next to one, encode each piece alone. Fast: split at added tokens only, keep the spaces
    (an extra dummy-prefix piece before a special token), ``</s>`` in text is plain text."""
    image = [IMG, *[SLOT] * 2, END]
    text = expand_placeholders("a photo [<IMG_PLH>] and  [<IMG_PLH>]what differs?", 2, 1)
    reference = Emu2Tokenizer(tiny_model, "base", "reference").encode(text)
    fast = Emu2Tokenizer(tiny_model, "base", "fast").encode(text)
    enc = sp.encode
    assert reference == [1, *enc("a photo"), *image, *enc("and"), *image, *enc("what differs?")]
    assert fast == [
        1,
        *enc("a photo "),
        *image,
        *enc(" and  "),
        *image,
        *enc("what differs?"),
    ]
    assert reference != fast
    chat = "S[USER]: hi[ASSISTANT]: cat</s>[USER]: why?"
    user, assistant = 32272, 32273
    ids = Emu2Tokenizer(tiny_model, "chat", "reference").encode(chat)
    cat = [*enc(": cat"), 2]  # </s> is a special token for the reference class
    assert ids == [1, *enc("S"), user, *enc(": hi"), assistant, *cat, user, *enc(": why?")]
    fast_ids = Emu2Tokenizer(tiny_model, "chat", "fast").encode(chat)
    assert fast_ids == [
        1,
        *enc("S"),
        user,
        *enc(": hi"),
        assistant,
        *enc(": cat</s>"),  # plain text for the fast class
        user,
        *enc(": why?"),
    ]
    assert Emu2Tokenizer(tiny_model, "base").encode("") == [1]


def test_special_token_ids_follow_the_published_order(tiny_model: Path) -> None:
    base = Emu2Tokenizer(tiny_model, "base")
    chat = Emu2Tokenizer(tiny_model, "chat")
    assert (len(base), len(chat)) == (32272, 32274)
    assert base.pad_token_id == 32000 and base.bos_token_id == 1 and base.eos_token_id == 2
    expected = {
        "[IMG]": 32001,
        "[/IMG]": 32002,
        "<image>": 32003,
        "[gIMG]": 32004,
        "[VIDEO]": 32007,
        "<grounding>": 32008,
        "<REC>": 32014,
        "<patch_index_0000>": 32015,
        "<patch_index_0256>": 32271,
    }
    assert {t: base.token_id(t) for t in expected} == expected
    assert (chat.token_id("[USER]"), chat.token_id("[ASSISTANT]")) == (32272, 32273)
    with pytest.raises(KeyError):
        base.token_id("[USER]")


def test_harness_parts_render_as_emu2_placeholders(tmp_path: Path) -> None:
    one, two = ImagePart.from_bytes(b"1"), ImagePart.from_bytes(b"2")
    text, images = parts_to_text((one, TextPart("and"), two, TextPart("what differs?")))
    assert text == "[<IMG_PLH>]and[<IMG_PLH>]what differs?"
    assert images == [one, two]
    expanded = expand_placeholders(text, n_query=2, v_query=1)
    assert expanded == "[IMG]<image><image>[/IMG]and[IMG]<image><image>[/IMG]what differs?"
    assert chat_prompt("hi", "SYS") == "SYS [USER]: hi [ASSISTANT]:"  # native chat.py layout
    assert chat_prompt("hi", "SYS", "hf") == "SYS[USER]: hi[ASSISTANT]:"


def test_batches_pad_on_the_left_and_decode_drops_specials(tiny_model: Path, sp) -> None:
    tokenizer = Emu2Tokenizer(tiny_model, "base")
    short, answer = sp.encode("short"), sp.encode("answer")
    ids, mask = tokenizer(["[IMG]<image>[/IMG]short answer:", "short"])
    assert ids.shape == mask.shape and ids.shape[0] == 2
    assert ids[1, 0] == 32000 and mask[1, 0] == 0 and ids[1, -1] == short[-1]
    assert mask[0].all()
    assert ids[1, -1 - len(short)] == 1  # <s> right before the text: padding sits left of it
    assert tokenizer.decode([*short, *answer, 2, 32000, 32000]) == "short answer"
    assert tokenizer.decode([32001, *short], skip_special_tokens=False) == "[IMG]short"


def test_continuations_are_the_tokens_after_the_prompt(tiny_model: Path, sp) -> None:
    tokenizer = Emu2Tokenizer(tiny_model, "base")
    prompt = "[IMG]<image>[/IMG]is it a cat? short answer:"
    yes = sp.piece_to_id("\u2581yes")
    assert tokenizer.encode_continuation(prompt, " yes") == [yes]
    assert tokenizer.encode(prompt + " yes")[-1] == yes


def test_added_tokens_json_must_agree(tmp_path: Path) -> None:
    copy_tokenizer(tmp_path, "chat")
    assert Emu2Tokenizer.from_pretrained(tmp_path, "chat").token_id("[ASSISTANT]") == 32273
    added = json.loads((tmp_path / "added_tokens.json").read_text())
    added["[IMG]"], added["[/IMG]"] = added["[/IMG]"], added["[IMG]"]
    (tmp_path / "added_tokens.json").write_text(json.dumps(added))
    with pytest.raises(Emu2TokenizerError, match=r"added_tokens\.json.*\[IMG\]=32002"):
        Emu2Tokenizer.from_pretrained(tmp_path, "chat")
    copy_tokenizer(tmp_path, "base")
    with pytest.raises(Emu2TokenizerError, match=r"missing 2 token\(s\), e.g. \[USER\]"):
        Emu2Tokenizer.from_pretrained(tmp_path, "chat")
    assert len(special_tokens("chat")) == len(special_tokens("base")) + 2


def test_unknown_tokenization_is_rejected(tiny_model: Path) -> None:
    with pytest.raises(ValueError, match="reference, fast"):
        Emu2Tokenizer(tiny_model, "base", "slow")
