"""A tiny IDEFICS-style checkpoint (Idefics3, random weights) saved in the real layout."""

from __future__ import annotations

from pathlib import Path


def build_tiny_idefics3(directory: Path) -> Path:
    import torch
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    from emu2_eval.models.tiny_vlm import TINY_TEXT, TINY_VISION, word_tokenizer

    special = [
        "<unk>",
        "<s>",
        "</s>",
        "<pad>",
        "<image>",
        "<fake_token_around_image>",
        "<global-img>",
        "<end_of_utterance>",
    ]
    tokenizer = word_tokenizer(special, add_bos=False, additional_special_tokens=special[4:])
    vocab = tokenizer.get_vocab()
    vision = Idefics3VisionConfig(**TINY_VISION)
    text = LlamaConfig(
        **TINY_TEXT,
        vocab_size=len(vocab),
        max_position_embeddings=1024,
        pad_token_id=vocab["<pad>"],
    )
    config = Idefics3Config(
        vision_config=vision.to_dict(),
        text_config=text.to_dict(),
        image_token_id=vocab["<image>"],
        scale_factor=2,
        pad_token_id=vocab["<pad>"],
    )
    torch.manual_seed(0)
    model = Idefics3ForConditionalGeneration(config)
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": 32}, max_image_size={"longest_edge": 32}, do_image_splitting=False
    )
    processor = Idefics3Processor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
