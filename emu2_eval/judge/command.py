"""``emu2-eval judge``: submission file of a GPT-judged task, and its grading when asked."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("judge")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--task", required=True, help="A task of the run with the gpt_judge metric.")
@click.option(
    "--judge-base-url",
    default=None,
    help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 (none: submission only).",
)
@click.option("--judge-model", default=None, help="Judge model name (MM-Vet used gpt-4-0613).")
@click.option(
    "--judge-api-key-env",
    default=None,
    help="Name of the environment variable holding the API key (none: no key sent).",
)
def judge(
    run_dir: Path,
    task: str,
    judge_base_url: str | None,
    judge_model: str | None,
    judge_api_key_env: str | None,
) -> None:
    """Write RUN_DIR's official submission file for TASK; grade it only with --judge-base-url."""
    from emu2_eval.judge.client import JudgeError, JudgeSettings
    from emu2_eval.judge.finish import finish

    settings = None
    if judge_base_url is not None:
        settings = JudgeSettings(judge_base_url, judge_model or "", judge_api_key_env)
    elif judge_model or judge_api_key_env:
        raise JudgeError("--judge-model/--judge-api-key-env need --judge-base-url")
    out = finish(run_dir, task, settings)
    click.echo(f"submission: {out['submission']}")
    for key, value in (out.get("scores") or {}).items():
        click.echo(f"{key}: {value:.2f}")
    if "judge_file" in out:
        click.echo(f"judge replies and settings: {out['judge_file']}")
