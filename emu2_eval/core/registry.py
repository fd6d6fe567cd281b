"""Lazy name -> object registries.

Entries are ``"module:attribute"`` strings imported on first use, so listing tasks or importing
the CLI never imports torch models. YAML configs refer to hooks only by these registered names:
no arbitrary imports from configuration files.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from typing import Any

from emu2_eval.core.errors import UserError


class UnknownNameError(UserError, KeyError):
    """A name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry:
    """A mapping from names to lazily imported objects of one kind."""

    def __init__(self, kind: str, entries: dict[str, str] | None = None) -> None:
        self.kind = kind
        self._targets: dict[str, str] = dict(entries or {})
        self._loaded: dict[str, Any] = {}

    def register(self, name: str, target: str | Any) -> None:
        """Register ``target`` ("module:attr" or an object) under ``name``."""
        if name in self._targets or name in self._loaded:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if isinstance(target, str):
            self._targets[name] = target
        else:
            self._loaded[name] = target

    def target(self, name: str) -> str:
        """Where ``name`` comes from, without importing it: ``module:attr``."""
        if name in self._targets:
            return self._targets[name]
        obj = self._loaded[name]
        qualname = getattr(obj, "__qualname__", type(obj).__name__)
        return f"{getattr(obj, '__module__', '?')}:{qualname}"

    def names(self) -> list[str]:
        return sorted(set(self._targets) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self._targets or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Any:
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._targets:
            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{hint}; valid {self.kind}s: {', '.join(self.names())}"
            )
        module_name, _, attr = self._targets[name].partition(":")
        obj = getattr(importlib.import_module(module_name), attr)
        self._loaded[name] = obj
        return obj


MODELS = Registry(
    "model",
    {
        "emu2": "emu2_eval.models.emu2.adapter:Emu2Adapter",
        "emu2-remote": "emu2_eval.models.emu2.remote:Emu2RemoteAdapter",
        "hf-vlm": "emu2_eval.models.hf_vlm:HFVisionLanguageAdapter",
        "tiny-vlm": "emu2_eval.models.tiny_vlm:TinyVLMAdapter",
        "tiny-t2i": "emu2_eval.models.tiny_gen:TinyT2IAdapter",
        "emu2-gen": "emu2_eval.models.emu2_gen.adapter:Emu2GenAdapter",
        "diffusers-t2i": "emu2_eval.models.diffusers_t2i:DiffusersT2IAdapter",
    },
)

FILTERS = Registry(
    "filter",
    {
        "short_answer": "emu2_eval.scoring.filters:short_answer",
        "openflamingo_vqa": "emu2_eval.scoring.filters:openflamingo_vqa",
        "openflamingo_caption": "emu2_eval.scoring.filters:openflamingo_caption",
        "first_line": "emu2_eval.scoring.filters:first_line",
        "strip": "emu2_eval.scoring.filters:strip",
        "lowercase": "emu2_eval.scoring.filters:lowercase",
    },
)

METRICS = Registry(
    "metric",
    {
        "vqa_accuracy": "emu2_eval.scoring.metrics.task_metrics:VQAAccuracyMetric",
        "caption_metrics": "emu2_eval.scoring.metrics.task_metrics:CaptionMetric",
        "roc_auc": "emu2_eval.scoring.metrics.roc_auc:RocAucMetric",
        "clip_t": "emu2_eval.scoring.metrics.image_similarity:CLIPTextMetric",
        "clip_i": "emu2_eval.scoring.metrics.image_similarity:CLIPImageMetric",
        "dino": "emu2_eval.scoring.metrics.image_similarity:DINOMetric",
        "fid": "emu2_eval.scoring.metrics.fid:FIDMetric",
        "iou_accuracy": "emu2_eval.scoring.metrics.grounding:GroundingAccuracyMetric",
        "exact_match": "emu2_eval.scoring.metrics.exact_match:ExactMatchMetric",
        "mmmu_accuracy": "emu2_eval.scoring.metrics.mmmu:MMMUAccuracyMetric",
        "gpt_judge": "emu2_eval.judge.metric:GPTJudgeMetric",
        "seed_accuracy": "emu2_eval.scoring.metrics.multiple_choice:SeedAccuracyMetric",
    },
)

DATA_LOADERS = Registry(
    "data loader",
    {
        "vqa_official": "emu2_eval.data.vqa:load_vqa_official",
        "coco_karpathy": "emu2_eval.data.coco_captions:load_coco_karpathy",
        "hf_datasets": "emu2_eval.data.hf_datasets:load_hf_dataset",
        "vizwiz": "emu2_eval.data.vizwiz:load_vizwiz",
        "textvqa": "emu2_eval.data.textvqa:load_textvqa",
        "hateful_memes": "emu2_eval.data.hateful_memes:load_hateful_memes",
        "dreambench": "emu2_eval.data.dreambench:load_dreambench",
        "coco_t2i": "emu2_eval.data.coco_t2i:load_coco_t2i",
        "refcoco": "emu2_eval.data.refcoco:load_refcoco",
        "gqa": "emu2_eval.data.gqa:load_gqa",
        "mmmu": "emu2_eval.data.mmmu:load_mmmu",
        "mmvet": "emu2_eval.data.mmvet:load_mmvet",
        "touchstone": "emu2_eval.data.touchstone:load_touchstone",
        "video_qa": "emu2_eval.data.video_qa:load_video_qa",
        "seed_bench": "emu2_eval.data.seed_bench:load_seed_bench",
    },
)

# How few-shot demonstrations are chosen, and the image features RICES retrieves with.
DEMO_SELECTORS = Registry(
    "demonstration strategy",
    {
        "random": "emu2_eval.fewshot.selection:RandomSelector",
        "rices": "emu2_eval.fewshot.selection:RicesSelector",
    },
)

FEATURE_ENCODERS = Registry(
    "feature encoder",
    {
        "color_histogram": "emu2_eval.fewshot.encoders:ColorHistogramEncoder",
        "clip": "emu2_eval.fewshot.encoders:CLIPImageEncoder",
        "emu2_visual": "emu2_eval.fewshot.emu2_encoder:Emu2VisualEncoder",
    },
)

#: Which crowd answer a few-shot demonstration shows (``fewshot.demo_answer``).
DEMO_ANSWERS = Registry(
    "demonstration answer rule",
    {
        "multiple_choice_answer": "emu2_eval.fewshot.answers:loader_answer",
        "first": "emu2_eval.fewshot.answers:first_answer",
        "most_common": "emu2_eval.fewshot.answers:most_common_answer",
    },
)

# Writers of evaluation-server files for splits without public labels (``submission:`` in a
# task): ``writer(rows, **args) -> (payload, info)``, see :mod:`emu2_eval.submissions`.
SUBMISSION_WRITERS = Registry(
    "submission writer",
    {
        "vqav2_evalai": "emu2_eval.submissions.vqav2:vqav2_evalai",
        "vizwiz_evalai": "emu2_eval.submissions.vizwiz:vizwiz_evalai",
        "mmmu": "emu2_eval.submissions.mmmu:mmmu_submission",
    },
)

# Roots that task paths may start with, e.g. "{data_root}/vqav2/..." or "{demo}/vqa/...".
PATH_ROOTS = Registry(
    "path root",
    {
        "data_root": "emu2_eval.data.roots:data_root",
        "demo": "emu2_eval.data.demo:demo_root",
        "dreambench": "emu2_eval.data.dreambench:dreambench_root",
        "demo_dreambench": "emu2_eval.data.demo_dreambench:demo_dreambench_root",
        "demo_grounding": "emu2_eval.data.demo_grounding:demo_grounding_root",
        "demo_chat": "emu2_eval.data.demo_chat:demo_chat_root",
        "demo_video": "emu2_eval.data.demo_video:demo_video_root",
        "demo_unlabelled": "emu2_eval.data.demo_unlabelled:demo_unlabelled_root",
    },
)

# What a run or a re-score writes after results.json: each entry is called as
# ``writer(results, run_dir, samples=...)``. The engine calls them by name, so it never imports
# the reporting layer (ARCHITECTURE.md, the import-direction table).
RUN_OUTPUTS = Registry(
    "run output",
    {"reports": "emu2_eval.reporting.write:write_reports"},
)
