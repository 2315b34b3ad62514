# Two-command set-up: `make run` (main job) and `make test` (CI tier). Both go through `make install`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= experiments/audeo.yaml
SCALE ?= full
PYTEST_WORKERS ?= 2

.PHONY: install system-deps mediapipe-venv run test test-fast test-slow lint format clean reproduce-table1 tensorboard

install: $(STAMP)

$(STAMP): pyproject.toml scripts/system_deps.sh
	@bash scripts/system_deps.sh
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps basic-pitch==0.4.0 transkun==2.0.1  # their metadata pulls TensorFlow / torchaudio
	@touch $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

run: install
	$(PY) cli.py fit --config $(CONFIG)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint mediapipe-venv
	$(PY) -m pytest -m "not slow" -n $(PYTEST_WORKERS) --durations=15

test-slow: install
	$(PY) -m pytest -m slow -v

tensorboard: install
	$(VENV)/bin/tensorboard --logdir runs

clean:
	rm -rf runs .pytest_cache

# MediaPipe 0.10.21 (bundled pose/hand models) pins numpy<2: it gets its own venv, used by `cli.py prepare --task keypoints`.
mediapipe-venv: install
	$(PY) -m datamodules.prepare.mediapipe_env
