"""``cli.py synth`` and ``cli.py prepare`` (and their ``--help``) are data tools: they start without importing
Lightning, torch or any model, DataModule, metric or callback (checked on ``python -X importtime``'s module list),
and keep jsonargparse's options, type checks, config files and one-line errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli_runner import ROOT, run_cli

HEAVY = ("pytorch_lightning", "lightning_fabric", "torch", "models", "metrics", "callbacks", "numpy")


def _imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "cli.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    modules = {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", result.stderr, re.M)}
    return modules, result


@pytest.mark.parametrize("tool", ["synth", "prepare"])
def test_tool_help_imports_no_lightning_torch_or_models(tool: str) -> None:
    modules, result = _imported_modules(tool, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "jsonargparse" in modules, "the importtime listing was not read (no jsonargparse in it)"
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, f"cli.py {tool} --help imports {heavy[:10]}"
    dataset_modules = sorted(m for m in modules if m.startswith("datamodules.") and m.count(".") == 1)
    assert dataset_modules in ([], ["datamodules.prepare"], ["datamodules.synthetic"]), dataset_modules
    assert f"usage: cli.py {tool}" in result.stdout and "--config" in result.stdout


def test_synth_datasets_are_the_writer_registry() -> None:
    from datamodules.synthetic import WRITERS

    out = run_cli("synth", "--help", tmp=ROOT).stdout
    choices = re.search(r"--dataset \{([a-z0-9_,]+)\}", out)
    assert choices, out
    assert choices.group(1).split(",") == list(WRITERS)


def test_tool_errors_name_the_key_in_one_message(tmp_path: Path) -> None:
    result = run_cli("synth", "--dataset", "nope", "--out", str(tmp_path / "x"), tmp=tmp_path, check=False)
    assert result.returncode == 2 and "dataset" in result.stderr and "nope" in result.stderr
    assert "tip: for the accepted options run: cli.py synth --help" in result.stderr
    assert "Traceback" not in result.stderr
    typo = run_cli("synth", "--dataset", "urmp", "--out", "x", "--minut", "1", tmp=tmp_path, check=False)
    assert typo.returncode == 2 and "--minut" in typo.stderr, "no abbreviated options (--minut is not --minutes)"
    config = tmp_path / "synth.yaml"
    config.write_text(f"dataset: urmp\nout: {tmp_path / 'x'}\nminutes: abc\n")
    bad = run_cli("synth", "--config", str(config), tmp=tmp_path, check=False)
    assert bad.returncode == 2 and "minutes" in bad.stderr and "abc" in bad.stderr


def test_tool_bad_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    result = run_cli("synth", "--dataset", "urmp", "--out", str(tmp_path / "full"), tmp=tmp_path, check=False)
    assert result.returncode == 1 and "not empty" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli("prepare", "--task", "transcribe", "--src", str(tmp_path / "nope"), "--out", "o", tmp=tmp_path,
                      check=False)  # fmt: skip
    assert missing.returncode == 1 and "nope" in missing.stderr and "Traceback" not in missing.stderr


def test_tool_config_file_is_read(tmp_path: Path) -> None:
    config = tmp_path / "synth.yaml"
    config.write_text(f"dataset: audeo\nout: {tmp_path / 'x'}\nminutes: 0.5\nseed: 3\n")
    printed = run_cli("synth", "--config", str(config), "--seed", "4", "--print_config", tmp=tmp_path).stdout
    assert "dataset: audeo" in printed and "minutes: 0.5" in printed and "seed: 4" in printed
