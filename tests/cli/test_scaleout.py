"""Scale-out: DDP (gloo on CPU) gives the same validation metrics as one process with every sample counted once;
the SLURM template renders a valid script; Lightning reads ranks from SLURM variables; torchrun launches the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli_runner import ROOT, run_cli

# (config, debug overrides, expected number of distinct validation samples or None)
DDP_CONFIGS = [
    ("tests/helpers/configs/tiny.yaml", [], 32),
    # a real model: Audeo's Video2Roll (debug sizes) on synthetic Audeo data, scored with torchmetrics FramePRF
    (
        "experiments/audeo.yaml",
        ["--config", "experiments/debug/audeo.yaml", "--trainer.limit_val_batches", "1.0"],
        None,
    ),
]


def _validate(config: str, extra: list[str], devices: int, tmp: Path) -> dict:
    out = tmp / f"eval_{devices}.json"
    recorder = json.dumps([{"class_path": "tests.helpers.probes.EvaluationRecorder", "init_args": {"out": str(out)}}])
    strategy = ["--trainer.strategy", "ddp", "--trainer.devices", str(devices)] if devices > 1 else []
    run_cli(
        "validate",
        "--config",
        config,
        *extra,
        "--trainer.accelerator",
        "cpu",
        *strategy,
        "--trainer.callbacks",
        recorder,
        "--seed_everything",
        "0",
        tmp=tmp,
        timeout=900,
    )
    return json.loads(out.read_text())


@pytest.mark.parametrize(("config", "extra", "expected"), DDP_CONFIGS, ids=[c[0] for c in DDP_CONFIGS])
def test_ddp_two_processes_equal_one(config: str, extra: list[str], expected: int | None, tmp_path: Path) -> None:
    single = _validate(config, extra, 1, tmp_path)
    double = _validate(config, extra, 2, tmp_path)
    assert len(double["samples"]) == len(set(double["samples"])), "a sample was evaluated twice under DDP"
    assert sorted(double["samples"]) == sorted(single["samples"]), "DDP dropped or added samples"
    if expected is not None:
        assert len(single["samples"]) == expected
    shared = {k for k in single["metrics"] if k.startswith("val")}
    assert shared, single["metrics"]
    for key in shared:
        assert double["metrics"][key] == pytest.approx(single["metrics"][key], rel=1e-5, abs=1e-6), key


def test_slurm_template_renders_a_valid_script() -> None:
    result = subprocess.run(
        ["make", "-s", "slurm", "CONFIG=tests/helpers/configs/tiny.yaml", "NODES=2", "GPUS=4", "DRY_RUN=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    script = result.stdout
    assert script.startswith("#!/bin/bash")
    directives = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH --nodes=2" in directives and "#SBATCH --ntasks-per-node=4" in directives
    assert "#SBATCH --signal=SIGUSR1@90" in directives and "#SBATCH --requeue" in directives
    body = script.splitlines()
    first_command = next(i for i, line in enumerate(body) if line and not line.startswith("#"))
    assert all(body.index(d) < first_command for d in directives), "#SBATCH lines must precede every command"
    assert "srun python cli.py fit --config tests/helpers/configs/tiny.yaml" in script
    assert "--trainer.num_nodes 2" in script and "--trainer.devices 4" in script
    syntax = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert syntax.returncode == 0, syntax.stderr


def test_slurm_render_names_a_missing_config() -> None:
    result = subprocess.run(
        ["make", "-s", "slurm", "CONFIG=experiments/nope.yaml", "NODES=1", "GPUS=1", "DRY_RUN=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "experiments/nope.yaml" in result.stderr


SLURM_PROBE = """
import pytorch_lightning as pl
from lightning_fabric.plugins.environments import SLURMEnvironment
trainer = pl.Trainer(accelerator="cpu", devices=4, num_nodes=2, strategy="ddp", logger=False)
env = trainer.strategy.cluster_environment
print(type(env).__name__, trainer.global_rank, trainer.local_rank, trainer.node_rank, trainer.world_size,
      env.auto_requeue)
"""


def test_lightning_reads_ranks_from_slurm_variables() -> None:
    env = {
        **os.environ,
        "SLURM_NTASKS": "8",
        "SLURM_NTASKS_PER_NODE": "4",
        "SLURM_PROCID": "5",
        "SLURM_LOCALID": "1",
        "SLURM_NODEID": "1",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NAME": "v2m-audeo",
        "SLURM_NODELIST": "gpu[01-02]",
    }
    out = subprocess.run([sys.executable, "-c", SLURM_PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["SLURMEnvironment", "5", "1", "1", "8", "True"]


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
    reason="torchrun not installed",
)
def test_torchrun_launches_the_cli_on_two_processes(tmp_path: Path) -> None:
    torchrun = str(Path(sys.executable).parent / "torchrun")
    out = tmp_path / "eval.json"
    recorder = json.dumps([{"class_path": "tests.helpers.probes.EvaluationRecorder", "init_args": {"out": str(out)}}])
    command = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "cli.py",
        "validate",
        "--config",
        "tests/helpers/configs/tiny.yaml",
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp",
        "--trainer.callbacks",
        recorder,
        "--trainer.default_root_dir",
        str(tmp_path),
        "--trainer.logger.init_args.save_dir",
        str(tmp_path / "runs"),
    ]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-4000:]
    record = json.loads(out.read_text())
    assert len(record["samples"]) == 32 == len(set(record["samples"]))
