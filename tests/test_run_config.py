"""RunConfig: one frozen value per run, checked when built, each error naming its option."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from emu2_eval.core.errors import UserError
from emu2_eval.engine.run_config import RunConfig
from emu2_eval.engine.runner import FewShotSettings
from emu2_eval.models.topology import Topology


def _config(**changes) -> RunConfig:
    settings = {"model": "tiny-vlm", "tasks": ("demo_vqa",), "output": Path("runs/x")}
    return RunConfig(**{**settings, **changes})


def test_a_run_config_cannot_be_changed_after_it_is_built() -> None:
    config = _config(limit=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.limit = 8  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.output = Path("elsewhere")  # type: ignore[misc]
    assert config.limit == 4


def test_the_config_keeps_its_own_copies_of_the_callers_dicts() -> None:
    args, gen = {"device": "cpu"}, {"max_new_tokens": 3}
    config = _config(model_args=args, gen_kwargs=gen)
    args["device"], gen["max_new_tokens"] = "cuda", 99
    assert config.model_args == {"device": "cpu"}
    assert config.gen_kwargs == {"max_new_tokens": 3}


def test_values_are_normalised_once() -> None:
    config = RunConfig(model="m", tasks=["a", "b"], output="out", limit="0.5", cache_path="c.db")
    assert config.tasks == ("a", "b")
    assert config.output == Path("out") and config.cache_path == Path("c.db")
    assert config.limit == 0.5


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"batch_size": 0}, "--batch-size"),
        ({"batch_size": "many"}, "--batch-size"),
        ({"max_batch_size": 0}, "--max-batch-size"),
        ({"prefetch_workers": -1}, "--prefetch-workers"),
        ({"limit": 0}, "--limit"),
        ({"dist_timeout": 0.0}, "--dist-timeout"),
        ({"seed": "zero"}, "--seed"),
        ({"gen_kwargs": {"temperature": -1}}, "--gen-kwargs"),
        ({"tasks": ("demo_vqa", "")}, "--tasks"),
        ({"topology": 2}, "--gpus-per-replica"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_option(changes: dict, option: str) -> None:
    with pytest.raises(UserError) as caught:
        _config(**changes)
    assert option in str(caught.value)


def test_replace_checks_the_new_value_too() -> None:
    config = _config()
    cell = dataclasses.replace(config, tasks=("demo_caption",), fewshot=FewShotSettings(shots=2))
    assert cell.tasks == ("demo_caption",) and cell.fewshot.shots == 2
    assert config.tasks == ("demo_vqa",)  # the grid's config is unchanged
    with pytest.raises(UserError, match="--max-batch-size"):
        config.replace(max_batch_size=-3)


def test_batching_takes_the_machines_prefetch_default_only_when_unset() -> None:
    assert _config().batching(2).prefetch_workers == 2
    assert _config(prefetch_workers=0).batching(2).prefetch_workers == 0
    auto = _config(batch_size="auto", max_batch_size=16, topology=Topology(1)).batching(0)
    assert auto.auto and auto.max_size == 16
