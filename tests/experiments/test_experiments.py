"""Every LightningCLI config under experiments/ runs end to end with fast_dev_run (debug sizes where provided).

New configs are covered automatically: put debug-size overrides in ``experiments/debug/<name>.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli_runner import ROOT, run_cli
from tests.helpers.v2meow_chain import stage_cli_args

CONFIGS = sorted((ROOT / "experiments").glob("*.yaml"))


def test_there_are_experiment_configs() -> None:
    assert CONFIGS, "experiments/ holds no config"


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_config_fast_dev_run(config: Path, tmp_path: Path) -> None:
    args = ["fit", "--config", str(config.relative_to(ROOT))]
    debug = ROOT / "experiments" / "debug" / config.name
    if debug.is_file():
        args += ["--config", str(debug.relative_to(ROOT))]
    args += stage_cli_args(config, tmp_path / "v2meow")  # V2Meow: tiny trained tokenizers, checkpoints in tmp
    result = run_cli(*args, "--trainer.fast_dev_run", "1", tmp=tmp_path, timeout=900)
    assert "Traceback" not in result.stderr
