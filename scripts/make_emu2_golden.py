"""Golden outputs of the published Emu2 stack on tiny checkpoints (not run in CI).

Writes ``tests/data/emu2_reference_golden.json``: what baaivision/Emu's native ``EmuModel``
returns on transformers 4.31 for tiny random Emu2 / Emu2-Chat checkpoints built from the seeds
of ``tests/emu2_factories.py``: the prompt ids, last-position logits and the ``generate`` ids,
greedy and beam 5, single and batched, while the ``</s>`` row of ``lm_head`` is swept so that the
end token comes first, late, or never (beams cut at ``max_new_tokens``).

Two interpreters take part, because the two stacks cannot share one:

1. this project's environment builds the checkpoints, pixels and cases (``--stage build``);
2. a scratch environment pinned to the published stack runs the official code, read from its
   repository at run time (``--stage reference``). Set it up once::

     python3.11 -m venv /tmp/refenv
     /tmp/refenv/bin/pip install torch==2.13.0 transformers==4.31.0 tokenizers==0.13.3 \\
         sentencepiece "numpy<2" "huggingface_hub==0.25.2"

Run (needs the Emu2 tokenizer assets, ``../shared/emu2_assets/tokenizer``)::

  .venv/bin/python scripts/make_emu2_golden.py --official-repo PATH/TO/baaivision/Emu \\
      --reference-python /tmp/refenv/bin/python

Nothing of the official code is copied here or committed: the reference stage imports it.
The only stand-in is ``timm``'s ``to_2tuple``/``drop_path`` (the EVA code imports them; with
drop-path rate 0 they are a pair builder and the identity), since timm's wheel pulls torchvision.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _golden_common import (
    git_head,
    last_logits,
    llama_config,
    llama_dir,
    load_published_weights,
    recording_generate,
    stand_in_timm,
    stand_in_torchvision,
    two_stage_main,
    vision_config,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "emu2_reference_golden.json"

# The paper's decoding (baaivision/Emu#77) and greedy, each also with a short budget so that
# beams are cut at max_new_tokens more often.
DECODINGS = {
    "beam5": {"num_beams": 5, "max_new_tokens": 10, "min_len": 1, "length_penalty": -1.0},
    "beam5_short": {"num_beams": 5, "max_new_tokens": 3, "min_len": 1, "length_penalty": -1.0},
    "beam5_n2": {"num_beams": 5, "max_new_tokens": 2, "min_len": 1, "length_penalty": -1.0},
    "greedy": {"num_beams": 1, "max_new_tokens": 10, "min_len": 1, "length_penalty": -1.0},
}
BASE_PROMPTS = [
    "[<IMG_PLH>]based on the picture, answer in one word or phrase. what is in the image? "
    "short answer:",
    "[<IMG_PLH>]based on the picture, what is this? short answer: a cat. "
    "[<IMG_PLH>]based on the picture, what color is it? short answer:",
    "[<IMG_PLH>]based on the picture, how many? short answer:",
]
CHAT_PROMPTS = [
    "You are a helpful assistant, dedicated to provide concise and efficient answers."
    "[USER]: [<IMG_PLH>]What is shown? Answer the question using a single word or phrase."
    "[ASSISTANT]:",
    "You are a helpful assistant, dedicated to provide concise and efficient answers."
    "[USER]: [<IMG_PLH>]Is it red?[ASSISTANT]:",
]
# </s> row of lm_head: scale x a seeded unit direction (0: the row as built).
EOS_SCALES = {"base": [0.0, 2.0, 6.0, 12.0], "chat": [0.0, 6.0, 12.0]}
EOS_DIRECTIONS = {"base": [1, 2, 3], "chat": [1, 2, 3]}
SWEPT_DECODINGS = ("beam5", "beam5_short", "greedy")
# Cut beams whose choice depends on the length normalisation (1 + n in 4.31, n later), found
# by a sweep of </s> rows: (prompt index, scale, direction, decoding), each also batched.
CUT_BEAM_CASES = [
    (0, 2.0, 4, "beam5_short"),
    (1, 3.0, 4, "beam5_n2"),
    (1, 5.0, 5, "beam5_n2"),
    (1, 5.0, 7, "beam5_n2"),
    (2, 4.0, 7, "beam5_n2"),
]
# Emu2-Gen (the base encoder + tiny UNet/VAE): text, image + text, and autoencoding (image only).
# A prompt is a list of strings and image numbers (into synthetic_pixels).
GEN_PROMPTS = [["a red cube on a table"], [0, "in the style of a watercolor"], [1]]
GEN_SETTINGS = {"num_inference_steps": 4, "guidance_scale": 3.0}
GEN_NOISE_SEED = 7
GEN_SEED = 0  # TinyEmu2Gen's default: UNet from seed + 1, VAE from seed + 2


# -- stage 1: this project's environment -----------------------------------------------------
def build(work: Path) -> None:
    """Checkpoints (published names, native split q/v bias), pixels and the case list."""
    import torch

    sys.path.insert(0, str(REPO / "tests"))
    from emu2_factories import TOKENIZER_DIR, TinyEmu2, eos_row, synthetic_pixels

    cases = []
    for variant, prompts in (("base", BASE_PROMPTS), ("chat", CHAT_PROMPTS)):
        tiny = TinyEmu2(variant)
        model = tiny.build()
        state = tiny.published_state_dict(model, split_qkv_bias=True, inv_freq=False)
        torch.save(state, work / f"{variant}.pt")
        config = tiny.config()
        (work / f"{variant}_llama.json").write_text(json.dumps(llama_config(config)))
        vision = config.vision_config
        n_images = [p.count("[<IMG_PLH>]") for p in prompts]
        pixels = synthetic_pixels(sum(n_images), vision.image_size)
        torch.save(pixels, work / f"{variant}_pixels.pt")
        groups = [[i] for i in range(len(prompts))] + [list(range(len(prompts)))]
        settings = [
            (scale, direction, decoding, groups)
            for scale in EOS_SCALES[variant]
            for direction in (EOS_DIRECTIONS[variant] if scale else [0])
            for decoding in SWEPT_DECODINGS
        ]
        if variant == "base":
            everything = list(range(len(prompts)))
            settings += [(s, d, dec, [[i], everything]) for i, s, d, dec in CUT_BEAM_CASES]
        for scale, direction, decoding, case_groups in settings:
            row = eos_row(model, scale, direction) if scale else None
            for group in case_groups:
                cases.append(
                    {
                        "name": f"{variant}-eos{scale:g}d{direction}-{decoding}-"
                        + ("batch" if len(group) > 1 else f"p{group[0]}"),
                        "variant": variant,
                        "eos_scale": scale,
                        "eos_direction": direction,
                        "eos_row": row,
                        "decoding": decoding,
                        "settings": DECODINGS[decoding],
                        "prompts": [prompts[i] for i in group],
                        "prompt_index": group,
                    }
                )
        (work / f"{variant}_vision.json").write_text(
            json.dumps({**vision_config(vision), "n_images": n_images})
        )
    (work / "cases.json").write_text(json.dumps(cases))
    (work / "tokenizer_dir").write_text(str(TOKENIZER_DIR))
    build_generation(work)


def build_generation(work: Path) -> None:
    """Float32 UNet and VAE from the seeds of ``tests/gen_factories.py``, their configs, noise."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from gen_factories import _published, seeded, tiny_unet_config, tiny_vae_config

    unet_config, vae_config = tiny_unet_config(), tiny_vae_config()
    unet = seeded(UNet2DConditionModel.from_config(unet_config), GEN_SEED + 1)
    vae = seeded(AutoencoderKL.from_config(vae_config), GEN_SEED + 2, 0.1)
    torch.save(unet.state_dict(), work / "unet.pt")
    torch.save(vae.state_dict(), work / "vae.pt")
    factor = 2 ** (len(vae_config["block_out_channels"]) - 1)
    size = unet_config["sample_size"] * factor
    shape = (1, unet_config["in_channels"], size // factor, size // factor)
    generator = torch.Generator().manual_seed(GEN_NOISE_SEED)
    noise = torch.randn(shape, generator=generator)
    (work / "generation.json").write_text(
        json.dumps(
            {
                "unet_config": unet_config,
                "vae_config": vae_config,
                "scheduler_config": _published("scheduler_scheduler_config.json"),
                "settings": {**GEN_SETTINGS, "height": size, "width": size},
                "noise": noise.tolist(),
                "prompts": GEN_PROMPTS,
            }
        )
    )


# -- stage 2: the published stack ------------------------------------------------------------
def reference(work: Path, official_repo: Path) -> dict:
    """Run the official ``EmuModel.generate`` on every case; returns the golden document."""
    import torch
    import transformers

    stand_in_timm()
    sys.path.insert(0, str(official_repo / "Emu2"))
    from emu.conf.emu_conf import CLIPVisionCfg, TextDecoderCfg
    from emu.emu import EmuModel

    tokenizer_dir = Path((work / "tokenizer_dir").read_text())
    cases = json.loads((work / "cases.json").read_text())
    models, pixels, images_per_prompt = {}, {}, {}
    for variant in ("base", "chat"):
        config_json = (work / f"{variant}_llama.json").read_text()
        decoder_dir = llama_dir(work / f"{variant}_llama", config_json, tokenizer_dir)
        vision = json.loads((work / f"{variant}_vision.json").read_text())
        images_per_prompt[variant] = vision.pop("n_images")
        cfg = CLIPVisionCfg(**vision, xattn=False, postnorm=True, qkv_bias=True)
        model = EmuModel(cfg, TextDecoderCfg(str(decoder_dir), instruct=variant == "chat"))
        load_published_weights(model, torch.load(work / f"{variant}.pt"), f"{variant}: ")
        models[variant] = model.eval().float()
        pixels[variant] = torch.load(work / f"{variant}_pixels.pt")

    for case in cases:
        model = models[case["variant"]]
        lm = model.decoder.lm
        original = lm.lm_head.weight[2].clone()
        if case["eos_row"] is not None:
            with torch.no_grad():
                lm.lm_head.weight[2] = torch.tensor(case["eos_row"])
        counts = images_per_prompt[case["variant"]]
        offsets = [sum(counts[:i]) for i in range(len(counts))]
        image = torch.cat(
            [
                pixels[case["variant"]][offsets[i] : offsets[i] + counts[i]]
                for i in case["prompt_index"]
            ]
        )
        with recording_generate(lm) as seen:
            texts = model.generate(
                case["prompts"], image=image if len(image) else None, **case["settings"]
            )
        text = [t.replace("[<IMG_PLH>]", model.image_placeholder) for t in case["prompts"]]
        ids = model.decoder.tokenizer(text, padding="longest", return_tensors="pt")
        case["input_ids"] = ids.input_ids.tolist()
        case["attention_mask"] = ids.attention_mask.tolist()
        case["official"] = {"sequences": seen["sequences"].tolist(), "texts": texts}
        if case["decoding"] == "greedy":  # logits once per (model, prompts)
            logits = last_logits(lm, seen)
            top = logits.topk(10, dim=-1)
            case["official"]["last_logits"] = {
                "top_ids": top.indices.tolist(),
                "top_values": top.values.tolist(),
                "eos": logits[:, 2].tolist(),
                "logsumexp": torch.logsumexp(logits, dim=-1).tolist(),
            }
        with torch.no_grad():
            lm.lm_head.weight[2] = original
    head = git_head(official_repo)
    import tokenizers

    return {
        "about": (
            "Outputs of baaivision/Emu Emu2/emu (EmuModel.generate, EmuVisualGeneration) on "
            "transformers 4.31 for tiny random checkpoints (tests/emu2_factories.py and "
            "tests/gen_factories.py seeds, pixels from synthetic_pixels); made by "
            "scripts/make_emu2_golden.py, not edited by hand."
        ),
        "official_commit": head or "unknown",
        "versions": {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "torch": torch.__version__,
            "diffusers": _version("diffusers"),
        },
        **_compact(cases),
        "generation": reference_generation(work, models["base"], pixels["base"]),
    }


def _version(package: str) -> str:
    from importlib import metadata

    return metadata.version(package)


def _compact(cases: list[dict]) -> dict:
    """Inputs and ``</s>`` rows stored once, cases pointing at them by key."""
    inputs, eos_rows, out = {}, {}, []
    for case in cases:
        key = case["variant"] + "-p" + "".join(str(i) for i in case["prompt_index"])
        entry = inputs.setdefault(
            key,
            {
                "variant": case["variant"],
                "prompt_index": case["prompt_index"],
                "input_ids": case["input_ids"],
                "attention_mask": case["attention_mask"],
            },
        )
        if "last_logits" in case["official"] and case["eos_row"] is None:
            entry["last_logits"] = case["official"]["last_logits"]
        eos = None
        if case["eos_row"] is not None:
            eos = f"{case['variant']}-eos{case['eos_scale']:g}d{case['eos_direction']}"
            eos_rows[eos] = case["eos_row"]
        out.append(
            {
                "name": case["name"],
                "inputs": key,
                "eos": eos,
                "decoding": case["decoding"],
                "sequences": case["official"]["sequences"],
                "texts": case["official"]["texts"],
            }
        )
    return {
        "decodings": DECODINGS,
        "prompts": {"base": BASE_PROMPTS, "chat": CHAT_PROMPTS},
        "inputs": inputs,
        "eos_rows": eos_rows,
        "cases": out,
    }


def reference_generation(work: Path, encoder, pixels) -> dict:
    """``EmuVisualGeneration.forward`` on each Emu2-Gen prompt: embeddings, latents, image."""

    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel

    # diffusion.py builds a torchvision transform in __init__; images are handed over as
    # already-normalised pixels instead (below).
    stand_in_torchvision()
    from emu.diffusion import EmuVisualGeneration

    spec = json.loads((work / "generation.json").read_text())
    unet = UNet2DConditionModel.from_config(spec["unet_config"])
    unet.load_state_dict(torch.load(work / "unet.pt"))
    vae = AutoencoderKL.from_config(spec["vae_config"])
    vae.load_state_dict(torch.load(work / "vae.pt"))
    scheduler = EulerDiscreteScheduler.from_config(spec["scheduler_config"])
    pipeline = EmuVisualGeneration(encoder, scheduler, unet.eval(), vae.eval(), None, None)

    class Picture:  # stands for a PIL image; the transform returns its pixels
        def __init__(self, index: int) -> None:
            self.index = index

    pipeline.transform = lambda picture: pixels[picture.index]
    settings = spec["settings"]
    noise = torch.tensor(spec["noise"])
    tokenizer = encoder.decoder.tokenizer
    results = []
    for prompt in spec["prompts"]:
        seen = {}
        stock_encode, stock_decode = pipeline._prepare_and_encode_inputs, pipeline.decode_latents

        def encode(*args, _stock=stock_encode, _seen=seen, **kwargs):
            _seen["embeds"] = _stock(*args, **kwargs)
            return _seen["embeds"]

        def decode(latents, _stock=stock_decode, _seen=seen):
            _seen["latents"] = latents
            _seen["image"] = _stock(latents)
            return _seen["image"]

        pipeline._prepare_and_encode_inputs, pipeline.decode_latents = encode, decode
        pipeline.negative_prompt = {}
        # The pipeline draws its initial latents with torch.randn; hand it the stored noise
        # (Euler's step also draws, but with s_churn 0 that draw is unused).
        stock_randn = torch.randn
        torch.randn = lambda shape, **kwargs: noise.clone().to(kwargs.get("dtype"))
        try:
            items = [x if isinstance(x, str) else Picture(x) for x in prompt]
            pipeline(
                items,
                height=settings["height"],
                width=settings["width"],
                num_inference_steps=settings["num_inference_steps"],
                guidance_scale=settings["guidance_scale"],
            )
        finally:
            torch.randn = stock_randn
            del pipeline._prepare_and_encode_inputs, pipeline.decode_latents
        text = "".join(x if isinstance(x, str) else "[<IMG_PLH>]" for x in prompt)
        text = text.replace("[<IMG_PLH>]", encoder.image_placeholder)
        ids = tokenizer([text + "[IMG]"], return_tensors="pt").input_ids.tolist()
        empty = tokenizer(["[IMG]"], return_tensors="pt").input_ids.tolist()
        cond, uncond = seen["embeds"].chunk(2)
        results.append(
            {
                "prompt": prompt,
                "input_ids": ids,
                "empty_input_ids": empty,
                "cond": cond.tolist(),
                "uncond": uncond.tolist(),
                "latents": seen["latents"].tolist(),
                "image_uint8": (
                    torch.from_numpy(seen["image"] * 255).round().to(torch.uint8).tolist()
                ),
            }
        )
    return {**{k: v for k, v in spec.items() if k != "prompts"}, "cases": results}


def main() -> None:
    two_stage_main(__doc__, __file__, DEFAULT_OUT, build, reference)


if __name__ == "__main__":
    main()
