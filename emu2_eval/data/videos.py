"""Video parts for loaders: a named file or frame directory under a root, sampled once.

Shared by the MSVD-QA / MSRVTT-QA and SEED-Bench loaders. The frame sampling is fixed here, at
load time (it needs the frame count), so it is in each doc, each request (the cache key) and
each sample record; the choice is also returned for results.json's ``dataset.protocol``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from emu2_eval.core.prompts import VideoPart
from emu2_eval.core.video_frames import DEFAULT_FRAMES, SAMPLING_RULES, VideoLoadError
from emu2_eval.data.docs import DataFormatError


class VideoParts:
    """Makes (and reuses, per path) the video parts of one split."""

    def __init__(
        self, root: str | Path, annotations: str | Path, frames: int = DEFAULT_FRAMES,
        sampling: str = "segment_center",
    ) -> None:  # fmt: skip
        if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
            raise DataFormatError(annotations, f"frames must be an integer >= 1, got {frames!r}")
        if sampling not in SAMPLING_RULES:
            raise DataFormatError(
                annotations,
                f"unknown frame sampling {sampling!r}; valid: {', '.join(SAMPLING_RULES)}",
            )
        self.root = Path(root)
        self.annotations = annotations
        self.frames = frames
        self.sampling = sampling
        self._made: dict[str, VideoPart] = {}

    def get(self, relative: str, record: str | int) -> VideoPart:
        """The video ``relative`` to the root (a file or a directory of frames), sampled."""
        normalized = os.path.normpath(relative) if isinstance(relative, str) and relative else ""
        if not normalized or os.path.isabs(normalized) or normalized.startswith(".."):
            raise DataFormatError(
                self.annotations, f"video path {relative!r} escapes the video root", record
            )
        if normalized not in self._made:
            try:
                self._made[normalized] = VideoPart.from_path(
                    self.root / normalized, key=normalized, frames=self.frames, rule=self.sampling
                )
            except VideoLoadError as exc:
                raise DataFormatError(self.annotations, str(exc), record) from None
        return self._made[normalized]

    def protocol(self) -> dict[str, Any]:
        return {"frames": self.frames, "frame_sampling": self.sampling}
