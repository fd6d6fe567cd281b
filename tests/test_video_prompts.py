"""Video as a prompt part: frame sampling, frame directories and files, records, bad input,
the preflight's refusal for adapters without video, and the demo video tasks end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emu2_eval.core.prompts import TextPart, VideoPart, prompt_text, videos_as_frames
from emu2_eval.core.requests import Request
from emu2_eval.core.video_frames import VideoLoadError, sample_indices
from emu2_eval.data.docs import DataFormatError
from emu2_eval.data.video_qa import load_video_qa
from emu2_eval.engine import evaluate as evaluate_module
from tests.helpers import run_cli
from tests.runs import evaluate_run

SIXTEEN_OF_TWENTY = [0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 18, 19]


def frame_dir(path: Path, n: int, name: str = "frame_{}.png") -> Path:
    """``n`` frames whose red value is 10 x the frame number (1-based names)."""
    path.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (8, 8), (10 * i, 0, 0)).save(path / name.format(i + 1))
    return path


def video_file(path: Path, n: int) -> Path:
    """An MPEG-4 file of ``n`` 32x32 frames whose red value is 12 x the frame index."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(n):
            pixels = np.zeros((32, 32, 3), np.uint8)
            pixels[..., 0] = 12 * i
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_sampling_rules_pick_the_hand_computed_frames() -> None:
    # segment_center: middle of each of n equal segments, floor((2i+1) * total / 2n)
    assert sample_indices(20, 4) == (2, 7, 12, 17)
    assert sample_indices(20, 16) == tuple(SIXTEEN_OF_TWENTY)
    assert sample_indices(8, 8) == tuple(range(8))
    # linspace: round(i * (total-1) / (n-1)): 0, 6.33, 12.67, 19
    assert sample_indices(20, 4, "linspace") == (0, 6, 13, 19)
    assert sample_indices(5, 1, "linspace") == (0,)
    with pytest.raises(ValueError, match="segment_center, linspace"):
        sample_indices(20, 4, "random")


def test_frame_directory_gives_16_frames_in_natural_order(tmp_path: Path) -> None:
    """Default 16 frames; ``frame_10`` comes after ``frame_9`` (not after ``frame_1``)."""
    video = VideoPart.from_path(frame_dir(tmp_path / "clip", 20), key="clip")
    assert (video.source, video.n_frames, video.total_frames) == ("frames", 16, 20)
    assert list(video.indices) == SIXTEEN_OF_TWENTY
    frames = video.frame_parts()
    assert [Path(f.path).name for f in frames] == [f"frame_{i + 1}.png" for i in video.indices]
    assert [f.load().getpixel((0, 0))[0] for f in frames] == [10 * i for i in video.indices]


def test_video_file_frames_are_decoded_at_the_sampled_indices(tmp_path: Path) -> None:
    video = VideoPart.from_path(video_file(tmp_path / "clip.mp4", 20), key="clip.mp4", frames=4)
    assert (video.source, video.total_frames, video.indices) == ("file", 20, (2, 7, 12, 17))
    frames = video.frame_parts()
    assert [f.key for f in frames] == ["clip.mp4#2", "clip.mp4#7", "clip.mp4#12", "clip.mp4#17"]
    reds = [f.load().getpixel((16, 16))[0] for f in frames]
    assert all(abs(red - 12 * i) <= 8 for red, i in zip(reds, video.indices, strict=True)), reds


def test_frame_sampling_is_in_the_request_and_its_cache_key(tmp_path: Path) -> None:
    clip = frame_dir(tmp_path / "clip", 20)

    def request(**sampling) -> Request:
        video = VideoPart.from_path(clip, key="clip", **sampling)
        return Request("generate", (video, TextPart("what?")), "t", "1")

    default = request()
    assert default.content()["prompt"][0] == {
        "type": "video", "key": "clip", "source": "frames", "frames": 16,
        "rule": "segment_center", "indices": SIXTEEN_OF_TWENTY, "total_frames": 20,
    }  # fmt: skip
    hashes = {
        default.content_hash(),
        request(frames=8).content_hash(),
        request(rule="linspace").content_hash(),
    }
    assert len(hashes) == 3
    assert prompt_text(default.prompt) == "<video>what?"
    assert len(videos_as_frames(default.prompt)) == 17


def test_missing_video_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(VideoLoadError, match=r"nothere\.mp4: video file not found"):
        VideoPart.from_path(tmp_path / "nothere.mp4")


def test_unreadable_video_file_is_named(tmp_path: Path) -> None:
    pytest.importorskip("av")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 10)
    with pytest.raises(VideoLoadError, match=r"broken\.mp4: not a readable video"):
        VideoPart.from_path(broken)


def test_frame_directory_with_too_few_frames_is_refused(tmp_path: Path) -> None:
    clip = frame_dir(tmp_path / "short", 5)
    with pytest.raises(VideoLoadError, match=r"short: 5 frame image\(s\).*fewer than the 16"):
        VideoPart.from_path(clip)


def test_video_file_without_pyav_names_the_file_and_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 64)
    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    with pytest.raises(VideoLoadError, match=r"clip\.mp4: .*emu2_eval\[video\]"):
        VideoPart.from_path(clip)


def _video_qa(tmp_path: Path, n_frames: int) -> Path:
    frame_dir(tmp_path / "videos" / "abc_1_5", n_frames)
    (tmp_path / "youtube_mapping.txt").write_text("abc_1_5 vid7\n")
    records = [{"answer": "dog", "id": 3, "question": "who runs?", "video_id": 7}]
    (tmp_path / "test_qa.json").write_text(json.dumps(records))
    return tmp_path


def test_video_qa_loader_reads_the_msvd_layout(tmp_path: Path) -> None:
    root = _video_qa(tmp_path, 8)
    data = load_video_qa(
        str(root / "test_qa.json"), str(root / "videos"), "$video_name",
        str(root / "youtube_mapping.txt"), frames=4, sampling="linspace",
    )  # fmt: skip
    (doc,) = data.docs
    assert (doc.doc_id, doc["answer"], doc["question_type"]) == ("3", "dog", "who")
    assert doc["video"].key == "abc_1_5" and doc["video"].indices == (0, 2, 5, 7)
    assert data.protocol == {"frames": 4, "frame_sampling": "linspace"}


def test_video_qa_loader_names_the_record_and_the_missing_video(tmp_path: Path) -> None:
    root = _video_qa(tmp_path, 8)
    with pytest.raises(DataFormatError, match=r"test_qa\.json, record 3: .*video7\.mp4: video"):
        load_video_qa(str(root / "test_qa.json"), str(root / "videos"))
    with pytest.raises(DataFormatError, match=r"record 3: .*abc_1_5: 8 frame image\(s\)"):
        load_video_qa(
            str(root / "test_qa.json"), str(root / "videos"), "$video_name",
            str(root / "youtube_mapping.txt"),
        )  # fmt: skip


def test_preflight_refuses_video_tasks_for_adapters_without_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hf-vlm does not declare video input: the run stops before any model work."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the preflight stopped the run")

    monkeypatch.setattr(evaluate_module, "load_adapter", refuse)
    tasks = "demo_vqa,demo_seed_bench"
    result = run_cli(tmp_path / "run", "--model", "hf-vlm", "--model-args",
                     "pretrained=org/some-llava", "--tasks", tasks)  # fmt: skip
    assert result.exit_code == 1
    assert "task 'demo_seed_bench' shows the model video parts" in result.output
    assert "model 'hf-vlm' does not take (it takes: image)" in result.output
    assert "demo_vqa" not in result.output.split("problem(s)")[1]


def test_demo_video_tasks_run_end_to_end_on_tiny_vlm(tiny_adapter, tmp_path: Path) -> None:
    """tiny-vlm takes a video as the run of its sampled frames (LLaVA images)."""
    results = evaluate_run(
        "tiny-vlm", {}, ["demo_msvd", "demo_seed_bench"], tmp_path / "run", limit=None,
        batch_size=8, progress=False, adapter=tiny_adapter,
    )  # fmt: skip
    qa, seed = results["tasks"]["demo_msvd"], results["tasks"]["demo_seed_bench"]
    assert qa["n_samples"] == 24 and seed["n_samples"] == 16
    assert qa["dataset"]["protocol"] == {"frames": 4, "frame_sampling": "segment_center"}
    records = [
        json.loads(line)
        for line in (tmp_path / "run" / "samples_demo_msvd.jsonl").read_text().splitlines()
    ]
    assert all(r["error"] is None for r in records)
    assert records[0]["doc"]["video"]["indices"] == [1, 3, 5, 7]
    assert records[0]["prompt"].startswith("<video>")
    # the score is the mean of what a plain comparison of the filtered answers gives
    right = [r["filtered"].strip().lower() == r["doc"]["answer"] for r in records]
    assert qa["metrics"]["exact_match"] == pytest.approx(100 * sum(right) / len(right))
    assert set(seed["metrics"]) == {"accuracy", "accuracy_image", "accuracy_video",
                                    "dimension_mean"}  # fmt: skip
    assert set(seed["groups"]["dimension"]) == {"5 Instance Attributes", "10 Action Recognition"}
    assert all(seed["intervals"][k]["low"] is not None for k in seed["metrics"])


def _seed_file(tmp_path: Path, **changes) -> Path:
    frame_dir(tmp_path / "videos" / "v1", 4)
    (tmp_path / "images").mkdir()
    question = {
        "question_id": "q1", "question": "What is it?", "choice_a": "a", "choice_b": "b",
        "choice_c": "c", "choice_d": "d", "answer": "B", "data_id": "v1", "data_type": "video",
        "question_type_id": 10, **changes,
    }  # fmt: skip
    path = tmp_path / "SEED-Bench.json"
    path.write_text(
        json.dumps({"question_type": {"Action Recognition": 10}, "questions": [question]})
    )
    return path


def test_seed_bench_loader_reads_a_video_question(tmp_path: Path) -> None:
    from emu2_eval.data.seed_bench import load_seed_bench

    path = _seed_file(tmp_path)
    data = load_seed_bench(str(path), str(tmp_path / "images"), str(tmp_path / "videos"), frames=2)
    (doc,) = data.docs
    assert doc["choices"] == {"A": "a", "B": "b", "C": "c", "D": "d"} and doc["answer"] == "B"
    assert doc["dimension"] == "Action Recognition" and doc["media"].indices == (1, 3)
    only_images = load_seed_bench(
        str(path), str(tmp_path / "images"), str(tmp_path / "videos"), data_types=["image"]
    )
    assert only_images.docs == [] and only_images.protocol["data_types"] == ["image"]


@pytest.mark.parametrize(
    ("changes", "data_types", "message"),
    [
        ({"answer": "E"}, None, r"record q1: answer must be one of A, B, C, D, got 'E'"),
        ({"data_type": "audio"}, None, r"record q1: data_type must be image or video"),
        ({}, ["audio"], r"data_types \['audio'\] unknown"),
        ({"data_id": "../../etc"}, None, r"record q1: video path '../../etc' escapes"),
    ],
)
def test_seed_bench_loader_refuses_bad_records(
    tmp_path: Path, changes: dict, data_types, message: str
) -> None:
    from emu2_eval.data.seed_bench import load_seed_bench

    path = _seed_file(tmp_path, **changes)
    with pytest.raises(DataFormatError, match=message):
        load_seed_bench(
            str(path), str(tmp_path / "images"), str(tmp_path / "videos"), frames=2,
            data_types=data_types,
        )  # fmt: skip
