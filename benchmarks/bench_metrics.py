"""Metric speed against the reference implementations, as ratios from one run.

Each comparison runs both sides on the same inputs in this process, alternating, ``--repeats``
times, checks that they agree, and prints the ratio of the median times (reference / ours):

* ``vqa``: the official GT-Vision-Lab/VQA ``VQAEval.evaluate()`` vs ``score_many`` (the synthetic
  data and the loader of the Python 2 code come from ``bench_vqa_scoring.py``); needs a checkout:
  ``--official-repo /tmp/VQA_checkout``.
* ``caption``: pycocoevalcap called directly, the way ``COCOEvalCap.evaluate()`` does it without
  SPICE (PTBTokenizer on references then predictions, then Bleu(4), Meteor, Rouge, Cider) vs
  ``emu2_eval.scoring.metrics.caption_metrics.caption_metrics``; needs Java.
* ``frechet``: the pytorch-fid formula with ``scipy.linalg.sqrtm`` vs the eigenvalue-based
  ``emu2_eval.scoring.metrics.frechet.frechet_distance`` at Inception's 2048 dimensions.

    .venv/bin/python benchmarks/bench_metrics.py all --official-repo /tmp/VQA_checkout
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def side_by_side(
    reference: Callable[[], Any], ours: Callable[[], Any], repeats: int
) -> tuple[float, float, Any, Any]:
    """Median seconds of each side, alternating; and each side's last result. A callable may
    time itself by returning ``Timed(result, seconds)`` (to leave set-up out)."""
    times: dict[str, list[float]] = {"reference": [], "ours": []}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, fn in (("reference", reference), ("ours", ours)):
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
            if isinstance(result, Timed):
                result, elapsed = result.result, result.seconds
            results[name] = result
            times[name].append(elapsed)
    ref, mine = statistics.median(times["reference"]), statistics.median(times["ours"])
    print(f"  reference: median {ref:.3f}s {_fmt(times['reference'])}")
    print(f"  ours:      median {mine:.3f}s {_fmt(times['ours'])}")
    print(f"  ratio reference/ours = {ref / mine:.2f}x")
    return ref, mine, results["reference"], results["ours"]


@dataclass
class Timed:
    result: Any
    seconds: float


def _fmt(times: list[float]) -> str:
    return "[" + ", ".join(f"{t:.3f}" for t in times) + "]"


# -- VQA ----------------------------------------------------------------------------------------


def bench_vqa(official_repo: Path, questions: int, repeats: int) -> bool:
    import tempfile

    from bench_vqa_scoring import _write_official_files, load_official, make_run, time_official

    from emu2_eval.scoring.metrics.vqa_accuracy import normalize_answer, score_many

    run = make_run(questions, seed=0)
    modules = load_official(official_repo)
    tmp = tempfile.TemporaryDirectory()
    paths = _write_official_files(Path(tmp.name), run)

    def official() -> Timed:
        elapsed, evaluator = time_official(*modules, paths)
        return Timed(evaluator.accuracy["overall"], elapsed)

    def ours() -> float:
        normalize_answer.cache_clear()  # cold: no answer normalised before
        return round(100 * float(score_many(run["predictions"], run["answers"]).mean()), 2)

    print(f"vqa: {questions} questions x 10 answers (official: JSON loading not timed)")
    _, _, theirs, mine = side_by_side(official, ours, repeats)
    tmp.cleanup()
    print(f"  overall accuracy: official {theirs}, ours {mine}")
    return abs(theirs - mine) < 1e-9


# -- captions -----------------------------------------------------------------------------------

WORDS = (
    "a an the man woman dog cat two three red blue green white black small large sitting "
    "standing on in with next to near street table field grass water ball frisbee bus train "
    "plate pizza holding riding playing walking a of"
).split()


def _caption(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))) + rng.choice([".", ""])


def bench_caption(images: int, repeats: int) -> bool:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from emu2_eval.scoring.metrics.caption_metrics import caption_metrics

    rng = random.Random(0)
    references = {i: [_caption(rng) for _ in range(5)] for i in range(images)}
    predictions = {i: _caption(rng) for i in range(images)}

    def direct() -> dict[str, float]:
        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize(
            {i: [{"caption": c} for c in refs] for i, refs in references.items()}
        )
        res = tokenizer.tokenize({i: [{"caption": c}] for i, c in predictions.items()})
        scores: dict[str, float] = {}
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        scores.update({f"Bleu_{n + 1}": float(v) for n, v in enumerate(bleu)})
        meteor = Meteor()
        scores["METEOR"] = float(meteor.compute_score(gts, res)[0])
        del meteor  # as in COCOEvalCap: __del__ stops the JVM
        scores["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
        scores["CIDEr"] = float(Cider().compute_score(gts, res)[0])
        return scores

    def ours() -> dict[str, float]:
        return caption_metrics(predictions, references, spice=False)

    print(f"caption: {images} images x 5 references (both sides start the Java tokenizer, METEOR)")
    with contextlib.redirect_stderr(io.StringIO()):
        _, _, theirs, mine = side_by_side(direct, ours, repeats)
    worst = max(abs(theirs[k] - mine[k]) for k in theirs)
    print(f"  largest difference over {sorted(theirs)}: {worst:.2e}")
    return worst < 1e-9


# -- Fréchet ------------------------------------------------------------------------------------


def bench_frechet(dim: int, repeats: int) -> bool:
    import numpy as np
    from scipy import linalg

    from emu2_eval.scoring.metrics.frechet import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((dim, dim + 32))
    b = rng.standard_normal((dim, dim + 32)) * 1.2
    sigma1, sigma2 = a @ a.T / (dim + 32), b @ b.T / (dim + 32)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)

    def reference() -> float:  # pytorch-fid's calculate_frechet_distance, without its eps retry
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        covmean = covmean.real if np.iscomplexobj(covmean) else covmean
        diff = mu1 - mu2
        return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))

    print(f"frechet: {dim}x{dim} float64 covariances")
    _, _, theirs, mine = side_by_side(
        reference, lambda: frechet_distance(mu1, sigma1, mu2, sigma2), repeats
    )
    relative = abs(theirs - mine) / abs(theirs)
    print(
        f"  FD: scipy sqrtm {theirs:.10f}, eigenvalues {mine:.10f} (relative diff {relative:.1e})"
    )
    return relative < 1e-6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["vqa", "caption", "frechet", "all"])
    parser.add_argument("--official-repo", type=Path, help="checkout of GT-Vision-Lab/VQA")
    parser.add_argument("--questions", type=int, default=50_000)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    checks = {}
    if args.which in ("vqa", "all"):
        if args.official_repo is None:
            parser.error("vqa needs --official-repo (a checkout of GT-Vision-Lab/VQA)")
        checks["vqa"] = bench_vqa(args.official_repo, args.questions, args.repeats)
    if args.which in ("caption", "all"):
        checks["caption"] = bench_caption(args.images, args.repeats)
    if args.which in ("frechet", "all"):
        checks["frechet"] = bench_frechet(args.dim, args.repeats)
    print("agreement: " + ", ".join(f"{k} {'OK' if v else 'MISMATCH'}" for k, v in checks.items()))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
