"""Golden grounding requests of the published Emu2-Chat code (not run in CI).

Writes ``tests/data/emu2_grounding_golden.json``: for a known chat turn (an image, then a
referring expression), the prompt text baaivision/Emu's ``EmuChatGeneration._prepare_chat_inputs``
builds with ``is_grounding`` True and False, the token ids the published tokenizer gives that
text once ``[<IMG_PLH>]`` is expanded as ``EmuModel.generate`` does (``n_query`` of the tiny
Emu2-Chat checkpoint of ``tests/emu2_factories.py``: 16), and how the published tokenizer decodes
a grounding answer with ``skip_special_tokens=False`` (what the README asks for).

Runs in the scratch environment of ``scripts/make_emu2_golden.py`` (transformers 4.31; its
docstring says how to make it), with the Emu2 tokenizer assets (``../shared/emu2_assets``)::

  /tmp/refenv/bin/python scripts/make_emu2_grounding_golden.py \\
      --official-repo PATH/TO/baaivision/Emu --tokenizer ../shared/emu2_assets/tokenizer

Nothing of the official code is copied or committed: it is imported from the repository at run
time. Stand-ins: ``timm``'s two helpers (as in make_emu2_golden.py) and ``torchvision``'s
transforms, which only build the image transform (the images' pixels play no part in the ids).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import types
from pathlib import Path

from _golden_common import git_head, llama_config, llama_dir, stand_in_timm, stand_in_torchvision

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "emu2_grounding_golden.json"
N_QUERY = 16  # TinyEmu2("chat").config().vision_config.n_query
EXPRESSIONS = ["Where is the squirrel?", "the man in a red shirt on the left"]
# A grounding answer in the published output format, and the bare-list form.
ANSWERS = [
    "<phrase>the squirrel</phrase><object>[12, 30, 200, 220]</object>",
    "<phrase>two dogs</phrase><object>[0, 4, 100, 120]</object>"
    "</delimiter_of_multi_objects/><object>[110, 4, 224, 118]</object>",
]
# A 1-layer decoder: only its tokenizer plays a part (the ids), not its weights.
TINY_LLAMA = llama_config(
    types.SimpleNamespace(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-6,
    )
)


def reference(official_repo: Path, tokenizer_dir: Path, work: Path) -> dict:
    import torch
    import transformers

    stand_in_timm()
    stand_in_torchvision()
    sys.path.insert(0, str(official_repo / "Emu2"))
    from emu import constants
    from emu.chat import EmuChatGeneration
    from emu.lm import EmuForClsAndRegression

    decoder_dir = llama_dir(work / "llama", json.dumps(TINY_LLAMA), tokenizer_dir)
    decoder = EmuForClsAndRegression(
        types.SimpleNamespace(llama_config_path=str(decoder_dir), instruct=True)
    )
    tokenizer = decoder.tokenizer

    # the chat pipeline without its model: _prepare_inputs only needs the image transform
    prep = types.SimpleNamespace(transform=lambda image: torch.zeros(3, 2, 2))
    prep._prepare_inputs = lambda *a, **k: EmuChatGeneration._prepare_inputs(prep, *a, **k)
    image_run = (
        constants.DEFAULT_IMG_TOKEN
        + constants.DEFAULT_IMAGE_TOKEN * N_QUERY
        + constants.DEFAULT_IMG_END_TOKEN
    )
    prompts = []
    for expression in EXPRESSIONS:
        for grounding in (True, False):
            text = EmuChatGeneration._prepare_chat_inputs(
                prep, [[object(), expression]], grounding
            )[0][0]
            expanded = text.replace(constants.DEFAULT_IMG_PLACEHOLDER, image_run)
            ids = tokenizer([expanded], padding="longest").input_ids[0]
            prompts.append(
                {"expression": expression, "is_grounding": grounding, "text": text, "ids": ids}
            )
    answers = []
    for answer in ANSWERS:
        ids = [tokenizer.bos_token_id]
        ids += [*tokenizer(answer, add_special_tokens=False).input_ids, tokenizer.eos_token_id]
        answers.append(
            {
                "text": answer,
                "ids": ids,
                "decoded": tokenizer.batch_decode([ids], skip_special_tokens=False)[0],
            }
        )
    head = git_head(official_repo)
    return {
        "about": (
            "Grounding requests of baaivision/Emu Emu2/emu/chat.py (_prepare_chat_inputs) and "
            "the published tokenizer (emu/lm.py special tokens, Emu2-Chat) on transformers "
            "4.31; made by scripts/make_emu2_grounding_golden.py, not edited by hand."
        ),
        "official_commit": head or "unknown",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "n_query": N_QUERY,
        "placeholder": constants.DEFAULT_IMG_PLACEHOLDER,
        "prompts": prompts,
        "answers": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official-repo", type=Path, required=True)
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        golden = reference(args.official_repo, args.tokenizer, Path(work))
    args.out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
