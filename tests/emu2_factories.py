"""TinyEmu2: a tiny random Emu2 / Emu2-Chat saved in the published checkpoint layout.

The architecture is the real one (EVA post-norm blocks, pooled visual tokens, LLaMA decoder, a
32k SentencePiece vocabulary plus Emu2's special tokens), only narrow and shallow. Weights come
from a fixed seed, so two builds are byte-identical.

The tokenizer is built here (:func:`tiny_sentencepiece`): a LLaMA-style SentencePiece BPE model
(byte fallback, identity normalisation, a dummy prefix, no whitespace folding) trained on a few
lines of text and padded to LLaMA's 32,000 pieces, so Emu2's special tokens land on their
published ids (``[PAD]`` 32000, ``[IMG]`` 32001, ...) exactly as ``Emu2/emu/lm.py`` adds them.
Nothing is read from ``../shared``: the Emu2 tests run on a fresh clone. Only the tests that pin
ids of the real LLaMA tokenizer read it (``requires_emu2_assets``; they skip, saying so, without
it). The fixtures that build these checkpoints live in ``tests/conftest.py``.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from emu2_eval.models.emu2.config import Emu2Config, Emu2VisionConfig
from emu2_eval.models.emu2.constants import PAD_TOKEN, special_tokens
from emu2_eval.models.emu2.loading import save_checkpoint
from emu2_eval.models.emu2.modeling import Emu2ForCausalLM

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EMU2_ASSETS = SHARED / "emu2_assets"
TOKENIZER_DIR = EMU2_ASSETS / "tokenizer"
TOKENIZER_FILES = ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")

requires_emu2_assets = pytest.mark.skipif(
    not (TOKENIZER_DIR / "tokenizer.model").is_file(),
    reason=(
        f"the real LLaMA/Emu2 tokenizer is not at {TOKENIZER_DIR} (../shared/emu2_assets): this "
        "test pins its ids; the tiny built-in tokenizer tests run without it"
    ),
)


@dataclass(frozen=True)
class TinyEmu2:
    """A tiny Emu2 configuration; ``variant`` chat adds the two role tokens and 4x the tokens."""

    variant: str = "base"
    seed: int = 0

    def config(self) -> Emu2Config:
        chat = self.variant == "chat"
        vision = Emu2VisionConfig(
            image_size=112,  # 8x8 patch grid
            patch_size=14,
            width=32,
            layers=2,
            head_width=8,
            mlp_ratio=2.0,
            n_query=16 if chat else 4,  # 4x4 or 2x2 pooled grid (Emu2-Chat: 4x the tokens)
            v_query=4,
        )
        return Emu2Config(
            vocab_size=32274 if chat else 32272,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=1024,
            d_model=32,
            model_version=self.variant,
            vision_config=vision,
        )

    def build(self) -> Emu2ForCausalLM:
        """Random weights, large enough that answers do not hinge on near-ties."""
        torch.manual_seed(self.seed)
        model = Emu2ForCausalLM(self.config()).eval()
        generator = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            for name, param in model.named_parameters():
                noise = torch.randn(param.shape, generator=generator)
                if "norm" in name and name.endswith("weight"):
                    param.copy_(1.0 + 0.1 * noise)
                elif name.endswith("qkv.bias"):  # the published k slot is zero
                    noise[param.shape[0] // 3 : 2 * param.shape[0] // 3] = 0
                    param.copy_(0.1 * noise)
                else:
                    param.copy_(0.15 * noise)
        return model

    def published_state_dict(
        self, model: Emu2ForCausalLM, split_qkv_bias: bool = False, inv_freq: bool = True
    ) -> dict[str, torch.Tensor]:
        """Tensors as the published files hold them (optionally the native split bias)."""
        state: dict[str, torch.Tensor] = {}
        config = self.config()
        for name, tensor in model.state_dict().items():
            if split_qkv_bias and name.endswith("attn.qkv.bias"):
                q_bias, _, v_bias = tensor.chunk(3)
                state[name.replace("qkv.bias", "q_bias")] = q_bias.clone()
                state[name.replace("qkv.bias", "v_bias")] = v_bias.clone()
                continue
            state[name] = tensor
        if inv_freq:  # transformers 4.31 saved the rotary frequencies with each layer
            head_dim = config.hidden_size // config.num_attention_heads
            freq = 1.0 / (config.rope_theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
            for layer in range(config.num_hidden_layers):
                state[f"model.decoder.lm.model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = (
                    freq.clone()
                )
        return state

    def save(
        self,
        directory: Path,
        safe_serialization: bool = False,
        split_qkv_bias: bool = False,
        max_shard_bytes: int = 6 * 1024**2,
        real_tokenizer: bool = False,
    ) -> Path:
        """Sharded weights + index, config.json, tokenizer files and added_tokens.json (the tiny
        tokenizer, or with ``real_tokenizer`` the LLaMA one from ``../shared``)."""
        model = self.build()
        state = self.published_state_dict(model, split_qkv_bias=split_qkv_bias)
        save_checkpoint(state, directory, max_shard_bytes, safe_serialization)
        self.config().save_pretrained(directory)
        copy_tokenizer(directory, self.variant, real=real_tokenizer)
        return directory


# Words the tests score as one-token continuations, and the prompts they render.
TINY_CORPUS_WORDS = (
    "yes no red blue green two three cat dog the a an of and in what is it based on picture "
    "color colour shape short answer photo circle square triangle describe image why differs"
).split()
TINY_CORPUS_LINES = (
    "based on the picture, what is it? short answer: yes",
    "You are a helpful assistant, dedicated to provide concise and efficient answers.",
    "You are a helpful assistant, dedicated to delivering comprehensive and meticulous responses.",
    "a photo of a red circle and a blue square. what differs? new line.",
)
LLAMA_PIECES = 32000
USER_DEFINED, PIECE_FIELD = 4, 1  # sentencepiece_model.proto: SentencePiece.Type, ModelProto.pieces


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _piece_record(text: str, piece_type: int) -> bytes:
    """One ``ModelProto.pieces`` entry in protobuf wire format (piece, score 0, type)."""
    raw = text.encode("utf-8")
    body = b"\x0a" + _varint(len(raw)) + raw + b"\x15" + struct.pack("<f", 0.0)
    body += b"\x18" + _varint(piece_type)
    return bytes([PIECE_FIELD << 3 | 2]) + _varint(len(body)) + body


@functools.lru_cache(maxsize=1)
def tiny_sentencepiece() -> bytes:
    """The serialised tiny SentencePiece model: ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, 256 byte
    pieces, BPE merges of the corpus, then filler pieces up to id 31999.

    Fillers are user-defined pieces (``⟦id⟧``): text never contains them, yet each one encodes
    back to itself, as every piece of the real vocabulary does (a random model may emit any id).
    They are appended as raw protobuf records, so no protobuf package is needed.
    """
    import sentencepiece

    lines = list(TINY_CORPUS_LINES)
    words = TINY_CORPUS_WORDS
    lines += [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 4),
        model_writer=model,
        model_type="bpe",
        vocab_size=1000,
        hard_vocab_limit=False,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        character_coverage=1.0,
        num_threads=1,
        shuffle_input_sentence=False,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
    )
    data = model.getvalue()
    trained = sentencepiece.SentencePieceProcessor(model_proto=data).get_piece_size()
    fillers = b"".join(
        _piece_record(f"\u27e6{i}\u27e7", USER_DEFINED) for i in range(trained, LLAMA_PIECES)
    )
    return data + fillers


def write_tiny_tokenizer(directory: Path) -> Path:
    """``tokenizer.model`` plus the LLaMA tokenizer JSON files, as a checkpoint ships them."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokenizer.model").write_bytes(tiny_sentencepiece())
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    (directory / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False}
    (directory / "tokenizer_config.json").write_text(json.dumps({**config, **specials}, indent=2))
    return directory / "tokenizer.model"


def copy_tokenizer(directory: Path, variant: str, real: bool = False) -> None:
    """The tokenizer files (the tiny one, or with ``real`` the LLaMA one from ``../shared``)
    plus the published-style added_tokens.json of the variant."""
    directory.mkdir(parents=True, exist_ok=True)
    if real:
        for name in TOKENIZER_FILES:
            shutil.copyfile(TOKENIZER_DIR / name, directory / name)
    else:
        write_tiny_tokenizer(directory)
    added = {token: 32000 + i for i, token in enumerate([PAD_TOKEN, *special_tokens(variant)])}
    (directory / "added_tokens.json").write_text(json.dumps(added, indent=2), encoding="utf-8")


def synthetic_pixels(n_images: int, size: int) -> torch.Tensor:
    """(n, 3, size, size) normalised pixels from a closed form: the same in every environment.

    No random generator is involved, so golden files made with another torch/transformers stack
    (``scripts/make_emu2_golden.py``) see exactly these inputs."""
    k = torch.arange(n_images, dtype=torch.float64).view(-1, 1, 1, 1) + 1
    c = torch.arange(3, dtype=torch.float64).view(1, -1, 1, 1) + 1
    i = torch.arange(size, dtype=torch.float64).view(1, 1, -1, 1) + 1
    j = torch.arange(size, dtype=torch.float64).view(1, 1, 1, -1) + 1
    return (1.6 * torch.sin(0.37 * i * k + 0.23 * j * c) + 0.1 * c).float()


def eos_row(model: Emu2ForCausalLM, scale: float, direction: int) -> list[float]:
    """An ``lm_head`` row for ``</s>`` (id 2): ``scale`` x a seeded unit vector.

    Used to probe decoding where ``</s>`` is likely (first, late, or beams cut at the budget);
    returned as floats so a golden file can carry the exact row."""
    generator = torch.Generator().manual_seed(1000 + direction)
    vector = torch.randn(model.config.hidden_size, generator=generator)
    return (scale * vector / vector.norm()).tolist()
