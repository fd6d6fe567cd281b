"""Emu2's tokenisation, reproduced id for id on any transformers version.

Emu2 uses the LLaMA SentencePiece model plus special tokens appended in a fixed order
(``[PAD]`` 32000, ``[IMG]`` 32001 ... ``<patch_index_0256>`` 32271; Emu2-Chat adds ``[USER]`` 32272
and ``[ASSISTANT]`` 32273). How text around those tokens is cut depends on the tokenizer class,
and two behaviours exist in the wild:

``reference`` (default)
    The native code's slow ``LlamaTokenizer`` (transformers 4.31, legacy mode): the text is split
    at every special token (``<s>``, ``</s>``, ``<unk>`` included), whitespace next to a special
    token is stripped, and each remaining piece is encoded by SentencePiece on its own (so each
    piece starts with a word-boundary ``▁``).
``fast``
    ``AutoTokenizer`` on the published repository (``LlamaTokenizerFast``, 4.31): the text is split
    at the added tokens only, nothing is stripped, so a space before a special token becomes an
    extra ``▁`` (id 29871) and ``</s>`` written in text is plain text.

Both are implemented here directly on ``tokenizer.model`` and checked in the tests against ids
produced by transformers 4.31 itself. ``<s>`` is prepended; no ``</s>`` is appended.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emu2_eval.models.emu2.constants import BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, UNK_TOKEN
from emu2_eval.models.emu2.constants import special_tokens as variant_special_tokens

TOKENIZATIONS = ("reference", "fast")
FIRST_ADDED_ID = 32000


class Emu2TokenizerError(ValueError):
    """The tokenizer files do not match Emu2's vocabulary (the message names the file)."""


def find_tokenizer_model(directory: str | Path) -> Path:
    """``tokenizer.model`` of a checkpoint (top level, or ``tokenizer/`` as in Emu2-Gen)."""
    directory = Path(directory)
    for candidate in (directory / "tokenizer.model", directory / "tokenizer" / "tokenizer.model"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no tokenizer.model in {directory} (nor in {directory / 'tokenizer'}): Emu2 needs the "
        "LLaMA SentencePiece model shipped with the checkpoint"
    )


class Emu2Tokenizer:
    """Text <-> ids for one Emu2 variant with a chosen tokenisation; pads on the left."""

    def __init__(
        self, model_file: str | Path, variant: str = "base", tokenization: str = "reference"
    ) -> None:
        if tokenization not in TOKENIZATIONS:
            raise ValueError(
                f"tokenization {tokenization!r} is not one of {', '.join(TOKENIZATIONS)}"
            )
        try:
            import sentencepiece
        except ImportError:
            raise ImportError(
                "Emu2 tokenisation needs sentencepiece: pip install sentencepiece"
            ) from None
        self.model_file = Path(model_file)
        self.variant = variant
        self.tokenization = tokenization
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(self.model_file))
        if self.sp.get_piece_size() != FIRST_ADDED_ID:
            raise Emu2TokenizerError(
                f"{self.model_file}: {self.sp.get_piece_size()} pieces, expected the LLaMA "
                f"vocabulary of {FIRST_ADDED_ID}"
            )
        self.added = [PAD_TOKEN, *variant_special_tokens(variant)]
        self.added_ids = {token: FIRST_ADDED_ID + i for i, token in enumerate(self.added)}
        self.pad_token_id = self.added_ids[PAD_TOKEN]
        self.bos_token_id, self.eos_token_id = self.sp.bos_id(), self.sp.eos_id()
        self.base_ids = {BOS_TOKEN: self.bos_token_id, EOS_TOKEN: self.eos_token_id}
        self.base_ids[UNK_TOKEN] = self.sp.unk_id()
        split_on = list(self.added) + (list(self.base_ids) if tokenization == "reference" else [])
        self._split = re.compile(
            "(" + "|".join(re.escape(t) for t in sorted(split_on, key=len, reverse=True)) + ")"
        )

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, variant: str = "base", tokenization: str = "reference"
    ) -> Emu2Tokenizer:
        """Load from a checkpoint directory; a published ``added_tokens.json`` must agree."""
        model_file = find_tokenizer_model(directory)
        tokenizer = cls(model_file, variant, tokenization)
        tokenizer.check_added_tokens(model_file.parent / "added_tokens.json")
        return tokenizer

    def check_added_tokens(self, path: Path) -> None:
        """The published checkpoints ship their added tokens; their ids must be ours."""
        if not path.is_file():
            return
        try:
            published = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise Emu2TokenizerError(f"{path}: invalid JSON ({exc})") from None
        wrong = [
            f"{token}={published[token]} (expected {expected})"
            for token, expected in self.added_ids.items()
            if token in published and published[token] != expected
        ]
        absent = [token for token in self.added_ids if token not in published]
        if wrong or absent:
            details = []
            if wrong:
                details.append("different ids: " + ", ".join(wrong[:10]))
            if absent:
                details.append(f"missing {len(absent)} token(s), e.g. {', '.join(absent[:5])}")
            raise Emu2TokenizerError(
                f"{path} does not match the Emu2 {self.variant} vocabulary: " + "; ".join(details)
            )

    # -- encoding ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return FIRST_ADDED_ID + len(self.added)

    def token_id(self, token: str) -> int:
        if token in self.added_ids:
            return self.added_ids[token]
        if token in self.base_ids:
            return self.base_ids[token]
        piece = self.sp.piece_to_id(token)
        if piece == self.sp.unk_id() and token != UNK_TOKEN:
            raise KeyError(f"{token!r} is not a token of the Emu2 {self.variant} vocabulary")
        return piece

    def encode_text(self, text: str) -> list[int]:
        """Ids of ``text`` without ``<s>``, cut at special tokens per the chosen tokenisation."""
        pieces = self._split.split(text)
        ids: list[int] = []
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            if index % 2:  # a special token (re.split puts captured separators at odd indices)
                ids.append(self.added_ids.get(piece, self.base_ids.get(piece, 0)))
                continue
            if self.tokenization == "reference":
                if index > 0:
                    piece = piece.lstrip()
                if index < last:
                    piece = piece.rstrip()
            if piece:
                ids.extend(self.sp.encode(piece))
        return ids

    def encode(self, text: str) -> list[int]:
        """Ids of a prompt: ``<s>`` then the text."""
        return [self.bos_token_id, *self.encode_text(text)]

    def encode_continuation(self, prompt: str, continuation: str) -> list[int]:
        """Ids that ``continuation`` adds after ``prompt`` (tokenised together, then diffed).

        Falls back to tokenising the continuation alone when the joint tokenisation does not
        start with the prompt's ids (a merge across the boundary).
        """
        prompt_ids = self.encode(prompt)
        joint = self.encode(prompt + continuation)
        if joint[: len(prompt_ids)] == prompt_ids and len(joint) > len(prompt_ids):
            return joint[len(prompt_ids) :]
        return self.encode_text(continuation)

    def pad(self, sequences: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        """Left-padded ``input_ids`` and ``attention_mask`` tensors (generation reads the end)."""
        import torch

        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            if seq:
                ids[row, width - len(seq) :] = torch.tensor(list(seq), dtype=torch.long)
                mask[row, width - len(seq) :] = 1
        return ids, mask

    def __call__(self, texts: Sequence[str]) -> tuple[Any, Any]:
        return self.pad([self.encode(t) for t in texts])

    # -- decoding ----------------------------------------------------------------------------
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of generated ids; special and padding tokens dropped (as the reference does)."""
        specials = {self.bos_token_id, self.eos_token_id, self.sp.unk_id()}
        kept: list[int] = []
        out: list[str] = []
        for token in (int(i) for i in ids):
            if token >= FIRST_ADDED_ID or token in specials:
                if not skip_special_tokens:
                    if kept:
                        out.append(self.sp.decode(kept))
                        kept = []
                    out.append(self._token_text(token))
                continue
            kept.append(token)
        if kept:
            out.append(self.sp.decode(kept))
        return "".join(out)

    def decode_with_special_tokens(self, ids: Sequence[int]) -> str:
        """Text of generated ids with every special token kept, exactly as the published stack
        decodes with ``skip_special_tokens=False`` (grounding answers): transformers 4.31's slow
        LlamaTokenizer joins added tokens and text runs with spaces, and inside a run puts a
        space before ``<s>``/``</s>``/``<unk>`` that follows text (no clean-up: the published
        tokenizer_config sets clean_up_tokenization_spaces false). Checked against
        tests/data/emu2_grounding_golden.json."""
        pieces: list[str] = []
        run: list[int] = []
        for token in (int(i) for i in ids):
            if token >= FIRST_ADDED_ID:
                if run:
                    pieces.append(self._run_text(run))
                    run = []
                pieces.append(self._token_text(token))
            else:
                run.append(token)
        if run:
            pieces.append(self._run_text(run))
        return " ".join(pieces)

    def _run_text(self, ids: list[int]) -> str:
        """One run of sentencepiece ids as 4.31's ``LlamaTokenizer.convert_tokens_to_string``."""
        specials = {self.bos_token_id, self.eos_token_id, self.sp.unk_id()}
        out, current, previous_special = "", [], False
        for index, token in enumerate(ids):
            if token in specials:
                if not previous_special and index:
                    out += " "
                out += self.sp.decode(current) + self.sp.id_to_piece(token)
                current, previous_special = [], True
            else:
                current.append(token)
                previous_special = False
        return out + self.sp.decode(current)

    def _token_text(self, token: int) -> str:
        if token < FIRST_ADDED_ID:
            return self.sp.id_to_piece(token)
        index = token - FIRST_ADDED_ID
        return self.added[index] if index < len(self.added) else f"<id_{token}>"

    def describe(self) -> dict[str, Any]:
        return {
            "tokenization": self.tokenization,
            "tokenizer_file": str(self.model_file),
            "vocab_size": len(self),
            "padding_side": "left",
        }
