"""Set-up the golden-file generators share (run in the published stack's scratch environment).

The published Emu2 code imports ``timm`` and ``torchvision`` for things the generators never
use; it reads its LLaMA config and tokenizer from one directory; its checkpoints name their
weights ``model.visual.*`` / ``model.decoder.*``; the generators record what ``generate`` was
handed and returned. Each of those is spelled once here. Nothing of the official code is copied.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json")


def stand_in_timm() -> None:
    """``timm.models.layers.{to_2tuple, drop_path}`` without timm (drop-path rate is 0)."""
    layers = types.ModuleType("timm.models.layers")
    layers.to_2tuple = lambda x: x if isinstance(x, tuple) else (x, x)
    layers.drop_path = lambda x, drop_prob=0.0, training=False: x
    sys.modules["timm"] = types.ModuleType("timm")
    sys.modules["timm.models"] = types.ModuleType("timm.models")
    sys.modules["timm.models.layers"] = layers


def stand_in_torchvision() -> None:
    """``torchvision.transforms`` whose builders return None: the published code builds an image
    transform at start-up (torchvision does not import beside this CPU torch); the generators
    replace that transform or never apply it."""
    transforms = types.ModuleType("torchvision.transforms")
    for name in ("Compose", "Resize", "ToTensor", "Normalize"):
        setattr(transforms, name, lambda *args, **kwargs: None)
    transforms.InterpolationMode = types.SimpleNamespace(BICUBIC=None)
    torchvision = types.ModuleType("torchvision")
    torchvision.transforms = transforms
    sys.modules.update({"torchvision": torchvision, "torchvision.transforms": transforms})


def git(repo: Path, *args: str, check: bool = True) -> str:
    """The output of ``git ARGS`` in ``repo``, a checkout or a bare mirror."""
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    command = ["git", "--git-dir", str(git_dir), *args]
    return subprocess.run(command, capture_output=True, text=True, check=check).stdout


def git_head(repo: Path, check: bool = False) -> str:
    """The commit checked out in ``repo`` ("" when git cannot say and ``check`` is off)."""
    return git(repo, "rev-parse", "HEAD", check=check).strip()


def llama_config(config) -> dict:
    """The LLaMA ``config.json`` of the published decoder for an Emu2 config's text sizes."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "hidden_act": "silu",
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "tie_word_embeddings": False,
        "vocab_size": 32000,
    }


def vision_config(vision) -> dict:
    """The published ``CLIPVisionCfg`` arguments of an Emu2 vision config."""
    keys = ("image_size", "patch_size", "width", "layers", "head_width", "mlp_ratio")
    return {key: getattr(vision, key) for key in (*keys, "n_query", "v_query")}


def llama_dir(directory: Path, config_json: str, tokenizer_dir: Path) -> Path:
    """The directory the published decoder loads: ``config.json`` and the tokenizer files."""
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(config_json)
    for name in TOKENIZER_FILES:
        shutil.copyfile(tokenizer_dir / name, directory / name)
    return directory


def load_published_weights(model, state: dict, label: str = "") -> None:
    """Load a checkpoint with published names into ``EmuModel`` (names without ``model.``);
    stop when anything but the rotary buffers is missing or left over."""
    native = {}
    for name, tensor in state.items():
        for published, own in (("model.visual.", "visual."), ("model.decoder.", "decoder.")):
            if name.startswith(published):
                name = own + name[len(published) :]
        native[name] = tensor
    missing, unexpected = model.load_state_dict(native, strict=False)
    missing = [m for m in missing if not m.endswith("rotary_emb.inv_freq")]
    if missing or unexpected:
        raise SystemExit(f"{label}missing {missing}, unexpected {unexpected}")


@contextmanager
def recording_generate(lm) -> Iterator[dict]:
    """While open, ``lm.generate`` also records its ``inputs_embeds``, ``attention_mask`` and
    returned ``sequences`` in the yielded dict."""
    seen: dict = {}
    stock = lm.generate

    def recording(*args, **kwargs):
        seen["inputs_embeds"] = kwargs["inputs_embeds"]
        seen["attention_mask"] = kwargs["attention_mask"]
        seen["sequences"] = stock(*args, **kwargs)
        return seen["sequences"]

    lm.generate = recording
    try:
        yield seen
    finally:
        del lm.generate


def last_logits(lm, seen: dict):
    """Float logits at the last prompt position for the inputs ``generate`` was handed."""
    import torch

    with torch.no_grad():
        out = lm(inputs_embeds=seen["inputs_embeds"], attention_mask=seen["attention_mask"])
    return out.logits[:, -1, :].float()


def two_stage_main(
    doc: str,
    script: str,
    default_out: Path,
    build: Callable[[Path], None],
    reference: Callable[[Path, Path], dict],
) -> None:
    """``--stage build`` (this project's environment) writes the inputs to a work directory,
    ``--stage reference`` (the published stack) writes the golden file; ``all`` runs both, the
    second in ``--reference-python``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "build", "reference"], default="all")
    parser.add_argument("--official-repo", type=Path, required=True)
    parser.add_argument("--reference-python", default="/tmp/refenv/bin/python")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    if args.stage == "reference":
        golden = reference(args.work, args.official_repo)
        args.out.write_text(json.dumps(golden, indent=None, separators=(",", ":")) + "\n")
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        build(work)
        if args.stage == "build":
            return
        subprocess.run(
            [args.reference_python, script, "--stage", "reference", "--official-repo",
             str(args.official_repo), "--work", str(work), "--out", str(args.out)],
            check=True,
        )  # fmt: skip
    print(f"wrote {args.out}")
