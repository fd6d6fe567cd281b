"""The ``emu2-eval`` command line."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from emu2_eval.registry import MODELS, UnknownNameError

USER_ERRORS = (UnknownNameError, ValueError, FileNotFoundError)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


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


def _include(paths: tuple[str, ...]) -> None:
    from emu2_eval.tasks.locations import add_task_dir

    for path in paths:
        add_task_dir(path)


include_option = click.option(
    "--include-path",
    multiple=True,
    type=click.Path(file_okay=False),
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
    click.option("--model", required=True, help="Registered model adapter (`emu2-eval models`)."),
    click.option("--model-args", default="", help="Adapter arguments as k=v,k2=v2."),
    click.option("--tasks", "task_list", required=True, help="Comma-separated task names."),
    click.option("--limit", type=int, default=None, help="Only the first N docs of each task."),
    click.option("--batch-size", type=int, default=1, show_default=True),
]


def with_options(options):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@click.group()
@click.version_option(package_name="emu2_eval")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.option(
    "--online",
    is_flag=True,
    help="Allow Hugging Face hub downloads (offline by default: nothing reaches the "
    "network unless asked).",
)
def main(verbose: bool, online: bool) -> None:
    """Evaluate Emu2 and other multimodal models on VQA, captioning and generation tasks."""
    if not online:
        from emu2_eval.offline import go_offline

        go_offline()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@main.command("tasks")
@include_option
def list_tasks(include_path: tuple[str, ...]) -> None:
    """List the registered tasks and their files."""
    from emu2_eval.tasks.registry import task_index

    _include(include_path)
    for name, path in sorted(task_index().items()):
        click.echo(f"{name:32s} {path}")


@main.command("models")
def list_models() -> None:
    """List the registered model adapters."""
    for name in MODELS.names():
        click.echo(name)


@main.command()
@include_option
def validate(include_path: tuple[str, ...]) -> None:
    """Load every task config without a model; report each error with its file."""
    from emu2_eval.tasks.registry import validate_all

    _include(include_path)
    valid, errors = validate_all()
    for error in errors:
        for problem in error.problems:
            click.echo(f"ERROR {error.path}: {problem}", err=True)
    click.echo(f"{len(valid)} task(s) valid, {len(errors)} file(s) with errors")
    if errors:
        raise SystemExit(1)


@main.command()
@with_options(model_options)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Run directory (created; re-running the same command resumes from its cache).",
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
@click.option(
    "--shots",
    type=int,
    default=0,
    show_default=True,
    help="In-context demonstrations per query (tasks with a 'fewshot' pool).",
)
@context_option
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@include_option
def run(
    model: str,
    model_args: str,
    task_list: str,
    limit: int | None,
    batch_size: int,
    output: Path,
    cache: Path | None,
    seed: int,
    shots: int,
    context_policy: str,
    no_progress: bool,
    include_path: tuple[str, ...],
) -> None:
    """Run tasks on a model, write the run directory and print the report."""
    from emu2_eval.engine.evaluate import evaluate
    from emu2_eval.engine.runner import FewShotSettings
    from emu2_eval.models.base import parse_model_args
    from emu2_eval.reports import results_table

    _include(include_path)
    try:
        results = evaluate(
            model=model,
            model_args=parse_model_args(model_args),
            task_names=_split(task_list),
            output=output,
            limit=limit,
            batch_size=batch_size,
            cache_path=cache,
            seed=seed,
            progress=not no_progress,
            fewshot=FewShotSettings(shots=shots, seed=seed, context_policy=context_policy),
        )
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(results_table(results).to_markdown(index=False))
    click.echo(f"\nrun directory: {output}")


@main.command()
@with_options(model_options)
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
    model: str,
    model_args: str,
    task_list: str,
    limit: int | None,
    batch_size: int,
    shots_list: str,
    seed_list: str,
    output: Path,
    reference_model: str,
    context_policy: str,
    no_progress: bool,
    include_path: tuple[str, ...],
) -> None:
    """Run a (task x shots x seed) grid of resumable cells; mean/std per shots beside the paper."""
    from emu2_eval.engine.sweep import run_sweep
    from emu2_eval.models.base import parse_model_args

    _include(include_path)
    try:
        summary = run_sweep(
            model,
            parse_model_args(model_args),
            _split(task_list),
            _ints(shots_list, "--shots"),
            _ints(seed_list, "--seeds"),
            output,
            limit=limit,
            batch_size=batch_size,
            context_policy=context_policy,
            reference_model=reference_model,
            progress=not no_progress,
        )
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.to_markdown(index=False))
    click.echo(f"\nsummary: {output / 'sweep_summary.csv'}  plot: {output / 'sweep.png'}")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def score(run_dir: Path) -> None:
    """Re-score a run directory from its raw responses (no model needed)."""
    from emu2_eval.engine.evaluate import rescore
    from emu2_eval.reports import results_table

    try:
        results = rescore(run_dir)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(results_table(results).to_markdown(index=False))


if __name__ == "__main__":
    main()
