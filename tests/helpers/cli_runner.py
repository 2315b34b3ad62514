"""Run ``python cli.py ...`` in a subprocess, as a user would, with outputs kept under a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, tmp: Path, timeout: int = 600, check: bool = True, env: dict | None = None):
    """Run cli.py from the repository root; logs and checkpoints go to ``tmp``. Returns the CompletedProcess."""
    command = [sys.executable, str(ROOT / "cli.py"), *args]
    if args and args[0] in {"fit", "validate", "test", "predict", "generate"}:
        command += ["--trainer.default_root_dir", str(tmp), "--trainer.logger.init_args.save_dir", str(tmp / "runs")]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"cli.py {' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n"
            f"--- stderr\n{result.stderr[-8000:]}"
        )
    return result
