"""`make run`'s script: fit, held-out test and a report with the baseline, the demo MP4 and the paths."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.cli_runner import ROOT


def test_main_job_ends_with_a_report(tmp_path) -> None:
    out = tmp_path / "job"
    command = [
        sys.executable, "experiments/main_job.py", "--config", "experiments/audeo_cpu.yaml",
        "--config", "experiments/debug/audeo_cpu.yaml", "--out", str(out), "--trainer.max_steps", "2",
        "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "2",
        "--checkpoint.dirpath", str(tmp_path / "ckpt"), "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    report = (out / "report.txt").read_text()
    assert report in result.stdout
    needles = (
        "Video2Roll (threshold 0.40)",
        "best constant (",
        "generated soundtrack of a held-out video",
        f"checkpoint: {tmp_path / 'ckpt' / 'last.ckpt'}",
        f"--logdir {tmp_path / 'runs'}",
        "cli.py generate",
    )
    for needle in needles:
        assert needle in report, (needle, report)
    assert (out / "demo_generated.mp4").stat().st_size > 1000 and (out / "demo_input.mp4").is_file()
