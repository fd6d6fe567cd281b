# Set-up, demo and tests on a fresh machine: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo demo-gen test test-slow lint clean gate test-latest

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/emu2-eval run --model tiny-vlm --tasks demo_vqa,demo_caption --batch-size 8 --output runs/demo

# Generation demo: the built-in tiny text-to-image pipeline on the demo DreamBench and COCO-T2I,
# scored with the built-in tiny CLIP and DINO (all created on first use, no download).
demo-gen: setup
	$(BIN)/emu2-eval run --model tiny-t2i --tasks demo_dreambench_t2i,demo_coco_t2i --output runs/demo-gen

lint: setup
	$(BIN)/ruff check .

# The fast suite (tests marked `slow` deselected); `make test-slow` runs the end-to-end tests marked
# `slow` (subprocess runs, kill and resume, 1 vs 2 processes). CI (.ci/run) runs both.
test: setup lint
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf runs .pytest_cache .ruff_cache

# Scheduled-style drift check: a separate venv with the newest transformers, diffusers and
# accelerate (past pyproject's upper bounds), then the tests that pin behaviour to golden files
# of the published stacks (Emu2/Emu2-Gen reference code, official VQA scorer, pycocoevalcap).
# A failure here means a release changed semantics: read it before raising a bound.
LATEST_VENV ?= .venv-latest
GOLDEN_TESTS ?= tests/test_emu2_reference_decoding.py tests/test_emu2_model.py \
	tests/test_emu2_loading.py tests/test_gen_emu2_gen.py tests/test_vqa_accuracy.py
test-latest:
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install -q "$(TORCH_SPEC)"
	$(LATEST_VENV)/bin/python -m pip install -q -e ".[dev]"
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade transformers diffusers accelerate
	$(LATEST_VENV)/bin/python -m pip list 2>/dev/null | grep -iE "^(transformers|diffusers|accelerate|tokenizers) "
	$(LATEST_VENV)/bin/python -m pytest -q $(GOLDEN_TESTS)

# Score-regression gate (CI): the tiny model on 24 docs of each demo task, checked against the
# committed baseline; fails when a metric drops below baseline - tolerance. Regenerate the
# baseline (after an intended change) with:
#   $(BIN)/emu2-eval baseline $(GATE_DIR) --output $(GATE_BASELINE)
GATE_DIR ?= runs/gate
GATE_BASELINE ?= results/baselines/demo_tiny_vlm.json
gate: setup
	rm -rf $(GATE_DIR)
	$(BIN)/emu2-eval run --model tiny-vlm --tasks demo_vqa,demo_caption,demo_hateful_memes \
		--limit 24 --batch-size 8 --no-progress --output $(GATE_DIR)
	$(BIN)/emu2-eval check $(GATE_DIR) --baseline $(GATE_BASELINE)
