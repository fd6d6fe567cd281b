"""Golden Emu2-Chat prompt strings from the published chat code (not run in CI).

Writes ``tests/data/emu2_chat_prompt_golden.json``: the text prompt that baaivision/Emu
``Emu2/emu/chat.py`` ``EmuChatGeneration._prepare_chat_inputs`` assembles for single-turn chat
inputs ``[[image, text]]`` like the Table 2 chat tasks send (an image, then the question and the
LLaVA-1.5 format instruction). The published method is called as it is (with a stand-in ``self``
whose ``transform`` maps a picture to a zero tensor: only the text is kept), once with the
published ``SYSTEM_MESSAGE`` and once with the module's system message set to the concise one the
paper names for academic tasks (Appendix C.1), which the published code otherwise uses only with
``is_grounding``.

Run (scratch environment of ``scripts/make_emu2_golden.py``: torch, transformers 4.31)::

  .venv/bin/python scripts/make_chat_prompt_golden.py --official-repo /tmp/emu_official \\
      --reference-python /tmp/refenv/bin/python

Nothing of the official code is copied or committed: the reference stage imports it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _golden_common import git_head, stand_in_timm, stand_in_torchvision

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "emu2_chat_prompt_golden.json"
SHORT = "Answer the question using a single word or phrase."
UNANSWERABLE = (
    "When the provided information is insufficient, respond with 'Unanswerable'. "
    "Answer the question using a single word or phrase."
)
# user messages: "<image>" marks where the picture goes in the list of inputs
CASES = [
    ["<image>", f"What is the man holding?\n{SHORT}"],
    ["<image>", f"What does this label say?\n{UNANSWERABLE}"],
    ["<image>", f"Is the sky blue?\n{SHORT}"],
    [
        "<image>",
        "Which shape is in <image 1>?\n\n(A) circle\n(B) square\n(C) triangle\n\n\n"
        "Answer with the option's letter from the given choices directly.",
    ],
    ["<image>", f"How many shapes are in <image 1>?\n\n{SHORT}"],
    ["What is 2 + 2?\nAnswer the question using a single word or phrase."],
]


def reference(official_repo: Path) -> dict:
    """Call the published ``_prepare_chat_inputs`` on every case, both system messages."""
    import functools
    import types

    import torch
    import transformers  # noqa: F401  (before the stand-ins: it probes timm/torchvision specs)
    from PIL import Image

    stand_in_timm()  # imported by the package but unused for the text
    stand_in_torchvision()
    sys.path.insert(0, str(official_repo / "Emu2"))
    import emu.chat as chat
    from emu.chat import EmuChatGeneration

    owner = types.SimpleNamespace(transform=lambda image: torch.zeros(3, 2, 2))
    owner._prepare_inputs = functools.partial(EmuChatGeneration._prepare_inputs, owner)
    picture = Image.new("RGB", (4, 4))
    published = chat.SYSTEM_MESSAGE
    out = []
    for system_name, system in (("detailed", published), ("short", chat.GROUND_SYSTEM_MESSAGE)):
        chat.SYSTEM_MESSAGE = system
        for case in CASES:
            message = [picture if part == "<image>" else part for part in case]
            text, *_ = EmuChatGeneration._prepare_chat_inputs(owner, [message], False)
            out.append({"system_message": system_name, "user": case, "prompt": text[0]})
    chat.SYSTEM_MESSAGE = published
    return {"cases": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-repo", type=Path, required=True)
    parser.add_argument("--reference-python", default=sys.executable)
    parser.add_argument("--stage", choices=("all", "reference"), default="all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.stage == "reference":
        print(json.dumps(reference(args.official_repo)))
        return
    command = [args.reference_python, __file__, "--stage", "reference"]
    command += ["--official-repo", str(args.official_repo)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    golden = json.loads(result.stdout.strip().splitlines()[-1])
    golden = {
        "source": "baaivision/Emu Emu2/emu/chat.py EmuChatGeneration._prepare_chat_inputs",
        "commit": git_head(args.official_repo, check=True),
        "generator": "scripts/make_chat_prompt_golden.py",
        **golden,
    }
    args.out.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(golden['cases'])} cases to {args.out}")


if __name__ == "__main__":
    main()
