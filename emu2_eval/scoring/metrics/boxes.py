"""Boxes in model answers: parse Emu2's grounding output, scale it to pixels, and IoU.

Emu2-Chat answers a ``<grounding>`` request with the box as text, ``[x1, y1, x2, y2]``, wrapped
in its special tokens (``<phrase>...</phrase><object>[x1, y1, x2, y2]</object>``, several
objects separated by ``</delimiter_of_multi_objects/>``), with integer coordinates from 0 to 224
(the Emu2 README: "Our grounding coordinates range from 0 to 224"; maintainers in
baaivision/Emu#66: "The output coordinates are in the format of [x1, y1, x2, y2]"). The model
sees the picture resized to a square without keeping its aspect ratio, so x scales with the
image width and y with its height.

Which box counts, how coordinates map to pixels and how IoU treats pixel edges are choices the
paper does not publish: each is a named convention (:data:`BOX_FORMATS`, :data:`IOU_MODES`),
recorded with the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = r"-?\d+(?:\.\d+)?"
BOX = re.compile(rf"\[\s*({NUMBER})\s*,\s*({NUMBER})\s*,\s*({NUMBER})\s*,\s*({NUMBER})\s*\]")
OBJECT = re.compile(r"<object>(.*?)</object>", re.DOTALL)


@dataclass(frozen=True)
class BoxFormat:
    """How an answer's four numbers map to pixel ``(x1, y1, x2, y2)`` of the original image."""

    name: str
    scale: float | None  # coordinate of the right/bottom image edge; None: already pixels
    description: str

    def to_pixels(self, box: tuple[float, ...], width: float, height: float) -> tuple[float, ...]:
        if self.scale is None:
            return tuple(box)
        x1, y1, x2, y2 = box
        sx, sy = width / self.scale, height / self.scale
        return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


BOX_FORMATS: dict[str, BoxFormat] = {
    "emu2_224": BoxFormat(
        "emu2_224",
        224.0,
        "xyxy on a 0..224 grid spanning the whole image (Emu2 README); pixel x = x * W / 224, "
        "y = y * H / 224, continuous coordinates",
    ),
    "pixels": BoxFormat("pixels", None, "xyxy in pixels of the original image"),
}

# continuous: area (x2 - x1) * (y2 - y1) (torchvision box_iou, the REC evaluations of Shikra
# and Qwen-VL); inclusive_pixels: x2, y2 are the last pixel inside, area (x2 - x1 + 1) * ...
IOU_MODES = ("continuous", "inclusive_pixels")


def parse_box(answer: str) -> tuple[float, float, float, float] | None:
    """The first ``[x1, y1, x2, y2]`` of the answer, preferring one inside ``<object>...``
    (None when the answer holds no four-number box)."""
    for inside in OBJECT.findall(answer):
        match = BOX.search(inside)
        if match:
            return tuple(float(v) for v in match.groups())  # type: ignore[return-value]
    match = BOX.search(answer)
    return tuple(float(v) for v in match.groups()) if match else None  # type: ignore[return-value]


def coco_to_xyxy(bbox: list[float] | tuple[float, ...]) -> tuple[float, float, float, float]:
    """COCO ``[x, y, width, height]`` -> ``(x1, y1, x2, y2)``."""
    x, y, w, h = bbox
    return (x, y, x + w, y + h)


def iou(a: tuple[float, ...], b: tuple[float, ...], mode: str = "continuous") -> float:
    """Intersection over union of two xyxy boxes; 0 when the union is empty.

    A box whose x2 < x1 or y2 < y1 has no area (it is not reordered: a model that writes its
    corners the wrong way round is wrong).
    """
    if mode not in IOU_MODES:
        raise ValueError(f"unknown IoU mode {mode!r}; valid: {', '.join(IOU_MODES)}")
    one = 1.0 if mode == "inclusive_pixels" else 0.0

    def area(box: tuple[float, ...]) -> float:
        return max(0.0, box[2] - box[0] + one) * max(0.0, box[3] - box[1] + one)

    inter_w = min(a[2], b[2]) - max(a[0], b[0]) + one
    inter_h = min(a[3], b[3]) - max(a[1], b[1]) + one
    valid = all(box[2] - box[0] + one > 0 and box[3] - box[1] + one > 0 for box in (a, b))
    inter = max(0.0, inter_w) * max(0.0, inter_h) if valid else 0.0
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0
