"""One command per paper table: run a recorded recipe (results/paper/recipes/tableN.yaml).

A recipe names the paper table, the paper model row it reproduces, its tasks with their shots,
the seeds and the run-wide generation settings (the paper's sampler). The tasks' YAML carries
the rest (prompt profiles, decoding, demonstrations). Every (task, shots, seed) is a resumable
cell under ``OUTPUT/cells/`` (the sweep's layout): a complete cell is skipped, an interrupted
one resumes from the shared response cache. ``demo`` swaps each paper task for its bundled
stand-in (``demo:`` in the recipe); ``tasks_map`` swaps any of them for a named task. Every
swapped row is marked not comparable with the paper, so a demo number is never read as a
reproduction.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from emu2_eval.core.errors import UserError
from emu2_eval.rundir.schema import read_run_results
from emu2_eval.tasks.locations import TaskIndex
from emu2_eval.tasks.paper_numbers import results_dir

if TYPE_CHECKING:
    from emu2_eval.engine.run_config import RunConfig

logger = logging.getLogger(__name__)

RECIPES_DIR = "paper/recipes"
TABLES = ("table1", "table2", "table3", "table4", "table5")


class RecipeError(UserError, ValueError):
    """A recipe that cannot run: unknown table, missing tasks, malformed file or option."""


@dataclass(frozen=True)
class RecipeTask:
    """One paper task of a recipe, its shots and the demo task that may stand in for it."""

    task: str
    shots: list[int]
    demo: str | None = None
    scorer: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe file; ``missing`` non-empty means the table cannot be reproduced yet."""

    name: str
    path: Path
    table: str
    paper_model: str
    tasks: list[RecipeTask]
    seeds: list[int] = field(default_factory=lambda: [0])
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)


def recipe_path(name: str) -> Path:
    return results_dir() / RECIPES_DIR / f"{name}.yaml"


def _int_list(value: Any, where: str) -> list[int]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) for v in value):
        raise RecipeError(f"{where} must be a non-empty list of integers, got {value!r}")
    return value


def load_recipe(name: str) -> Recipe:
    """The recipe of ``tableN``; an unknown name lists the valid ones."""
    if name not in TABLES:
        raise RecipeError(f"unknown table {name!r}; valid: {', '.join(TABLES)}")
    path = recipe_path(name)
    if not path.is_file():
        raise RecipeError(f"recipe {path} is missing: restore it from the repository")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    where = str(path)
    for key in ("table", "paper_model"):
        if not isinstance(raw.get(key), str):
            raise RecipeError(f"{where}: '{key}' must be a string")
    tasks = []
    for index, entry in enumerate(raw.get("tasks") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("task"), str):
            raise RecipeError(f"{where}: tasks[{index}] needs 'task: <name>'")
        tasks.append(
            RecipeTask(
                entry["task"],
                _int_list(entry.get("shots", [0]), f"{where}: tasks[{index}].shots"),
                entry.get("demo"),
                _mapping(entry.get("scorer"), f"{where}: tasks[{index}].scorer"),
            )
        )
    gen_kwargs = raw.get("gen_kwargs") or {}
    if gen_kwargs:
        _check_gen_kwargs(gen_kwargs, where)
    return Recipe(
        name=name,
        path=path,
        table=raw["table"],
        paper_model=raw["paper_model"],
        tasks=tasks,
        seeds=_int_list(raw.get("seeds", [0]), f"{where}: seeds"),
        gen_kwargs=gen_kwargs,
        missing=[str(m) for m in raw.get("missing") or []],
        model=_mapping(raw.get("model"), f"{where}: model"),
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecipeError(f"{where} must be a mapping, got {value!r}")
    return value


def _check_gen_kwargs(values: dict[str, Any], where: str) -> None:
    from emu2_eval.tasks.checks import check_generation
    from emu2_eval.tasks.config import GENERATION_KEYS

    problems = [f"unknown setting {k}" for k in sorted(set(values) - GENERATION_KEYS)]
    problems += check_generation(values)
    if problems:
        raise RecipeError(f"{where}: gen_kwargs: " + "; ".join(problems))


def parse_tasks_map(text: str | None) -> dict[str, str]:
    """``paper_task=stand_in,...`` -> mapping (checked against the recipe later)."""
    mapping: dict[str, str] = {}
    for item in (p.strip() for p in (text or "").split(",")):
        if not item:
            continue
        paper, sep, stand_in = item.partition("=")
        if not sep or not paper.strip() or not stand_in.strip():
            raise RecipeError(
                f"--tasks-map: {item!r} is not paper_task=stand_in_task (e.g. "
                "dreambench=demo_dreambench)"
            )
        mapping[paper.strip()] = stand_in.strip()
    return mapping


@dataclass(frozen=True)
class Plan:
    """What will run: per paper task, the task actually run (itself or a stand-in)."""

    recipe: Recipe
    runs: dict[str, str]
    gen_kwargs: dict[str, Any]
    shots_subset: list[int] | None = None
    #: where the recipe's tasks are looked up (--include-path, entry points)
    index: TaskIndex = field(default_factory=TaskIndex)

    def stand_ins(self) -> dict[str, str]:
        return {paper: run for paper, run in self.runs.items() if paper != run}


def plan(
    recipe: Recipe,
    demo: bool = False,
    tasks_map: dict[str, str] | None = None,
    shots: list[int] | None = None,
    seeds: list[int] | None = None,
    index: TaskIndex | None = None,
) -> Plan:
    """Resolve stand-ins and refuse, naming them, when tasks are missing.

    ``shots`` keeps only those shots of the recipe (a partial reproduction). ``seeds`` replaces
    the recipe's seeds: the paper publishes none, so several seeds give a mean and a standard
    deviation per number instead of one draw (not partial: every seed is as good as another).
    Tasks are looked up in ``index`` (default: the bundled tasks)."""
    from emu2_eval.tasks.registry import get_task, task_index

    index = index or TaskIndex()
    if recipe.missing:
        raise RecipeError(
            f"reproduce {recipe.name}: the paper's {recipe.table} cannot be reproduced yet; "
            "missing: " + "; ".join(recipe.missing) + f" (recipe {recipe.path})"
        )
    tasks_map = dict(tasks_map or {})
    names = {t.task for t in recipe.tasks}
    unknown = sorted(set(tasks_map) - names)
    if unknown:
        raise RecipeError(
            f"--tasks-map names {', '.join(unknown)}, not a task of {recipe.name}; its tasks: "
            + ", ".join(sorted(names))
        )
    if shots is not None:
        allowed = sorted({k for entry in recipe.tasks for k in entry.shots})
        extra = sorted(set(shots) - set(allowed))
        if extra:
            raise RecipeError(
                f"--shots {','.join(map(str, extra))} is not in the recipe of {recipe.name}; "
                f"its shots: {','.join(map(str, allowed))}"
            )
        kept = [
            dataclasses.replace(e, shots=[k for k in e.shots if k in shots]) for e in recipe.tasks
        ]
        recipe = dataclasses.replace(recipe, tasks=[e for e in kept if e.shots])
    if seeds is not None:
        if not seeds or len(set(seeds)) != len(seeds):
            raise RecipeError(f"--seeds must list distinct integers, got {seeds}")
        recipe = dataclasses.replace(recipe, seeds=list(seeds))
    runs = {}
    for entry in recipe.tasks:
        chosen = tasks_map.get(entry.task) or (entry.demo if demo else entry.task)
        if chosen is None:
            raise RecipeError(f"{recipe.path}: task {entry.task} has no 'demo:' for --demo")
        runs[entry.task] = chosen
    found = task_index(index)
    missing = sorted({name for name in runs.values() if name not in found})
    if missing:
        raise RecipeError(
            f"reproduce {recipe.name}: task(s) {', '.join(missing)} do not exist (recipe "
            f"{recipe.path}); `emu2-eval tasks` lists the tasks, --demo runs the demo stand-ins"
        )
    for entry in recipe.tasks:
        task = get_task(runs[entry.task], index)
        if any(k > 0 for k in entry.shots) and task.config.fewshot is None:
            raise RecipeError(
                f"reproduce {recipe.name}: task {runs[entry.task]} has no 'fewshot' pool but "
                f"the recipe runs it at shots {entry.shots}"
            )
    gen_kwargs = {} if (demo or tasks_map) else dict(recipe.gen_kwargs)
    return Plan(recipe, runs, gen_kwargs, sorted(shots) if shots is not None else None, index)


def check_before_loading(
    the_plan: Plan, model: str, model_args: dict[str, Any] | None = None
) -> None:
    """Data, pools and metric backbones of every cell, checked before the model loads: a
    missing dataset of the last task stops the command in seconds, not after hours."""
    from emu2_eval.core.registry import MODELS
    from emu2_eval.engine.preflight import PreflightError, preflight
    from emu2_eval.tasks.overrides import apply_gen_kwargs
    from emu2_eval.tasks.registry import get_task

    problems: list[str] = []
    for entry in the_plan.recipe.tasks:
        task = apply_gen_kwargs(
            get_task(the_plan.runs[entry.task], the_plan.index), the_plan.gen_kwargs
        )
        try:
            preflight([task], max(entry.shots), MODELS.get(model), model, model_args)
        except PreflightError as exc:
            problems += exc.problems
    if problems:
        raise PreflightError(list(dict.fromkeys(problems)))


def _warn_idle_seeds(the_plan: Plan) -> None:
    """Say (stderr) which of the recipe's cells several seeds would repeat identically."""
    from emu2_eval.core.timing import say
    from emu2_eval.engine.seed_notes import seed_warnings
    from emu2_eval.tasks.registry import get_task

    for entry in the_plan.recipe.tasks:
        task = get_task(the_plan.runs[entry.task], the_plan.index)
        for line in seed_warnings([task], list(entry.shots), list(the_plan.recipe.seeds)):
            say(line)


def _cell_task_hash(name: str, gen_kwargs: dict[str, Any], index: TaskIndex) -> str:
    from emu2_eval.tasks.overrides import apply_gen_kwargs
    from emu2_eval.tasks.registry import get_task

    return apply_gen_kwargs(get_task(name, index), gen_kwargs).config.config_hash


def run_reproduction(
    the_plan: Plan, config: RunConfig
) -> list[tuple[str, str, int, int, Path]] | None:
    """Run every missing cell under ``config.output`` (``config.tasks`` is not used: the plan
    names them; its generation settings replace ``config.gen_kwargs``); return the cells (task,
    run name, shots, seed, directory) to the main process, which writes the measured-versus-paper
    table (:func:`emu2_eval.reporting.reproduction.write_reproduction`); None elsewhere."""
    from emu2_eval.engine.distributed import create_context
    from emu2_eval.engine.evaluate import load_adapter
    from emu2_eval.engine.runner import FewShotSettings
    from emu2_eval.engine.sweep import run_cell

    recipe = the_plan.recipe
    config = dataclasses.replace(config, gen_kwargs=the_plan.gen_kwargs)
    check_before_loading(the_plan, config.model, config.model_args)
    config.output.mkdir(parents=True, exist_ok=True)
    context = create_context(config.dist_timeout)
    if context.is_main:
        _warn_idle_seeds(the_plan)
    adapter = load_adapter(config.model, config.model_args, config.topology, context)
    fingerprint = adapter.fingerprint()
    cells = []
    for entry in recipe.tasks:
        name = the_plan.runs[entry.task]
        config_hash = _cell_task_hash(name, the_plan.gen_kwargs, config.task_index)
        for shots in entry.shots:
            for seed in recipe.seeds:
                fewshot = FewShotSettings(shots=shots, seed=seed)
                path = run_cell(config, name, fewshot, config_hash, fingerprint, adapter, context)
                cells.append((entry.task, name, shots, seed, path))
    if not context.is_main:
        return None
    return cells


def cell_results(path: Path) -> dict[str, Any]:
    """A cell's results.json (:class:`RunResultsError` naming the file when damaged)."""
    return read_run_results(path).raw
