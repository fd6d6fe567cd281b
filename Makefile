# Set-up, demo and tests on a fresh machine: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/emu2-eval run --model tiny-vlm --tasks demo_vqa,demo_caption --batch-size 8 --output runs/demo

lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf runs .pytest_cache .ruff_cache
