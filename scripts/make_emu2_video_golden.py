"""Golden video prompts of the published Emu2-Chat code on the tiny chat checkpoint (not in CI).

Writes ``tests/data/emu2_video_golden.json``: for chat inputs holding a video (and one with an
image too), what baaivision/Emu's ``EmuChatGeneration._prepare_chat_inputs`` makes of them (the
prompt text, ``[VIDEO]`` + one ``[<VID_PLH>]`` per frame, ``[/VIDEO]`` dropped), the token ids
after ``EmuModel.generate`` expands the placeholders (``[IMG]`` + ``[gIMG]`` x v_query +
``[/IMG]`` per frame), the positions the frame features overwrite, those feature rows (frames
encoded with ``n_query=v_query``) and the ``generate`` ids, greedy and beam 5.

Same two-interpreter scheme as ``scripts/make_emu2_golden.py`` (see there for setting up
``/tmp/refenv``): this project's environment builds the tiny Emu2-Chat of
``tests/emu2_factories.py`` (``--stage build``), the scratch environment runs the official code
read from its repository at run time (``--stage reference``). Run (needs the Emu2 tokenizer
assets, ``../shared/emu2_assets/tokenizer``)::

  .venv/bin/python scripts/make_emu2_video_golden.py --official-repo PATH/TO/baaivision/Emu \\
      --reference-python /tmp/refenv/bin/python

Nothing of the official code is copied or committed. Stand-ins: timm's ``to_2tuple`` and
``drop_path`` (as in make_emu2_golden.py) and torchvision's transforms, whose place is taken by
handing ``_prepare_chat_inputs`` already-normalised pixels (``synthetic_pixels``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import _golden_common as common

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "emu2_video_golden.json"

# One chat message each: strings, and ("image", k) / ("frame", k) for pixel k of
# synthetic_pixels. Frames sit between "[VIDEO]" and "[/VIDEO]" as the published code wants.
CASES = {
    "video": ["[VIDEO]", ("frame", 0), ("frame", 1), ("frame", 2), "[/VIDEO]",
              "What is the man doing in the video?"],
    "image_and_video": [("image", 3), "Here is a picture. ", "[VIDEO]", ("frame", 4),
                        ("frame", 5), "[/VIDEO]", "Does the video show it?"],
}  # fmt: skip
N_PIXELS = 6
DECODINGS = {
    "greedy": {"num_beams": 1, "max_new_tokens": 6, "min_len": 1, "length_penalty": -1.0},
    "beam5": {"num_beams": 5, "max_new_tokens": 6, "min_len": 1, "length_penalty": -1.0},
}


def build(work: Path) -> None:
    """The tiny Emu2-Chat (published names, split q/v bias), its configs and the pixels."""
    import torch

    sys.path.insert(0, str(REPO / "tests"))
    from emu2_factories import TOKENIZER_DIR, TinyEmu2, synthetic_pixels

    # the LLaMA config below is the one make_emu2_golden.py writes
    tiny = TinyEmu2("chat")
    model = tiny.build()
    torch.save(
        tiny.published_state_dict(model, split_qkv_bias=True, inv_freq=False), work / "chat.pt"
    )
    config = tiny.config()
    (work / "chat_llama.json").write_text(json.dumps(common.llama_config(config)))
    vision = config.vision_config
    (work / "chat_vision.json").write_text(json.dumps(common.vision_config(vision)))
    torch.save(synthetic_pixels(N_PIXELS, vision.image_size), work / "pixels.pt")
    (work / "tokenizer_dir").write_text(str(TOKENIZER_DIR))


def reference(work: Path, official_repo: Path) -> dict:
    """Run the official chat preparation and ``EmuModel.generate`` on every case."""
    import tokenizers
    import torch
    import transformers

    common.stand_in_timm()
    common.stand_in_torchvision()
    sys.path.insert(0, str(official_repo / "Emu2"))
    from emu.chat import EmuChatGeneration
    from emu.conf.emu_conf import CLIPVisionCfg, TextDecoderCfg
    from emu.emu import EmuModel
    from PIL import Image

    tokenizer_dir = Path((work / "tokenizer_dir").read_text())
    config_json = (work / "chat_llama.json").read_text()
    decoder_dir = common.llama_dir(work / "chat_llama", config_json, tokenizer_dir)
    vision = json.loads((work / "chat_vision.json").read_text())
    cfg = CLIPVisionCfg(**vision, xattn=False, postnorm=True, qkv_bias=True)
    model = EmuModel(cfg, TextDecoderCfg(str(decoder_dir), instruct=True))
    common.load_published_weights(model, torch.load(work / "chat.pt"))
    model = model.eval().float()
    pixels = torch.load(work / "pixels.pt")

    class Picture(Image.Image):  # passes the isinstance checks; the transform gives its pixels
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

        def __eq__(self, other: object) -> bool:  # chat.py compares items with "[/VIDEO]"
            return other is self

    chat = EmuChatGeneration(model)
    chat.transform = lambda picture: pixels[picture.index]
    tokenizer = model.decoder.tokenizer
    video_id = tokenizer.convert_tokens_to_ids("[gIMG]")
    out = {}
    for name, message in CASES.items():
        items = [x if isinstance(x, str) else Picture(x[1]) for x in message]
        text, image, video, image_plh, video_plh = chat._prepare_chat_inputs(
            [items], False, torch.device("cpu"), torch.float32
        )
        expanded = [
            t.replace(image_plh, model.image_placeholder).replace(
                video_plh, model.video_placeholder
            )
            for t in text
        ]
        ids = tokenizer(expanded, padding="longest", return_tensors="pt").input_ids
        case = {
            "message": [x if isinstance(x, str) else list(x) for x in message],
            "prompt": text[0],
            "input_ids": ids[0].tolist(),
            "video_positions": (ids[0] == video_id).nonzero().flatten().tolist(),
            "decodings": {},
        }
        lm = model.decoder.lm
        for decoding, settings in DECODINGS.items():
            with common.recording_generate(lm) as seen:
                texts = model.generate(text, image=image, video=video, **settings)
            case["decodings"][decoding] = {
                "texts": texts,
                "sequences": seen["sequences"].tolist(),
            }
            embeds = seen["inputs_embeds"][0]
            case["video_rows"] = embeds[case["video_positions"]].tolist()
            logits = common.last_logits(lm, seen)[0]
            case["last_logits_top"] = logits.topk(5).indices.tolist()
        out[name] = case
    head = common.git_head(official_repo)
    return {
        "about": (
            "Video prompts of baaivision/Emu Emu2/emu (EmuChatGeneration._prepare_chat_inputs, "
            "EmuModel.generate) on transformers 4.31 for the tiny Emu2-Chat of "
            "tests/emu2_factories.py (pixels from synthetic_pixels, ('frame', k) / ('image', k)"
            " = pixel k); made by scripts/make_emu2_video_golden.py, not edited by hand."
        ),
        "official_commit": head or "unknown",
        "versions": {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "torch": torch.__version__,
        },
        "vision": vision,
        "decodings": DECODINGS,
        "cases": out,
    }


def main() -> None:
    common.two_stage_main(__doc__, __file__, DEFAULT_OUT, build, reference)


if __name__ == "__main__":
    main()
