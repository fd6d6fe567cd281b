"""A local directory, or else a Hugging Face hub id fetched into the local cache: one resolver.

Each adapter gives its own fetch (a snapshot with its file patterns, or diffusers' download),
what a directory of it is called and what error type its callers expect.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def local_or_hub(
    path_or_hub_id: str | Path,
    fetch: Callable[[str], str | Path],
    local_kind: str,
    hub_kind: str,
    error: type[Exception] = FileNotFoundError,
    hint: str = "",
) -> Path:
    """``path_or_hub_id`` when it is a directory; a path-like name that is not one is refused
    (never sent to the hub); otherwise ``fetch(hub id)``, whose failure is named.

    ``local_kind``/``hub_kind`` finish the two messages ("... is not a {local_kind}",
    "... is neither a local directory nor {hub_kind} (...){hint}")."""
    local = Path(path_or_hub_id).expanduser()
    if local.is_dir():
        return local
    if local.exists() or str(path_or_hub_id).startswith((".", "/", "~")):
        raise error(f"{path_or_hub_id} is not a {local_kind}")
    try:
        return Path(fetch(str(path_or_hub_id)))
    except Exception as exc:
        raise error(
            f"{path_or_hub_id!r} is neither a local directory nor {hub_kind} "
            f"({type(exc).__name__}: {exc}){hint}"
        ) from None


def snapshot_fetch(revision: str | None, patterns: list[str]) -> Callable[[str], str]:
    """``huggingface_hub.snapshot_download`` of the files matching ``patterns``."""

    def fetch(hub_id: str) -> str:
        from huggingface_hub import snapshot_download

        return snapshot_download(hub_id, revision=revision, allow_patterns=patterns)

    return fetch
