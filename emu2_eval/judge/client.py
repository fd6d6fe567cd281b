"""A judge on any OpenAI-compatible chat completions endpoint.

Requests are ``POST {base_url}/chat/completions`` with a JSON body (model, messages, options).

The endpoint, the model and the name of the environment variable holding the API key are
explicit settings (:class:`JudgeSettings`): there is no default endpoint, so a judge is never
called unless the user names one, and the settings (never the key) are recorded with the scores.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from emu2_eval.core.errors import UserError


class JudgeError(UserError, RuntimeError):
    """The judge endpoint could not be reached or answered something unusable."""


@dataclass(frozen=True)
class JudgeSettings:
    """Where and what to ask. ``api_key_env``: the variable's name (None: no key sent)."""

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise JudgeError(
                f"--judge-base-url {self.base_url!r} must start with http:// or https:// "
                "(e.g. https://api.openai.com/v1 or http://localhost:8000/v1)"
            )
        if not self.model:
            raise JudgeError("--judge-model is required with --judge-base-url")

    def record(self) -> dict[str, Any]:
        """What results record: endpoint, model and the key's variable name, never the key."""
        return {"base_url": self.base_url, "model": self.model, "api_key_env": self.api_key_env}

    def api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise JudgeError(
                f"--judge-api-key-env {self.api_key_env}: the variable is not set; export it "
                "or leave the option out for an endpoint without a key"
            )
        return key


@dataclass(frozen=True)
class Reply:
    """The judge's text and the model name the endpoint says answered."""

    content: str
    model: str


class ChatJudge:
    """Sends chat completions requests; one request per call, no retries on HTTP errors."""

    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings
        self._key = settings.api_key()

    def complete(self, messages: list[dict[str, str]], **options: Any) -> Reply:
        """``options``: temperature, max_tokens, stop..., passed as the request's fields."""
        body = json.dumps({"model": self.settings.model, "messages": messages, **options})
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        url = self.settings.base_url.rstrip("/") + "/chat/completions"
        request = urllib.request.Request(url, body.encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise JudgeError(f"judge {url} answered HTTP {exc.code}: {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise JudgeError(f"judge {url} unreachable: {exc}") from None
        except json.JSONDecodeError:
            raise JudgeError(f"judge {url} answered something that is not JSON") from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"judge {url}: no choices[0].message.content in the reply") from None
        return Reply(content=str(content or ""), model=str(payload.get("model", "")))
