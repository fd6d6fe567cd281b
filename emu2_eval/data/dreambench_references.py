"""Which real image of each DreamBench subject is the reference (conditioning and metric image).

The Emu2 paper (Table 5) uses "exactly the same image for each object as chosen in Kosmos-G".
Kosmos-G publishes its choice as the list of files its clean-up script keeps, one per subject
(microsoft/unilm, ``kosmos-g/scripts/remove_dreambench_multiimg.sh``). The facts of that list
(subject -> kept image stem) are recorded below as data; the script itself is not used.

Named rules a task may give as ``reference_image``:

- ``kosmos_g``: the per-subject map below (the paper's protocol; the default of the paper task);
- ``first``: the first image of the subject folder by file name (``00.jpg``);
- a per-subject map ``{subject: stem}`` (``"02"`` or ``"02.jpg"``) for another published choice;
- an index or a file name, the same for every subject.

DreamBooth's own convention (every generated image against every real image of the subject)
does not pick a reference: it is the ``*_all_pairs`` metric keys (``pairs: all_pairs|both``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KOSMOS_G_RULE = "kosmos_g"
FIRST_RULE = "first"
ALL_PAIRS_CONVENTION = "all_pairs (DreamBooth: every generated x every real image, averaged)"

#: Where the ``kosmos_g`` map comes from (the last commit of microsoft/unilm holding the file).
KOSMOS_G_SOURCE = (
    "microsoft/unilm kosmos-g/scripts/remove_dreambench_multiimg.sh "
    "(commit cb4748212b6f20f3463ec79add05a44833247979): the one file kept per subject"
)

#: subject -> stem of the image Kosmos-G keeps (30 subjects; 4 of them are ``00``).
KOSMOS_G_REFERENCES: dict[str, str] = {
    "backpack": "02",
    "backpack_dog": "02",
    "bear_plushie": "03",
    "berry_bowl": "02",
    "can": "01",
    "candle": "02",
    "cat": "04",
    "cat2": "02",
    "clock": "03",
    "colorful_sneaker": "01",
    "dog": "02",
    "dog2": "02",
    "dog3": "05",
    "dog5": "00",
    "dog6": "02",
    "dog7": "01",
    "dog8": "04",
    "duck_toy": "01",
    "fancy_boot": "02",
    "grey_sloth_plushie": "04",
    "monster_toy": "04",
    "pink_sunglasses": "04",
    "poop_emoji": "00",
    "rc_car": "03",
    "red_cartoon": "00",
    "robot_toy": "00",
    "shiny_sneaker": "01",
    "teapot": "04",
    "vase": "02",
    "wolf_plushie": "04",
}


def named_map(rule: Any) -> dict[str, str] | None:
    """The per-subject map a rule stands for (``kosmos_g`` or an explicit map), else None."""
    if rule == KOSMOS_G_RULE:
        return dict(KOSMOS_G_REFERENCES)
    if isinstance(rule, Mapping):
        return {str(k): v for k, v in rule.items()}
    return None


def describe_rule(rule: Any, chosen: Mapping[str, str]) -> dict[str, Any]:
    """What results.json records about the reference images of a DreamBench run."""
    if rule == KOSMOS_G_RULE:
        name, source = KOSMOS_G_RULE, KOSMOS_G_SOURCE
    elif isinstance(rule, Mapping):
        name, source = "per_subject_map", "the task's reference_image map"
    elif rule == FIRST_RULE:
        name, source = FIRST_RULE, "first image of each subject folder by file name"
    else:
        name, source = f"same for every subject: {rule!r}", "the task's reference_image"
    return {
        "reference_image": name,
        "source": source,
        "images": dict(chosen),
        "all_pairs_metrics": ALL_PAIRS_CONVENTION,
    }
