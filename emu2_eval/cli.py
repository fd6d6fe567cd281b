"""The ``emu2-eval`` command line."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from emu2_eval.core.atomic import (
    OutputWriteError,
    write_bytes_atomic,
    write_csv_atomic,
    write_text_atomic,
)
from emu2_eval.core.errors import UserError
from emu2_eval.core.registry import UnknownNameError

USER_ERRORS = (UserError, UnknownNameError, ValueError, FileNotFoundError, OutputWriteError)


def _user_error(exc: BaseException) -> click.ClickException:
    """The one ``Error:`` block of a user error; with ``emu2-eval -v`` the traceback first."""
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    if root is not None and (root.obj or {}).get("verbose"):
        traceback.print_exception(exc)
    return click.ClickException(str(exc))


class _ErrorLayer(click.Group):
    """The command group: every command's user errors end here, once, as a clean message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except USER_ERRORS as exc:
            raise _user_error(exc) from None


class _Option(click.Option):
    """An option whose underscore spellings (lm-eval's ``--model_args``...) work but are hidden
    from ``--help``, which shows only the dashed names."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown = [o for o in self.opts if "_" not in o.lstrip("-")]
        saved, self.opts = self.opts, shown or self.opts
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = saved


def _option(*names: str, **kwargs: Any) -> Callable[[Any], Any]:
    """``click.option`` with hidden underscore aliases (see :class:`_Option`)."""
    return click.option(*names, cls=_Option, **kwargs)


def _write_or_fail(write: Callable[[], None]) -> None:
    """Write an output file named on the command line; a failure is a clean error."""
    try:
        write()
    except OutputWriteError as exc:
        raise click.ClickException(str(exc)) from None


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _task_names(value: str) -> list[str]:
    """The --tasks list; an empty one is an error, not an empty run that exits 0."""
    names = _split(value)
    if not names:
        raise click.BadParameter(
            f"no task name in {value!r}: give one or more, comma-separated "
            "(`emu2-eval tasks` lists them)",
            param_hint="--tasks",
        )
    return names


def _ints(value: str, option: str) -> list[int]:
    try:
        numbers = [int(v) for v in _split(value)]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated integers, got {value!r}", param_hint=option
        ) from None
    if not numbers:
        raise click.BadParameter("give at least one value", param_hint=option)
    return numbers


def _task_index(include_paths: tuple[str, ...] = ()) -> TaskIndex:
    """The command's task index: --include-path directories, then installed entry points'."""
    from emu2_eval.core.plugins import entry_point_task_dirs
    from emu2_eval.tasks.locations import TaskIndex

    return TaskIndex.build(include_paths, entry_point_task_dirs())


include_option = click.option(
    "--include-path",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Extra directory of task YAML files (searched first).",
)
context_option = click.option(
    "--context-policy",
    type=click.Choice(["error", "drop_demonstrations"]),
    default="error",
    show_default=True,
    help="When a prompt exceeds the model's context: stop with an error before running, or drop "
    "the least relevant demonstrations (recorded per sample). Never silent truncation.",
)
model_options = [
    click.option(
        "--model",
        default=None,
        help="Registered model adapter (`emu2-eval models`); required unless --tasks list.",
    ),
    _option("--model-args", "--model_args", default="", help="Adapter arguments as k=v,k2=v2."),
    click.option(
        "--device",
        default=None,
        help="Shortcut for the adapter's device argument (--model-args device=...), "
        "e.g. cpu, cuda, cuda:1.",
    ),
    click.option(
        "--tasks",
        "task_list",
        required=True,
        help="Comma-separated task names, shell-style patterns ('demo_*') or groups (the "
        "`group:` of task files: demo, vqa, captioning...); `--tasks list` lists them.",
    ),
    click.option(
        "--limit",
        default=None,
        help="Only the first N docs of each task, or a fraction of each task (0.1).",
    ),
    _option(
        "--gen-kwargs",
        "--gen_kwargs",
        default=None,
        help="Generation settings overriding every generating task's, k=v,k2=v2 (e.g. "
        "num_beams=1,max_new_tokens=20): checked like task YAML, recorded, part of the cache key.",
    ),
    _option(
        "--batch-size",
        "--batch_size",
        default="1",
        show_default=True,
        help="Requests per model call, or 'auto': start at --max-batch-size and halve on "
        "out-of-memory (the size used is recorded in results.json).",
    ),
]
parallel_options = [
    click.option(
        "--max-batch-size",
        type=int,
        default=64,
        show_default=True,
        help="Largest batch --batch-size auto tries.",
    ),
    click.option(
        "--prefetch-workers",
        type=int,
        default=None,
        help="Threads decoding the next batch's images while the model runs (0: off; "
        "default: 2 with a GPU, 0 on a CPU).",
    ),
    click.option(
        "--gpus-per-replica",
        type=int,
        default=1,
        show_default=True,
        help="GPUs per model replica; launch one process per replica (accelerate launch / "
        "torchrun -m emu2_eval ...), each gets the next GPUs.",
    ),
    click.option(
        "--max-memory",
        default=None,
        help="Memory per GPU of a replica for its device map, e.g. '0:70GiB,1:70GiB' (indices "
        "within the replica), '70GiB' for each, plus 'cpu:100GiB' to allow offload.",
    ),
    click.option(
        "--dist-timeout",
        type=float,
        default=600.0,
        show_default=True,
        help="Seconds a process waits for a silent peer before stopping with an error.",
    ),
]


def _parallel_kwargs(
    max_batch_size: int,
    prefetch_workers: int | None,
    gpus_per_replica: int,
    max_memory: str | None,
    dist_timeout: float,
) -> dict:
    """Throughput and topology options as :class:`RunConfig` fields."""
    from emu2_eval.models.topology import Topology, parse_max_memory

    return {
        "max_batch_size": max_batch_size,
        "prefetch_workers": prefetch_workers,
        "topology": Topology(gpus_per_replica, parse_max_memory(max_memory)),
        "dist_timeout": dist_timeout,
    }


def _run_config(
    model: str,
    model_args: str | None,
    device: str | None,
    output: Path,
    index: TaskIndex,
    common: tuple[int | float | None, int | str, bool],
    parallel: dict[str, Any],
    **fields: Any,
) -> RunConfig:
    """The one :class:`RunConfig` of `run`, `sweep` and `reproduce`: the options they share
    (``common`` = limit, batch size, no-progress; ``parallel`` from :func:`_parallel_kwargs`)
    plus each command's own ``fields``."""
    from emu2_eval.engine.run_config import RunConfig

    limit, batch_size, no_progress = common
    return RunConfig(
        model=model,
        model_args=_model_args(model_args, device),
        output=output,
        task_index=index,
        limit=limit,
        batch_size=batch_size,
        progress=not no_progress,
        **parallel,
        **fields,
    )


def with_options(options):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@click.group(cls=_ErrorLayer)
@click.version_option(package_name="emu2_eval")
@click.option(
    "-v", "--verbose", is_flag=True, help="Log debug messages; show the traceback of errors."
)
@click.option(
    "--online",
    is_flag=True,
    help="Allow Hugging Face hub downloads (offline by default: nothing reaches the "
    "network unless asked).",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    help="A .py file or module to import first, e.g. one registering a model adapter "
    "(emu2_eval.core.registry.MODELS.register). Installed entry points (group emu2_eval.models) "
    "are found without it.",
)
@click.pass_context
def main(ctx: click.Context, verbose: bool, online: bool, plugins: tuple[str, ...]) -> None:
    """Evaluate Emu2 and other multimodal models on VQA, captioning and generation tasks."""
    from emu2_eval.core.plugins import PluginError, load_entry_points, load_plugin

    ctx.obj = {"verbose": verbose}
    if not online:
        from emu2_eval.core.offline import go_offline

        go_offline()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    load_entry_points()
    for plugin in plugins:
        try:
            load_plugin(plugin)
        except PluginError as exc:
            raise _user_error(exc) from None


@main.command("tasks")
@include_option
def list_tasks(include_path: tuple[str, ...]) -> None:
    """List the tasks: request kind, few-shot support, whether the data is present, file."""
    from emu2_eval.reporting.listing import task_listing_table

    click.echo(task_listing_table(_task_index(include_path)))


@main.command("models")
def list_models() -> None:
    """List the model adapters: built in, from installed entry points, or from --plugin."""
    from emu2_eval.reporting.listing import model_listing

    click.echo(model_listing())


@main.command("metrics")
def list_metrics() -> None:
    """List the metrics and answer filters: built in, from installed entry points, or --plugin."""
    from emu2_eval.reporting.listing import metric_listing

    click.echo(metric_listing())


@main.command()
@include_option
def validate(include_path: tuple[str, ...]) -> None:
    """Load every task config without a model; report each error with its file."""
    from emu2_eval.tasks.registry import validate_all

    valid, errors = validate_all(_task_index(include_path))
    for error in errors:
        for problem in error.problems:
            click.echo(f"ERROR {error.path}: {problem}", err=True)
    click.echo(f"{len(valid)} task(s) valid, {len(errors)} file(s) with errors")
    if errors:
        raise SystemExit(1)


@main.command()
@with_options(model_options)
@with_options(parallel_options)
@_option(
    "--output",
    "--output_path",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run directory (created; re-running the same command resumes from its cache); "
    "required unless --tasks list.",
)
@click.option(
    "--cache",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Response cache file (default: OUTPUT/cache.sqlite).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the run and of demonstration choice.",
)
@_option(
    "--shots",
    "--num_fewshot",
    "shots",
    type=int,
    default=0,
    show_default=True,
    help="In-context demonstrations per query (tasks with a 'fewshot' pool).",
)
@context_option
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option(
    "--wait",
    "wait_for_lock",
    is_flag=True,
    help="If another run is writing into --output, wait for it to finish (then both runs' "
    "tasks are kept) instead of stopping with an error naming it.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Allow replacing a task's result in --output with one on fewer docs (a smaller "
    "--limit); refused otherwise.",
)
@click.option(
    "--record-absolute-paths",
    is_flag=True,
    help="Record this machine's absolute paths in results.json (default: relative to the run "
    "directory or to {data_root}, {home}, {tasks}...).",
)
@click.option(
    "--predict-only",
    is_flag=True,
    help="Write responses and each task's submission file (submission_<task>.json) without "
    "scoring: for splits without labels (test-dev); tasks marked 'labels: false' always do.",
)
@include_option
def run(
    model: str | None,
    model_args: str,
    device: str | None,
    task_list: str,
    limit: str | None,
    gen_kwargs: str | None,
    batch_size: str,
    max_batch_size: int,
    prefetch_workers: int | None,
    gpus_per_replica: int,
    max_memory: str | None,
    dist_timeout: float,
    output: Path,
    cache: Path | None,
    seed: int,
    shots: int,
    context_policy: str,
    no_progress: bool,
    wait_for_lock: bool,
    overwrite: bool,
    record_absolute_paths: bool,
    predict_only: bool,
    include_path: tuple[str, ...],
) -> None:
    """Run tasks on a model, write the run directory and print the report."""
    from emu2_eval.engine.distributed import DistributedError
    from emu2_eval.engine.evaluate import evaluate
    from emu2_eval.engine.runner import FewShotSettings
    from emu2_eval.tasks.overrides import parse_gen_kwargs

    index = _task_index(include_path)
    if _list_requested(task_list, index):
        return
    model, output = _required(model, "--model"), _required(output, "--output")
    try:
        config = _run_config(
            model, model_args, device, output, index, (limit, batch_size, no_progress),
            _parallel_kwargs(max_batch_size, prefetch_workers, gpus_per_replica, max_memory,
                             dist_timeout),
            tasks=tuple(_selected_tasks(task_list, index)),
            gen_kwargs=parse_gen_kwargs(gen_kwargs),
            overwrite=overwrite,
            absolute_paths=record_absolute_paths,
            predict_only=predict_only,
            cache_path=cache,
            seed=seed,
            fewshot=FewShotSettings(shots=shots, seed=seed, context_policy=context_policy),
            wait_for_lock=wait_for_lock,
        )  # fmt: skip
        results = evaluate(config)
    except (*USER_ERRORS, DistributedError) as exc:
        raise _user_error(exc) from None
    if results is None:  # another process of a data-parallel run: the main one reports
        return
    from emu2_eval.reporting.tables import predict_only_lines, results_table

    scored = {n: b for n, b in results["tasks"].items() if not b.get("predict_only")}
    if scored:
        click.echo(results_table({**results, "tasks": scored}).to_markdown(index=False))
    _echo_task_groups(results, output)
    for line in predict_only_lines(results, output):
        click.echo(line)
    click.echo(f"\nrun directory: {output}")


def _echo_task_groups(results: dict[str, Any], output: Path) -> None:
    """The task groups' rows as the reports wrote them (task_groups.csv), when there are any."""
    path = output / "task_groups.csv"
    if not path.is_file():
        return
    import pandas as pd

    from emu2_eval.reporting.tables import confidence_label, task_groups_markdown

    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    table = table.astype(object).where(table.notna(), None)
    click.echo("\n" + task_groups_markdown(table, confidence_label(results)))


def _list_requested(task_list: str, index: TaskIndex) -> bool:
    """``--tasks list`` (lm-eval's habit): print the tasks and groups instead of running."""
    if task_list.strip() != "list":
        return False
    from emu2_eval.tasks.selection import task_listing

    click.echo(task_listing(index))
    return True


def _required(value: Any, option: str) -> Any:
    if value is None:
        raise click.UsageError(f"Missing option '{option}'.")
    return value


def _model_args(text: str, device: str | None) -> dict[str, Any]:
    """--model-args parsed, with --device as the adapter's ``device`` argument."""
    from emu2_eval.models.base import parse_model_args

    args = parse_model_args(text)
    if device is not None:
        if "device" in args and str(args["device"]) != device:
            raise click.BadParameter(
                f"--device {device} contradicts --model-args device={args['device']}: give one",
                param_hint="--device",
            )
        args["device"] = device
    return args


def _selected_tasks(task_list: str, index: TaskIndex) -> list[str]:
    """--tasks entries (names, 'demo_*' patterns, groups) to task names of ``index``."""
    from emu2_eval.tasks.selection import expand_task_names

    return expand_task_names(_task_names(task_list), index)


@main.command()
@with_options(model_options)
@with_options(parallel_options)
@click.option("--shots", "shots_list", default="0,4,8,16", show_default=True)
@click.option("--seeds", "seed_list", default="0,1,2", show_default=True)
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--reference-model",
    default="Emu2-37B",
    show_default=True,
    help="Paper row to compare with (results/paper/emu2_table1_fewshot.csv).",
)
@context_option
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@include_option
def sweep(
    model: str | None,
    model_args: str,
    device: str | None,
    task_list: str,
    limit: str | None,
    gen_kwargs: str | None,
    batch_size: str,
    max_batch_size: int,
    prefetch_workers: int | None,
    gpus_per_replica: int,
    max_memory: str | None,
    dist_timeout: float,
    shots_list: str,
    seed_list: str,
    output: Path,
    reference_model: str,
    context_policy: str,
    no_progress: bool,
    include_path: tuple[str, ...],
) -> None:
    """Run a (task x shots x seed) grid of resumable cells; mean/std per shots beside the paper."""
    from emu2_eval.engine.distributed import DistributedError
    from emu2_eval.engine.runner import FewShotSettings
    from emu2_eval.engine.sweep import run_sweep
    from emu2_eval.reporting.sweep import write_sweep_report

    index = _task_index(include_path)
    if _list_requested(task_list, index):
        return
    model = _required(model, "--model")
    if gen_kwargs:
        raise click.BadParameter(
            "sweep does not take --gen-kwargs: run each setting with `emu2-eval run`",
            param_hint="--gen-kwargs",
        )
    try:
        config = _run_config(
            model, model_args, device, output, index, (limit, batch_size, no_progress),
            _parallel_kwargs(max_batch_size, prefetch_workers, gpus_per_replica, max_memory,
                             dist_timeout),
            tasks=tuple(_selected_tasks(task_list, index)),
            fewshot=FewShotSettings(context_policy=context_policy),
        )  # fmt: skip
        summary = run_sweep(
            config,
            _ints(shots_list, "--shots"),
            _ints(seed_list, "--seeds"),
            reference_model=reference_model,
        )
        if summary is None:  # another process of a data-parallel run: the main one reports
            return
        write_sweep_report(summary, output, reference_model)
    except (*USER_ERRORS, DistributedError) as exc:
        raise _user_error(exc) from None
    click.echo(summary.to_markdown(index=False))
    click.echo(f"\nsummary: {output / 'sweep_summary.csv'}  plot: {output / 'sweep.png'}")


@main.command()
@click.argument("table")
@with_options([model_options[i] for i in (0, 1, 2, 4, 6)])
@with_options(parallel_options)
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--demo",
    is_flag=True,
    help="Run each paper task's bundled demo stand-in (the recipe's 'demo:'): checks the "
    "pipeline; every row is marked not comparable to the paper.",
)
@click.option(
    "--tasks-map",
    default=None,
    help="Replace paper tasks by other tasks, paper_task=task,...; such rows are marked "
    "not comparable to the paper.",
)
@click.option(
    "--shots",
    "shots_list",
    default=None,
    help="Only these shots of the recipe (e.g. 0,4): a partial reproduction, marked so.",
)
@click.option(
    "--seeds",
    "seeds_list",
    default=None,
    help="Run every cell with these seeds (e.g. 0,1,2) instead of the recipe's; the table "
    "then adds the mean and standard deviation over seeds of each number.",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@include_option
def reproduce(
    table: str,
    model: str | None,
    model_args: str,
    device: str | None,
    limit: str | None,
    batch_size: str,
    max_batch_size: int,
    prefetch_workers: int | None,
    gpus_per_replica: int,
    max_memory: str | None,
    dist_timeout: float,
    output: Path,
    demo: bool,
    tasks_map: str | None,
    shots_list: str | None,
    seeds_list: str | None,
    no_progress: bool,
    include_path: tuple[str, ...],
) -> None:
    """Reproduce one paper table (table1..table5) from its recipe under results/paper/recipes/:
    resumable cells, then the measured-versus-paper table (reproduce_TABLE.csv/.md)."""
    from emu2_eval.engine.distributed import DistributedError
    from emu2_eval.engine.reproduce import load_recipe, parse_tasks_map, plan, run_reproduction
    from emu2_eval.reporting.reproduction import write_reproduction

    index = _task_index(include_path)
    try:
        the_plan = plan(
            load_recipe(table),
            demo=demo,
            tasks_map=parse_tasks_map(tasks_map),
            shots=_ints(shots_list, "--shots") if shots_list else None,
            seeds=_ints(seeds_list, "--seeds") if seeds_list else None,
            index=index,
        )
        model = _required(model, "--model")
        config = _run_config(
            model, model_args, device, output, index, (limit, batch_size, no_progress),
            _parallel_kwargs(max_batch_size, prefetch_workers, gpus_per_replica, max_memory,
                             dist_timeout),
        )  # fmt: skip
        cells = run_reproduction(the_plan, config)
        if cells is None:  # another process of a data-parallel run
            return
        write_reproduction(the_plan, cells, output, config.limit)
    except (*USER_ERRORS, DistributedError) as exc:
        raise _user_error(exc) from None
    click.echo((output / f"reproduce_{table}.md").read_text(encoding="utf-8"))
    click.echo(f"table: {output / f'reproduce_{table}.csv'}  record: {output / 'reproduce.json'}")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def score(run_dir: Path) -> None:
    """Re-score a run directory from its raw responses (no model needed)."""
    from emu2_eval.engine.evaluate import rescore
    from emu2_eval.reporting.tables import results_table

    try:
        results = rescore(run_dir, _task_index())
    except USER_ERRORS as exc:
        raise _user_error(exc) from None
    click.echo(results_table(results).to_markdown(index=False))


# -- statistics, comparison, regression gate and reports (issue 8) -----------------------------


if TYPE_CHECKING:
    from emu2_eval.engine.run_config import RunConfig
    from emu2_eval.scoring.stats.settings import BootstrapSettings
    from emu2_eval.tasks.locations import TaskIndex


class _Refused(click.ClickException):
    """A comparison that must not be made (e.g. other documents): exit status 2, not 1."""

    exit_code = 2


def bootstrap_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--resamples/--bootstrap-seed/--confidence; None means the default (or recorded) value."""
    function = click.option(
        "--confidence",
        type=float,
        default=None,
        help="Confidence level of the intervals [default: 0.95].",
    )(function)
    function = click.option(
        "--bootstrap-seed", type=int, default=None, help="Seed of the resampling [default: 0]."
    )(function)
    return click.option(
        "--resamples",
        type=int,
        default=None,
        help="Bootstrap resamples of the documents [default: 1000].",
    )(function)


def _bootstrap_settings(
    resamples: int | None,
    seed: int | None,
    confidence: float | None,
    recorded: dict[str, Any] | None = None,
) -> BootstrapSettings:
    """Settings from the options; unset ones from ``recorded`` (earlier intervals) or defaults."""
    from emu2_eval.scoring.stats.settings import BootstrapSettings

    recorded = recorded or {}
    try:
        return BootstrapSettings(
            resamples=resamples if resamples is not None else recorded.get("resamples", 1000),
            seed=seed if seed is not None else recorded.get("seed", 0),
            confidence=confidence if confidence is not None else recorded.get("confidence", 0.95),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@bootstrap_options
@click.option(
    "--max-flips",
    type=int,
    default=20,
    show_default=True,
    help="Changed samples listed per task and metric.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the metric differences as CSV.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the whole comparison as JSON.",
)
def compare(
    runs: tuple[Path, ...],
    resamples: int | None,
    bootstrap_seed: int | None,
    confidence: float | None,
    max_flips: int,
    csv_path: Path | None,
    json_path: Path | None,
) -> None:
    """Compare RUN_B (and further runs) with RUN_A: settings, paired differences, changed samples.

    Differences are B - A on the documents both runs scored, with a paired bootstrap interval
    (the same resampled document ids for both runs) and a two-sided bootstrap p-value.
    """
    import pandas as pd

    from emu2_eval.analysis.compare import compare_runs
    from emu2_eval.rundir.read import load_run

    if len(runs) < 2:
        raise click.UsageError("give at least two run directories: RUN_A RUN_B [RUN_C ...]")
    settings = _bootstrap_settings(resamples, bootstrap_seed, confidence)
    try:
        first = load_run(runs[0])
        comparisons = [
            compare_runs(first, load_run(other), settings, max_flips) for other in runs[1:]
        ]
    except (*USER_ERRORS, LookupError) as exc:
        raise _user_error(exc) from None
    click.echo("\n".join(c.to_markdown() for c in comparisons))
    if csv_path is not None:
        frames = [c.metrics_frame().assign(run_a=c.run_a, run_b=c.run_b) for c in comparisons]
        _write_or_fail(lambda: write_csv_atomic(csv_path, pd.concat(frames, ignore_index=True)))
    if json_path is not None:
        import json

        payload = [c.to_json() for c in comparisons]
        text = json.dumps(payload[0] if len(payload) == 1 else payload, indent=2, default=str)
        _write_or_fail(lambda: write_text_atomic(json_path, text + "\n"))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Baseline file to write, e.g. results/baselines/NAME.json.",
)
@click.option(
    "--floor",
    type=float,
    default=1.0,
    show_default=True,
    help="Smallest tolerance, in metric units (tolerance = max(CI half-width, floor)).",
)
@bootstrap_options
def baseline(
    run_dir: Path,
    output: Path,
    floor: float,
    resamples: int | None,
    bootstrap_seed: int | None,
    confidence: float | None,
) -> None:
    """Write a score baseline of a run: values, intervals, tolerances, documents, fingerprints."""
    import json

    from emu2_eval.analysis.gate import make_baseline
    from emu2_eval.rundir.read import load_run

    settings = _bootstrap_settings(resamples, bootstrap_seed, confidence)
    try:
        data = make_baseline(load_run(run_dir), settings, floor)
    except (*USER_ERRORS, LookupError) as exc:
        raise _user_error(exc) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    _write_or_fail(
        lambda: write_text_atomic(output, json.dumps(data, indent=2, default=str) + "\n")
    )
    n = sum(len(t["metrics"]) for t in data["tasks"].values())
    click.echo(f"baseline of {len(data['tasks'])} task(s), {n} metric(s) written to {output}")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Baseline file written by `emu2-eval baseline`.",
)
def check(run_dir: Path, baseline_path: Path) -> None:
    """Fail (exit 1) when a metric is worse than baseline - tolerance, or is missing.

    Exit 2 when the run is not on the baseline's documents (other --limit, ids or dataset).
    """
    from emu2_eval.analysis.gate import (
        BaselineMismatchError,
        check_markdown,
        check_run,
        read_baseline,
        verify_same_documents,
    )
    from emu2_eval.rundir.read import load_run

    try:
        run = load_run(run_dir)
        expected = read_baseline(baseline_path)
        warnings = verify_same_documents(run, expected, baseline_path)
        rows = check_run(run, expected)
    except BaselineMismatchError as exc:
        raise _Refused(str(exc)) from None
    except USER_ERRORS as exc:
        raise _Refused(str(exc)) from None
    click.echo(check_markdown(rows, warnings))
    if any(row.status != "PASS" for row in rows):
        raise SystemExit(1)


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file [default: RUN_DIR/report.html].",
)
@click.option(
    "--paper-model",
    default=None,
    help="Paper row to compare with, e.g. Emu2-37B (Table 1), Emu2-Chat, Emu2-Gen.",
)
@bootstrap_options
@click.option(
    "--max-failures",
    type=int,
    default=200,
    show_default=True,
    help="Failed samples shown per task in the HTML browser.",
)
@click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also log the metrics to this TensorBoard log directory (needs tensorboard).",
)
@click.option(
    "--wandb-project",
    default=None,
    help="Also log the metrics to this Weights & Biases project (needs wandb).",
)
def report(
    run_dir: Path,
    output: Path | None,
    paper_model: str | None,
    resamples: int | None,
    bootstrap_seed: int | None,
    confidence: float | None,
    max_failures: int,
    tensorboard: Path | None,
    wandb_project: str | None,
) -> None:
    """Write the reports of a run (Markdown, CSV, LaTeX, self-contained HTML) or of a sweep.

    Intervals are recomputed (and results.json updated) when bootstrap options are given or
    a task has none; otherwise the recorded ones are used.
    """
    from emu2_eval.reporting.html import sweep_html_report
    from emu2_eval.reporting.loggers import TrackerUnavailableError, log_tensorboard, log_wandb
    from emu2_eval.reporting.tables import markdown_report
    from emu2_eval.reporting.write import write_reports
    from emu2_eval.rundir.lock import run_dir_lock

    try:
        if not (run_dir / "results.json").is_file() and (run_dir / "sweep_summary.csv").is_file():
            target = output or run_dir / "report.html"
            write_text_atomic(target, sweep_html_report(run_dir, paper_model))
            click.echo(f"sweep report: {target}")
            return
        with run_dir_lock(run_dir):  # no run may rewrite results.json meanwhile
            results = _refresh_intervals(run_dir, resamples, bootstrap_seed, confidence)
            write_reports(results, run_dir, paper_model=paper_model, max_failures=max_failures)
        target = output or run_dir / "report.html"
        if target.resolve() != (run_dir / "report.html").resolve():
            write_bytes_atomic(target, (run_dir / "report.html").read_bytes())
        if tensorboard is not None:
            log_tensorboard(results, tensorboard)
        if wandb_project is not None:
            log_wandb(results, wandb_project, name=run_dir.name)
    except (*USER_ERRORS, LookupError, TrackerUnavailableError) as exc:
        raise _user_error(exc) from None
    click.echo(markdown_report(results, paper_model))
    click.echo(f"HTML report: {target}")


def _refresh_intervals(
    run_dir: Path, resamples: int | None, seed: int | None, confidence: float | None
) -> dict[str, Any]:
    """results.json of the run, with intervals recomputed when asked for or missing."""
    from emu2_eval.rundir.read import load_run
    from emu2_eval.rundir.schema import write_run_results
    from emu2_eval.scoring.stats.intervals import task_intervals

    run = load_run(run_dir, verify=True)  # a damaged samples file is refused before any write
    asked = any(v is not None for v in (resamples, seed, confidence))
    missing = [t for t, b in run.tasks.items() if b.get("metrics") and not b.get("intervals")]
    if not asked and not missing:
        return run.results
    for task, block in run.tasks.items():
        recorded = next(iter(block.get("intervals", {}).values()), {})
        settings = _bootstrap_settings(resamples, seed, confidence, recorded)
        block["intervals"] = task_intervals(
            block.get("metric_options", {}), block.get("metrics", {}), run.samples(task), settings
        )
    return write_run_results(run_dir, run.results)


def _add_judge_command() -> None:
    """``emu2-eval judge`` (MM-Vet/TouchStone submission files, opt-in GPT judge)."""
    from emu2_eval.judge.command import judge

    main.add_command(judge)


_add_judge_command()

if __name__ == "__main__":
    main()
