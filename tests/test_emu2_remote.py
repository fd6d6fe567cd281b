"""``emu2-remote``: refuses to run outside the pinned stack, with the exact pip command."""

from __future__ import annotations

import pytest

from emu2_eval.models.emu2.remote import (
    REQUIRED_VERSIONS,
    Emu2RemoteAdapter,
    Emu2RemoteEnvironmentError,
    check_remote_environment,
)


def test_pinned_versions_pass() -> None:
    versions = {"transformers": "4.31.0", "tokenizers": "0.13.3"}
    assert check_remote_environment(versions.get) == versions
    assert versions == REQUIRED_VERSIONS


@pytest.mark.parametrize(
    ("installed", "reported"),
    [
        (
            {"transformers": "5.23.0", "tokenizers": "0.23.3"},
            "transformers 5.23.0, tokenizers 0.23.3",
        ),
        ({"transformers": "4.31.0", "tokenizers": None}, "tokenizers not installed"),
        ({"transformers": "4.31.1", "tokenizers": "0.13.3"}, "transformers 4.31.1"),
    ],
)
def test_other_versions_are_refused_with_the_pip_command(installed, reported) -> None:
    with pytest.raises(Emu2RemoteEnvironmentError) as info:
        check_remote_environment(installed.get)
    message = str(info.value)
    assert reported in message
    assert "pip install transformers==4.31.0 tokenizers==0.13.3" in message
    assert "'emu2'" in message  # points to the native adapter


def test_adapter_checks_before_loading_anything() -> None:
    """On this environment (transformers 5) the adapter stops before touching the checkpoint."""
    from importlib.metadata import version

    if version("transformers") == "4.31.0":
        pytest.skip("the pinned stack is installed here")
    with pytest.raises(Emu2RemoteEnvironmentError, match="pip install"):
        Emu2RemoteAdapter(pretrained="BAAI/Emu2", trust_remote_code=True)


def test_remote_code_runs_only_when_the_user_allows_it() -> None:
    with pytest.raises(ValueError, match="trust_remote_code=true"):
        Emu2RemoteAdapter(pretrained="BAAI/Emu2")
