"""The Python API: ``emu2_eval.evaluate(model=..., tasks=[...])``, results in memory.

    import emu2_eval
    results = emu2_eval.evaluate(model="tiny-vlm", tasks=["demo_vqa"], limit=8)
    results["tasks"]["demo_vqa"]["metrics"]      # {"vqa_accuracy": ...}

``model`` is a registered adapter name (with ``model_args``), an adapter object, an already
loaded transformers image-text-to-text model (give its ``processor``), wrapped in the ``hf-vlm``
adapter, or a loaded diffusers text-to-image pipeline, wrapped in ``diffusers-t2i``. Without
``output`` the run directory is a temporary one, removed before returning: the results come back
as the dict results.json would hold. With ``output`` it is the CLI's ``run``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from emu2_eval.models.base import ModelAdapter, parse_model_args


def evaluate(
    model: str | ModelAdapter | Any,
    tasks: str | list[str],
    *,
    model_args: str | dict[str, Any] | None = None,
    processor: Any = None,
    output: str | Path | None = None,
    limit: int | float | None = None,
    shots: int = 0,
    seed: int = 0,
    batch_size: int | str = 1,
    gen_kwargs: str | dict[str, Any] | None = None,
    device: str | None = None,
    context_policy: str = "error",
    progress: bool = False,
    overwrite: bool = False,
    record_absolute_paths: bool = False,
    predict_only: bool = False,
    include_path: str | Path | list[str | Path] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``tasks`` (names, ``demo_*`` patterns or groups); return results.

    ``gen_kwargs`` (``"num_beams=1"`` or a dict) overrides every generating task's settings;
    ``limit`` is a doc count or a fraction; ``device`` is the adapter's device argument.
    ``predict_only`` writes responses and submission files without scoring (splits without
    labels); give ``output`` to keep the submission files. ``include_path`` adds directories of
    task YAML files (the CLI's ``--include-path``), searched before the installed and bundled
    tasks, for this call only.
    Errors a user can fix raise :class:`emu2_eval.core.errors.UserError` subclasses.
    """
    from emu2_eval.core.plugins import entry_point_task_dirs, load_entry_points
    from emu2_eval.engine.evaluate import evaluate as run_evaluation
    from emu2_eval.engine.run_config import RunConfig
    from emu2_eval.engine.runner import FewShotSettings
    from emu2_eval.tasks.locations import TaskIndex
    from emu2_eval.tasks.overrides import parse_gen_kwargs
    from emu2_eval.tasks.selection import expand_task_names

    load_entry_points()
    includes = [include_path] if isinstance(include_path, (str, Path)) else include_path or []
    index = TaskIndex.build(includes, entry_point_task_dirs())
    names = expand_task_names([tasks] if isinstance(tasks, str) else list(tasks), index)
    args = parse_model_args(model_args) if isinstance(model_args, str) else dict(model_args or {})
    if device is not None:
        args["device"] = device
    overrides = dict(gen_kwargs) if isinstance(gen_kwargs, dict) else parse_gen_kwargs(gen_kwargs)
    name, adapter = _resolve_model(model, processor, args)
    config = RunConfig(
        model=name,
        model_args=args,
        tasks=tuple(names),
        task_index=index,
        limit=limit,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
        fewshot=FewShotSettings(shots=shots, seed=seed, context_policy=context_policy),
        gen_kwargs=overrides,  # a dict is checked by RunConfig like --gen-kwargs
        overwrite=overwrite,
        absolute_paths=record_absolute_paths,
        predict_only=predict_only,
    )
    if output is not None:
        return _main_process(run_evaluation(config.replace(output=Path(output)), adapter))
    with tempfile.TemporaryDirectory(prefix="emu2_eval_") as scratch:
        return _main_process(run_evaluation(config.replace(output=Path(scratch)), adapter))


simple_evaluate = evaluate  # lm-eval's name for the same entry point


def _main_process(results: dict[str, Any] | None) -> dict[str, Any]:
    if results is None:
        raise RuntimeError(
            "emu2_eval.evaluate returned no results: this is not the main process of a "
            "launched run (only rank 0 gets them)"
        )
    return results


def _resolve_model(
    model: Any, processor: Any, args: dict[str, Any]
) -> tuple[str, ModelAdapter | None]:
    """(recorded model name, adapter object or None to build the registered one)."""
    if isinstance(model, str):
        if processor is not None:
            raise TypeError("processor= goes with a loaded model object, not an adapter name")
        return model, None
    if isinstance(model, ModelAdapter):
        return model.name, model
    if hasattr(model, "generate") and hasattr(model, "config"):  # a transformers model
        from emu2_eval.models.hf_vlm import HFVisionLanguageAdapter

        if processor is None:
            raise TypeError(
                "a loaded transformers model needs its processor: "
                "evaluate(model=model, processor=AutoProcessor.from_pretrained(...), ...)"
            )
        options = {k: v for k, v in args.items() if k != "device"}
        adapter = HFVisionLanguageAdapter.from_loaded(model, processor, **options)
        args.clear()
        args.update({"pretrained": adapter.pretrained, "loaded_object": True})
        return adapter.name, adapter
    if hasattr(model, "components") and hasattr(model, "unet"):  # a diffusers pipeline
        from emu2_eval.models.diffusers_t2i import DiffusersT2IAdapter

        options = {k: v for k, v in args.items() if k == "batch_invariant"}
        adapter = DiffusersT2IAdapter.from_loaded(model, **options)
        args.clear()
        args.update({"pretrained": adapter.pretrained, "loaded_object": True})
        return adapter.name, adapter
    raise TypeError(
        f"model must be an adapter name (emu2-eval models), a ModelAdapter, a loaded "
        f"transformers model or diffusers text-to-image pipeline, got {type(model).__name__}"
    )
