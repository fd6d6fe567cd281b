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

    from emu2_eval.models.tiny_vlm import word_tokenizer

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
    vision = Idefics3VisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    text = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
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
