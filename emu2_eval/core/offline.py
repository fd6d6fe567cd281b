"""Offline by default: the hub libraries must not reach the network unless the user asks.

Evaluation results must not depend on what a hub serves today, and runs on clusters often have no
network; the ``--online`` flag lifts this. Variables the user set explicitly are respected.
"""

from __future__ import annotations

import os

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def go_offline() -> None:
    """Tell huggingface_hub, datasets and transformers not to use the network."""
    for name in OFFLINE_VARIABLES:
        os.environ.setdefault(name, "1")
