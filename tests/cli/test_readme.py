"""The README is the user's manual: every command it shows must exist (Make targets, cli.py subcommands, config
files, scripts), and its first code block must be the two set-up commands."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli_runner import ROOT

README = (ROOT / "README.md").read_text()
SUBCOMMANDS = {"fit", "validate", "test", "predict", "generate", "synth", "prepare"}


def _code_blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block, in order."""
    blocks, language, lines, inside = [], "", [], False
    for line in README.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append((language, "\n".join(lines)))
            language, lines, inside = line[3:].strip(), [], not inside
        elif inside:
            lines.append(line)
    return blocks


def _commands() -> list[str]:
    commands: list[str] = []
    for language, block in _code_blocks():
        if language not in ("", "bash", "sh", "console"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(("make ", "python ", ".venv/bin/python ", "torchrun ")):
                commands.append(line)
    return commands


COMMANDS = _commands()


def test_readme_opens_with_the_two_setup_commands() -> None:
    first_block = _code_blocks()[0][1]
    lines = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert lines[:2] == ["make run", "make test"]


def test_readme_shows_many_commands() -> None:
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("command", sorted({c for c in COMMANDS if c.startswith("make ")}))
def test_make_targets_exist(command: str) -> None:
    words = shlex.split(command)[1:]
    target = next(w for w in words if "=" not in w)
    result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
    assert "No rule to make target" not in result.stderr, f"README names a missing Make target: {command}"


@pytest.mark.parametrize("command", sorted({c for c in COMMANDS if "cli.py" in c}))
def test_cli_commands_name_real_subcommands_and_files(command: str) -> None:
    words = shlex.split(command)
    subcommand = words[words.index("cli.py") + 1]
    assert subcommand in SUBCOMMANDS, command
    for word in words:
        if word.startswith(("experiments/", "tests/configs/")) and word.endswith(".yaml"):
            assert (ROOT / word).is_file(), f"{command}: {word} does not exist"


@pytest.mark.parametrize("command", sorted({c for c in COMMANDS if re.search(r"python (-m )?\S+\.py|python -m", c)}))
def test_python_scripts_and_modules_exist(command: str) -> None:
    words = shlex.split(command)
    if "-m" in words:
        module = words[words.index("-m") + 1]
        if module == "pytest":
            return
        path = ROOT / Path(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), command
    else:
        script = next(w for w in words if w.endswith(".py"))
        assert (ROOT / script).is_file(), command


def _parsable(command: str) -> bool:
    words = shlex.split(command)
    if "cli.py" not in words or words[0] != "python" or "[" in command or "..." in command:
        return False
    subcommand = words[words.index("cli.py") + 1]
    options = [w for w in words if w.startswith("--") and w not in ("--config", "--ckpt_path")]
    return subcommand in {"fit", "validate", "test", "predict"} and bool(options)


@pytest.mark.parametrize("command", sorted({c for c in COMMANDS if _parsable(c)}))
def test_cli_commands_with_overrides_parse(command: str) -> None:
    """Each documented override names a real key with a valid value (parsed with --print_config, nothing runs)."""
    words = shlex.split(command)[1:]
    if "--print_config" not in words:
        words.append("--print_config")
    result = subprocess.run([sys.executable, *words], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"


@pytest.mark.parametrize("index", [i for i, (lang, _) in enumerate(_code_blocks()) if lang == "python"])
def test_python_snippets_run(index: int) -> None:
    code = _code_blocks()[index][1]
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
