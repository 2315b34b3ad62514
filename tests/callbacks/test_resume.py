"""Exact resume: a fit killed mid-epoch (SIGTERM or SIGKILL) and resumed with ``--ckpt_path last`` ends with the
same weights and validation loss as an uninterrupted run; and a kill during a checkpoint write never leaves a corrupt
``last.ckpt``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers.cli_runner import ROOT, run_cli

TINY = "tests/helpers/configs/tiny.yaml"
COMMON = ["--trainer.max_epochs", "3", "--trainer.deterministic", "true", "--checkpoint.every_n_train_steps", "3"]


def _final_state(tmp: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(
        tmp / "runs" / "suite" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    assert checkpoint["global_step"] == 24, "3 epochs of 8 batches"
    return checkpoint["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    tmp = tmp_path_factory.mktemp("uninterrupted")
    run_cli("fit", "--config", TINY, *COMMON, tmp=tmp)
    return _final_state(tmp)


@pytest.mark.parametrize("signal_name", ["TERM", "KILL"])
def test_killed_mid_epoch_then_resumed_matches_uninterrupted(
    signal_name: str, uninterrupted: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    fault = json.dumps(
        [{"class_path": "tests.helpers.faults.SelfSignal", "init_args": {"at_step": 13, "signal_name": signal_name}}]
    )
    killed = run_cli("fit", "--config", TINY, *COMMON, "--trainer.callbacks", fault, tmp=tmp_path, check=False)
    assert "Received SIGTERM" in killed.stderr or killed.returncode == -signal.SIGKILL
    saved = torch.load(
        tmp_path / "runs" / "suite" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    # SIGTERM saves right after step 13 (mid-epoch 2); SIGKILL leaves the periodic save of step 12.
    assert saved["global_step"] == (13 if signal_name == "TERM" else 12)
    run_cli("fit", "--config", TINY, *COMMON, "--ckpt_path", "last", tmp=tmp_path)
    resumed = _final_state(tmp_path)
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        assert torch.equal(resumed[name], uninterrupted[name]), f"{name} differs after resume"


SLOW_WRITER = """
import sys, time, torch
sys.path.insert(0, {root!r})
from callbacks.atomic_checkpoint import AtomicCheckpointIO

class SlowIO(AtomicCheckpointIO):
    def _write(self, checkpoint, handle):
        data = __import__("io").BytesIO(); torch.save(checkpoint, data); raw = data.getvalue()
        handle.write(raw[: len(raw) // 2]); handle.flush(); print("HALF", flush=True); time.sleep(60)
        handle.write(raw[len(raw) // 2 :])

SlowIO().save_checkpoint({{"state_dict": {{"w": torch.arange(100000.0)}}}}, {path!r})
"""


def test_kill_during_checkpoint_write_keeps_previous_last_ckpt(tmp_path: Path) -> None:
    from callbacks.atomic_checkpoint import AtomicCheckpointIO

    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    script = SLOW_WRITER.format(root=str(ROOT), path=str(path))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "HALF"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    time.sleep(0.1)
    survivor = torch.load(path, weights_only=False)
    assert torch.equal(survivor["state_dict"]["w"], torch.zeros(3)), "the old checkpoint must survive intact"
    leftovers = [p for p in tmp_path.iterdir() if p.name != "last.ckpt"]
    assert all(p.name.startswith(".") for p in leftovers), "only hidden temporary files may remain"
