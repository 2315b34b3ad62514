"""The README and the pages under docs/ are the user's manual: every command they show must exist (Make targets and
the variables passed to them, cli.py subcommands, config files, scripts, modules, test files and the tests a ``-k``
selects), every python snippet must run, every repository path, module name and relative link they cite must
resolve; the README's first code block must be the two set-up commands, and it stays a short README."""

from __future__ import annotations

import importlib
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.helpers.cli_runner import ROOT

README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))]
DOCS = {path.relative_to(ROOT).as_posix(): path.read_text() for path in PAGES}
SUBCOMMANDS = {"fit", "validate", "test", "predict", "generate", "synth", "prepare"}
COMMAND_STARTS = ("make ", "python ", ".venv/bin/python ", "torchrun ", "pytest ")
MAX_README_LINES = 250
# Top-level folders and files of the repository: a backticked path that starts with one of them must exist.
REPO_TOP = ("models", "datamodules", "metrics", "music", "callbacks", "experiments", "benchmarks", "scripts", "tests",
            "docs")  # fmt: skip
REPO_FILES = {"cli.py", "Makefile", "README.md", "pyproject.toml"}
PACKAGES = ("cli", "models", "datamodules", "metrics", "music", "callbacks", "benchmarks", "experiments")


def _code_blocks(text: str = README) -> list[tuple[str, str]]:
    """(language, text) of every fenced block, in order."""
    blocks, language, lines, inside = [], "", [], False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append((language, "\n".join(lines)))
            language, lines, inside = line[3:].strip(), [], not inside
        elif inside:
            lines.append(line)
    return blocks


def _commands(text: str = README) -> list[str]:
    """Commands of the fenced shell blocks (continuation lines joined, trailing comments dropped)."""
    commands: list[str] = []
    for language, block in _code_blocks(text):
        if language not in ("", "bash", "sh", "console"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(COMMAND_STARTS):
                commands.append(line)
    return commands


def _prose(text: str) -> str:
    """The text outside fenced blocks."""
    return "\n".join(part for i, part in enumerate(re.split(r"^```.*$", text, flags=re.M)) if i % 2 == 0)


def _inline_spans(text: str) -> list[str]:
    return [span.strip() for span in re.findall(r"`([^`\n]+)`", _prose(text))]


def _inline_commands(text: str) -> list[str]:
    """Commands quoted inline in the prose: `make X`, `python cli.py X`, `python -m M`, `pytest PATH`."""
    return [span for span in _inline_spans(text) if span.startswith(COMMAND_STARTS)]


COMMANDS = _commands()
# (page, command) for every command of the README and of docs/*.md, fenced or inline.
ALL_COMMANDS = sorted({(page, c) for page, text in DOCS.items() for c in _commands(text) + _inline_commands(text)})


def _where(commands: list[tuple[str, str]]) -> list:
    return [pytest.param(command, id=f"{page}: {command}") for page, command in commands]


def test_readme_opens_with_the_two_setup_commands() -> None:
    first_block = _code_blocks()[0][1]
    lines = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert lines[:2] == ["make run", "make test"]


def test_readme_shows_many_commands() -> None:
    assert len(COMMANDS) >= 20


def test_readme_is_short() -> None:
    lines = len(README.splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines (at most {MAX_README_LINES}): move detail to docs/"


def test_docs_pages_have_commands() -> None:
    """The checks below really see the pages: each paper's page shows its commands."""
    for page in ("docs/AUDEO.md", "docs/FOLEY_MUSIC.md", "docs/TRAINING.md"):
        assert len([c for p, c in ALL_COMMANDS if p == page]) >= 5, page


def _make_words(command: str) -> list[str]:
    return shlex.split(command)[1:]


@pytest.mark.parametrize("command", _where([(p, c) for p, c in ALL_COMMANDS if c.startswith("make ")]))
def test_make_targets_exist(command: str) -> None:
    words = _make_words(command)
    target = next(w for w in words if "=" not in w)
    result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
    assert "No rule to make target" not in result.stderr, f"a doc names a missing Make target: {command}"


def _make_plan(*words: str) -> str:
    """What ``make -n`` would run (nothing runs)."""
    return subprocess.run(["make", "-n", *words], cwd=ROOT, capture_output=True, text=True).stdout


@pytest.mark.parametrize("command", _where([(p, c) for p, c in ALL_COMMANDS if c.startswith("make ") and "=" in c]))
def test_make_variables_are_read(command: str) -> None:
    """``make X VAR=value``: target X reads VAR (a renamed variable would be silently ignored). Each variable is set to
    a value no default has; what ``make -n X`` would run must change."""
    words = _make_words(command)
    target = next(w for w in words if "=" not in w)
    plain = _make_plan(target)
    for word in words:
        if "=" in word:
            name = word.split("=")[0]
            assert _make_plan(target, f"{name}=doc-check-value") != plain, f"{command}: make {target} ignores {name}"


@pytest.mark.parametrize("command", _where([(p, c) for p, c in ALL_COMMANDS if "cli.py" in c]))
def test_cli_commands_name_real_subcommands_and_files(command: str) -> None:
    words = shlex.split(command)
    subcommand = words[words.index("cli.py") + 1]
    assert subcommand in SUBCOMMANDS or subcommand == "--help", command
    for word in words:
        if word.startswith(("experiments/", "tests/configs/")) and word.endswith(".yaml"):
            assert (ROOT / word).is_file(), f"{command}: {word} does not exist"


def _runs_python(command: str) -> bool:
    return bool(re.search(r"python (-m )?\S+\.py|python -m", command))


@pytest.mark.parametrize("command", _where([(p, c) for p, c in ALL_COMMANDS if _runs_python(c)]))
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


def _pytest_words(command: str) -> list[str] | None:
    words = shlex.split(command)
    if words[0] == "pytest":
        return words[1:]
    if "-m" in words and words[words.index("-m") + 1] == "pytest":
        return words[words.index("-m") + 2 :]
    return None


def _option(words: list[str], flag: str) -> str | None:
    return words[words.index(flag) + 1] if flag in words else None


PYTEST_COMMANDS = [(p, c) for p, c in ALL_COMMANDS if _pytest_words(c) is not None]


@cache
def _collected(marker: str | None, paths: tuple[str, ...]) -> list[str]:
    """Node ids pytest collects from ``paths`` (under ``-m marker``), in one subprocess."""
    args = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths]
    if marker:
        args += ["-m", marker]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    return [line.strip() for line in result.stdout.splitlines() if "::" in line]


def _keyword_matches(expression: str, node_id: str) -> bool:
    """pytest's own ``-k`` grammar on a node id: each name matches as a case-insensitive substring."""
    from _pytest.mark.expression import Expression

    return Expression.compile(expression).evaluate(lambda name, **_: name.lower() in node_id.lower())


@pytest.mark.parametrize("command", _where(PYTEST_COMMANDS))
def test_pytest_commands_select_tests(command: str) -> None:
    """``pytest PATH [-m M] [-k K]``: the path exists and, with -m / -k, selects at least one test."""
    words = _pytest_words(command)
    paths = [w for w in words if w.startswith("tests/")]
    for path in paths:
        assert (ROOT / path.split("::")[0]).exists(), f"{command}: {path} does not exist"
    marker, keyword = _option(words, "-m"), _option(words, "-k")
    if not paths or (marker is None and keyword is None):
        return  # the whole suite (its collection is the CI run itself), or a plain path
    same_marker = sorted({w for p, c in PYTEST_COMMANDS if _option(_pytest_words(c), "-m") == marker
                          for w in _pytest_words(c) if w.startswith("tests/")})  # fmt: skip
    nodes = [n for n in _collected(marker, tuple(same_marker)) if any(n.startswith(p) for p in paths)]
    if keyword:
        nodes = [n for n in nodes if _keyword_matches(keyword, n)]
    assert nodes, f"{command} selects no test"


def _parsable(command: str) -> bool:
    words = shlex.split(command)
    if "cli.py" not in words or words[0] != "python" or "[" in command or "..." in command:
        return False
    subcommand = words[words.index("cli.py") + 1]
    options = [w for w in words if w.startswith("--") and w not in ("--config", "--ckpt_path")]
    return subcommand in {"fit", "validate", "test", "predict"} and bool(options)


PARSABLE = sorted({c for _, c in ALL_COMMANDS if _parsable(c)})

# Parses each command with --print_config in one Python process (one import of the suite, not one per command).
_PARSE_ALL = """
import contextlib, io, json, sys
from cli import main
results = {}
for command in json.load(sys.stdin):
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            main(command)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except Exception as error:
            code, err = 1, io.StringIO(repr(error))
    results[" ".join(command)] = [code, err.getvalue()[-2000:]]
print(json.dumps(results))
"""


@cache
def _parse_results() -> dict[str, list]:
    commands = []
    for command in PARSABLE:
        words = shlex.split(command)[2:]
        commands.append(words if "--print_config" in words else [*words, "--print_config"])
    result = subprocess.run([sys.executable, "-c", _PARSE_ALL], input=json.dumps(commands), cwd=ROOT,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", PARSABLE)
def test_cli_commands_with_overrides_parse(command: str) -> None:
    """Each documented override names a real key with a valid value (parsed with --print_config, nothing runs)."""
    words = shlex.split(command)[2:]
    if "--print_config" not in words:
        words.append("--print_config")
    returncode, stderr = _parse_results()[" ".join(words)]
    assert returncode == 0, f"{command}\n{stderr}"


PYTHON_SNIPPETS = [(page, i) for page, text in DOCS.items() for i, (lang, _) in enumerate(_code_blocks(text))
                   if lang == "python"]  # fmt: skip


@pytest.mark.parametrize(("page", "index"), PYTHON_SNIPPETS, ids=[f"{p}#{i}" for p, i in PYTHON_SNIPPETS])
def test_python_snippets_run(page: str, index: int) -> None:
    code = _code_blocks(DOCS[page])[index][1]
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def _expand_braces(path: str) -> list[str]:
    """`datamodules/synthetic/{hands,keyboard}.py` -> both paths; a brace without a comma is a template: none."""
    if any("," not in group for group in re.findall(r"\{([^{}]*)\}", path)):
        return []
    parts = re.split(r"\{([^{}]*)\}", path)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c) for c in itertools.product(*choices)]


def _suite_part(page: str, text: str) -> str:
    """The text that speaks of the suite: DATASETS.md's numbered sections describe the datasets' own trees, whose
    folders (music/, scripts/) share names with the repository's."""
    return text.split("\n## 1.")[0] if page == "docs/DATASETS.md" else text


def _repo_paths(text: str) -> list[str]:
    """Backticked paths inside the repository (templates with <...>, * or ... are not paths)."""
    paths = []
    for span in _inline_spans(text) + [w for c in _commands(text) for w in shlex.split(c)]:
        span = span.split("::")[0].rstrip("/")
        if any(mark in span for mark in ("<", "*", "...", " ", "$")):
            continue
        if span in REPO_FILES or re.fullmatch(rf"(?:{'|'.join(REPO_TOP)})/[\w./{{}},-]+", span):
            paths.extend(_expand_braces(span))
    return paths


REPO_PATHS = sorted({(page, path) for page, text in DOCS.items() for path in _repo_paths(_suite_part(page, text))})


@pytest.mark.parametrize("path", _where(REPO_PATHS))
def test_cited_repository_paths_exist(path: str) -> None:
    assert (ROOT / path).exists(), f"{path} does not exist"


def _dotted_names(text: str) -> list[str]:
    pattern = rf"(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+"
    return [span for span in _inline_spans(text) if re.fullmatch(pattern, span) and not span.endswith(".py")]


DOTTED = sorted({(page, name) for page, text in DOCS.items() for name in _dotted_names(_suite_part(page, text))})


@pytest.mark.parametrize("name", _where(DOTTED))
def test_cited_modules_and_objects_exist(name: str) -> None:
    """`models.audeo.Audeo`, `datamodules.synthetic.ensure`, `music.events`: the module imports, the object is in it."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            target = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and not module_name.startswith(error.name):
                raise  # a dependency of the module is missing: a real failure
            continue
        for attribute in parts[cut:]:
            assert hasattr(target, attribute), f"{name}: {module_name} has no {attribute}"
            target = getattr(target, attribute)
        return
    pytest.fail(f"{name}: no such module")


LINKS = sorted({(page, link) for page, text in DOCS.items()
                for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in link})  # fmt: skip


@pytest.mark.parametrize(("page", "link"), LINKS, ids=[f"{p}: {link}" for p, link in LINKS])
def test_relative_links_resolve(page: str, link: str) -> None:
    assert ((ROOT / page).parent / link).exists(), f"{page}: link {link} does not resolve"


def _git_grep(pattern: str, *flags: str) -> str:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "grep", "--untracked", "-I", "-n", *flags, "-E", pattern], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def test_docs_are_cited_by_their_real_names() -> None:
    """The formats page is docs/DATASETS.md, upper case: a lower-case citation points at nothing."""
    found = _git_grep(r"datasets\.md")
    assert not found, f"lower-case citations of the formats page:\n{found}"


def test_no_issue_numbers() -> None:
    """The project speaks of itself: code, configs, docs and tests cite papers and docs, not tracker numbers."""
    found = _git_grep(r"issue [0-9]", "-i")
    assert not found, f"issue numbers:\n{found}"


def test_cited_doc_pages_and_sections_exist() -> None:
    """Code, configs and tests cite docs pages and numbered sections of the formats page: both exist."""
    found = _git_grep(r"docs/[A-Za-z_]+\.md( §[0-9]+)?", "-o", "-h")
    citations = set(re.findall(r"(docs/[A-Za-z_]+\.md)(?: §([0-9]+))?", found))
    assert ("docs/DATASETS.md", "5") in citations, "the search for citations found too little"
    for page, section in citations:
        assert (ROOT / page).is_file(), f"{page} is cited but does not exist"
        if section:
            assert re.search(rf"^## {section}\. ", (ROOT / page).read_text(), re.M), f"{page} has no §{section}"
