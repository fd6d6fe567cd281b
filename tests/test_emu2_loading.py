"""Emu2 weights: published layout round trips, name checks, full-size architecture on meta."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from emu2_eval.models.emu2.config import Emu2Config, Emu2ConfigError
from emu2_eval.models.emu2.loading import Emu2LoadError, read_shard, weight_files
from emu2_eval.models.emu2.pretrained import build_empty, from_pretrained
from tests.emu2_factories import TinyEmu2

# Published figures (PROTOCOL.md): 1377 tensors in the BAAI/Emu2 index; 36,906,513,152 parameters
# in the native model (separate q/v biases); Emu2-Chat adds 2 rows to the embeddings and LM head.
PUBLISHED_TENSORS = 1377
NATIVE_PARAMETERS = 36_906_513_152
CHAT_EXTRA = 2 * 2 * 6656


def published_index_names(variant: str) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of the published Emu2 index, derived from the reference code.

    The reference (baaivision/Emu ``Emu2/emu``) module tree is ``visual`` (EVA), ``decoder.lm``
    (LlamaForCausalLM 4.31 with per-layer ``rotary_emb.inv_freq``), ``project_up``,
    ``project_down``; the published files prefix the first two with ``model.`` and fuse the
    attention bias into ``attn.qkv.bias``.
    """
    width, mlp, grid, hidden, inter = 1792, 15360, 32, 6656, 17920
    vocab = 32274 if variant == "chat" else 32272
    names: dict[str, tuple[int, ...]] = {
        "model.visual.cls_token": (1, 1, width),
        "model.visual.pos_embed": (1, grid * grid + 1, width),
        "model.visual.patch_embed.proj.weight": (width, 3, 14, 14),
        "model.visual.patch_embed.proj.bias": (width,),
        "model.decoder.lm.model.embed_tokens.weight": (vocab, hidden),
        "model.decoder.lm.model.norm.weight": (hidden,),
        "model.decoder.lm.lm_head.weight": (vocab, hidden),
        "project_up.weight": (hidden, width),
        "project_down.weight": (width, hidden),
    }
    for i in range(64):
        block = f"model.visual.blocks.{i}."
        for norm in ("norm1", "norm2"):
            names[f"{block}{norm}.weight"] = names[f"{block}{norm}.bias"] = (width,)
        names[f"{block}attn.qkv.weight"] = (3 * width, width)
        names[f"{block}attn.qkv.bias"] = (3 * width,)
        names[f"{block}attn.proj.weight"] = (width, width)
        names[f"{block}attn.proj.bias"] = (width,)
        names[f"{block}mlp.fc1.weight"], names[f"{block}mlp.fc1.bias"] = (mlp, width), (mlp,)
        names[f"{block}mlp.fc2.weight"], names[f"{block}mlp.fc2.bias"] = (width, mlp), (width,)
    for i in range(60):
        layer = f"model.decoder.lm.model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            names[f"{layer}self_attn.{proj}.weight"] = (hidden, hidden)
        names[f"{layer}self_attn.rotary_emb.inv_freq"] = (64,)
        names[f"{layer}mlp.gate_proj.weight"] = names[f"{layer}mlp.up_proj.weight"] = (
            inter,
            hidden,
        )
        names[f"{layer}mlp.down_proj.weight"] = (hidden, inter)
        names[f"{layer}input_layernorm.weight"] = (hidden,)
        names[f"{layer}post_attention_layernorm.weight"] = (hidden,)
    return names


@pytest.mark.parametrize(("variant", "n_query"), [("base", 64), ("chat", 256)])
def test_full_size_model_on_meta_matches_the_published_index(variant: str, n_query: int) -> None:
    published = published_index_names(variant)
    assert len(published) == PUBLISHED_TENSORS
    config = Emu2Config(vocab_size=32274 if variant == "chat" else 32272, model_version=variant)
    config.vision_config.n_query = n_query
    model = build_empty(config)
    ours = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    inv_freq = {n for n in published if n.endswith("rotary_emb.inv_freq")}
    assert len(inv_freq) == 60
    assert set(ours) == set(published) - inv_freq  # the only names we drop on load
    assert {n: published[n] for n in ours} == ours
    assert all(p.is_meta for p in model.parameters())
    total = sum(p.numel() for p in model.parameters())
    k_bias_slots = 64 * 1792  # the fused bias carries a zero key part the native code lacks
    assert total - k_bias_slots == NATIVE_PARAMETERS + (CHAT_EXTRA if variant == "chat" else 0)


def test_published_config_fields_build_the_published_architecture() -> None:
    """Fields of BAAI/Emu2's config.json (as published) parse into the full-size model."""
    raw = {
        "architectures": ["EmuForCausalLM"],
        "auto_map": {"AutoConfig": "configuration_emu.EmuConfig"},
        "d_model": 1792,
        "hidden_size": 6656,
        "intermediate_size": 17920,
        "num_attention_heads": 52,
        "num_hidden_layers": 60,
        "num_key_value_heads": 52,
        "max_position_embeddings": 2048,
        "model_version": "base",
        "pad_token_id": 32000,
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "pretraining_tp": 1,
        "torch_dtype": "float32",
        "vocab_size": 32272,
        "vision_config": {
            "drop_path_rate": 0,
            "eva_model_name": "eva-clip-E-14-plus",
            "head_width": 112,
            "image_size": 448,
            "intermediate_size": 15360,
            "layer_norm_eps": 1e-06,
            "layers": 64,
            "mlp_ratio": 8.571428571428571,
            "n_query": 64,
            "patch_size": 14,
            "postnorm": True,
            "qkv_bias": True,
            "v_query": 64,
            "width": 1792,
            "xattn": True,
        },
    }
    config = Emu2Config.from_dict(raw)
    assert config.vision_config.num_heads == 16
    assert config.vision_config.pool_stride(64) == 4
    assert config.llama_config().rope_parameters["rope_theta"] == 10000.0
    assert config.to_dict()["auto_map"] == raw["auto_map"]  # unknown fields survive a round trip


def test_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    config = TinyEmu2().config().to_dict()
    config["vision_config"]["n_query"] = 5
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(Emu2ConfigError, match=r"config\.json.*n_query=5 must be a square"):
        Emu2Config.from_pretrained(tmp_path)
    config["vision_config"] = {**config["vision_config"], "n_query": 4, "subln": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(Emu2ConfigError, match=r"unknown field.*subln"):
        Emu2Config.from_pretrained(tmp_path)


def test_sharded_checkpoint_round_trip(tiny_emu2_dir: Path) -> None:
    files = weight_files(tiny_emu2_dir)
    assert len(files) >= 3 and all(
        re.fullmatch(r"pytorch_model-\d{5}-of-\d{5}\.bin", f.name) for f in files
    )
    index = json.loads((tiny_emu2_dir / "pytorch_model.bin.index.json").read_text())
    assert any(n.endswith("rotary_emb.inv_freq") for n in index["weight_map"])
    model, report = from_pretrained(tiny_emu2_dir, device="cpu")
    expected = TinyEmu2().build().state_dict()
    loaded = model.state_dict()
    assert set(loaded) == set(expected)
    assert all(torch.equal(loaded[n], expected[n]) for n in expected)
    assert report.tensors == len(expected) and report.dropped == 2
    assert report.dtype == "float32" and report.device == "cpu"
    # buffers the checkpoint does not carry are rebuilt, not left on the meta device
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])


def test_split_bias_safetensors_layout_gives_the_same_model(
    tiny_emu2_dir: Path, tmp_path: Path
) -> None:
    TinyEmu2().save(tmp_path, safe_serialization=True, split_qkv_bias=True)
    names = set()
    for path in weight_files(tmp_path):
        assert path.suffix == ".safetensors"
        names |= set(read_shard(path))
    assert (
        "model.visual.blocks.0.attn.q_bias" in names
        and "model.visual.blocks.0.attn.qkv.bias" not in names
    )
    fused, _ = from_pretrained(tiny_emu2_dir, device="cpu")
    split, _ = from_pretrained(tmp_path, device="cpu")
    for name, tensor in fused.state_dict().items():
        assert torch.equal(tensor, split.state_dict()[name]), name


def test_missing_and_unexpected_tensors_are_listed(tiny_emu2_dir: Path, tmp_path: Path) -> None:
    model = TinyEmu2().build()
    state = TinyEmu2().published_state_dict(model)
    del state["project_down.weight"]
    del state["model.visual.blocks.1.mlp.fc2.bias"]
    state["model.visual.norm.weight"] = torch.ones(32)
    state["model.visual.blocks.0.attn.q_bias"] = torch.zeros(32)  # a half without its v_bias
    from emu2_eval.models.emu2.loading import save_checkpoint

    save_checkpoint(state, tmp_path)
    TinyEmu2().config().save_pretrained(tmp_path)
    with pytest.raises(Emu2LoadError) as info:
        from_pretrained(tmp_path, device="cpu")
    message = str(info.value)
    assert str(tmp_path) in message
    assert "missing 2 tensor(s): model.visual.blocks.1.mlp.fc2.bias, project_down.weight" in message
    assert "model.visual.norm.weight" in message and "attn.q_bias" in message


def test_bad_index_names_the_missing_shard(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin.index.json").write_text(
        json.dumps({"weight_map": {"x": "pytorch_model-00001-of-00002.bin"}})
    )
    with pytest.raises(FileNotFoundError, match=r"pytorch_model-00001-of-00002\.bin"):
        weight_files(tmp_path)


def test_device_map_keeps_blocks_whole_and_head_beside_embeddings() -> None:
    from emu2_eval.core.devices import parse_model_max_memory
    from emu2_eval.models.emu2.placement import (
        EMBED,
        LM_HEAD,
        device_of,
        infer_device_map,
    )

    config = Emu2Config()  # full size, on meta: costs nothing
    model = build_empty(config)
    budget = parse_model_max_memory("0:30GiB;1:30GiB;2:30GiB")
    assert budget == {0: "30GiB", 1: "30GiB", 2: "30GiB"}
    device_map = infer_device_map(model, budget, torch.bfloat16)
    assert set(device_map.values()) == {0, 1, 2}
    assert device_of(device_map, LM_HEAD) == device_of(device_map, EMBED)
    for name in device_map:  # never below a whole EVA block or LLaMA decoder layer
        assert not re.search(r"blocks\.\d+\.|layers\.\d+\.", name), name
    with pytest.raises(ValueError, match="max_memory"):
        parse_model_max_memory("0=70GiB")


def test_quantization_without_bitsandbytes_says_what_to_install(tiny_emu2_dir: Path) -> None:
    pytest.importorskip("torch")
    try:
        import bitsandbytes  # noqa: F401

        pytest.skip("bitsandbytes is installed")
    except ImportError:
        pass
    with pytest.raises(ImportError, match="pip install bitsandbytes"):
        from_pretrained(tiny_emu2_dir, device="cpu", load_in_8bit=True)


def test_split_bias_halves_are_fused_across_shards() -> None:
    from emu2_eval.models.emu2.loading import KeyNormalizer

    normalize = KeyNormalizer()
    q, v = torch.arange(4.0), -torch.arange(4.0)
    assert list(normalize("visual.blocks.3.attn.q_bias", q)) == []  # held until v_bias comes
    assert list(normalize("decoder.lm.model.layers.0.self_attn.rotary_emb.inv_freq", q)) == []
    (name, fused), *rest = list(normalize("visual.blocks.3.attn.v_bias", v))
    assert not rest and name == "model.visual.blocks.3.attn.qkv.bias"
    assert torch.equal(fused, torch.cat([q, torch.zeros(4), v]))
    assert list(normalize("visual.blocks.4.attn.v_bias", v)) == []
    assert normalize.leftovers() == ["model.visual.blocks.4.attn.v_bias"]
    assert normalize.dropped == ["decoder.lm.model.layers.0.self_attn.rotary_emb.inv_freq"]


def _save_tiny(directory: Path, state: dict, shard_bytes: int = 6 * 1024**2, safe: bool = False):
    from emu2_eval.models.emu2.loading import save_checkpoint

    save_checkpoint(state, directory, shard_bytes, safe)
    TinyEmu2().config().save_pretrained(directory)
    return directory


def test_a_mis_shaped_tensor_is_reported_once_with_both_shapes_and_its_file(
    tmp_path: Path,
) -> None:
    state = TinyEmu2().published_state_dict(TinyEmu2().build(), inv_freq=False)
    state["project_up.weight"] = torch.zeros(3, 5)
    _save_tiny(tmp_path, state, safe=True)
    with pytest.raises(Emu2LoadError) as info:
        from_pretrained(tmp_path, device="cpu")
    message = str(info.value)
    assert message.count("project_up.weight") == 1  # not also "missing"
    assert "missing" not in message
    assert re.search(
        r"project_up\.weight in model-\d{5}-of-\d{5}\.safetensors: checkpoint \(3, 5\)", message
    )
    assert "model (64, 32)" in message


def test_a_missing_v_bias_of_the_split_layout_is_named_with_its_partners_file(
    tmp_path: Path,
) -> None:
    state = TinyEmu2().published_state_dict(TinyEmu2().build(), split_qkv_bias=True, inv_freq=False)
    del state["model.visual.blocks.1.attn.v_bias"]
    files = _save_tiny(tmp_path, state, shard_bytes=1024**2)
    with pytest.raises(Emu2LoadError) as info:
        from_pretrained(files, device="cpu")
    message = str(info.value)
    holder = json.loads((tmp_path / "pytorch_model.bin.index.json").read_text())["weight_map"][
        "model.visual.blocks.1.attn.q_bias"
    ]
    assert (
        "missing 1 tensor(s): model.visual.blocks.1.attn.v_bias (split q/v bias layout: its "
        f"q_bias is in {holder})" in message
    )
    assert "qkv.bias" not in message and "unexpected" not in message


def test_a_tensor_listed_in_the_index_but_absent_from_its_shard_is_named(tmp_path: Path) -> None:
    state = TinyEmu2().published_state_dict(TinyEmu2().build(), inv_freq=False)
    _save_tiny(tmp_path, state, shard_bytes=1024**2)
    index = json.loads((tmp_path / "pytorch_model.bin.index.json").read_text())
    shard = index["weight_map"]["project_down.weight"]
    tensors = torch.load(tmp_path / shard)
    del tensors["project_down.weight"]
    torch.save(tensors, tmp_path / shard)
    with pytest.raises(Emu2LoadError) as info:
        from_pretrained(tmp_path, device="cpu")
    message = str(info.value)
    assert (
        f"project_down.weight (listed in pytorch_model.bin.index.json for shard {shard} but "
        "absent from it)" in message
    )
    assert "missing" not in message  # named once, where it was supposed to be


def test_a_bad_checkpoint_is_one_clean_error_in_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from emu2_eval.cli import main
    from tests.emu2_factories import copy_tokenizer

    state = TinyEmu2().published_state_dict(TinyEmu2().build(), inv_freq=False)
    state["project_up.weight"] = torch.zeros(3, 5)
    _save_tiny(tmp_path / "ckpt", state)
    copy_tokenizer(tmp_path / "ckpt", "base")
    args = ["run", "--model", "emu2", "--model-args", f"pretrained={tmp_path / 'ckpt'}"]
    args += ["--tasks", "demo_vqa", "--limit", "2", "--output", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "project_up.weight" in result.output and "checkpoint (3, 5)" in result.output


def test_safetensors_shards_stream_one_tensor_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading never holds a whole shard on the CPU: each checkpoint tensor read from a
    safetensors shard is released (cast to the target dtype and placed) before the next is read.
    (Reading a whole shard with ``load_file`` kept every tensor of the shard alive at once.)"""
    import weakref

    import safetensors
    import safetensors.torch

    from emu2_eval.models.emu2.loading import load_weights, save_checkpoint

    tiny = TinyEmu2("base")
    save_checkpoint(tiny.published_state_dict(tiny.build()), tmp_path, 16 * 1024**2, True)
    assert len(weight_files(tmp_path)) >= 2
    alive: list[weakref.ref] = []
    most_alive = 0
    real_open = safetensors.safe_open

    class Spy:
        def __init__(self, *args, **kwargs) -> None:
            self.inner = real_open(*args, **kwargs)

        def __enter__(self):
            self.handle = self.inner.__enter__()
            return self

        def __exit__(self, *exc):
            return self.inner.__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def _track(self, tensors: list) -> None:
            nonlocal most_alive
            alive.extend(weakref.ref(t) for t in tensors)
            most_alive = max(most_alive, sum(r() is not None for r in alive))

        def get_tensor(self, name):
            tensor = self.handle.get_tensor(name)
            self._track([tensor])
            return tensor

        def get_tensors(self, *args, **kwargs):  # what load_file reads a whole shard with
            tensors = self.handle.get_tensors(*args, **kwargs)
            self._track(list(tensors.values()))
            return tensors

    monkeypatch.setattr(safetensors, "safe_open", Spy)
    monkeypatch.setattr(safetensors.torch, "safe_open", Spy)
    model = build_empty(tiny.config())
    info = load_weights(model, tmp_path, dtype=torch.bfloat16)
    assert info["tensors"] == len(dict(model.named_parameters()))
    assert len(alive) >= info["tensors"] and most_alive <= 2  # the current one (+ a held q_bias)
    assert next(model.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("random_weights", [False, True])
def test_parameters_end_in_the_requested_dtype(tmp_path: Path, random_weights: bool) -> None:
    """dtype=bfloat16 gives bfloat16 parameters (accelerate's setter used to cast every tensor
    back to the empty model's float32: twice the memory, while the report said bfloat16)."""
    from emu2_eval.models.emu2.loading import save_checkpoint

    tiny = TinyEmu2("base")
    save_checkpoint(tiny.published_state_dict(tiny.build()), tmp_path, 16 * 1024**2, True)
    tiny.config().save_pretrained(tmp_path)
    model, report = from_pretrained(
        tmp_path, dtype="bfloat16", device="cpu", random_weights=random_weights
    )
    assert report.dtype == "bfloat16"
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_a_damaged_safetensors_shard_is_named(tmp_path: Path) -> None:
    """A shard that is not safetensors (cut short by a failed download) is named in the error."""
    from emu2_eval.models.emu2.loading import load_weights, save_checkpoint

    tiny = TinyEmu2("base")
    save_checkpoint(tiny.published_state_dict(tiny.build()), tmp_path, 16 * 1024**2, True)
    shard = weight_files(tmp_path)[-1]
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(Emu2LoadError, match=re.escape(f"{shard}: cannot read")):
        load_weights(build_empty(tiny.config()), tmp_path)
