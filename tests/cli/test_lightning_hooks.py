"""What cli.py relies on in LightningCLI (pytorch_lightning 2.6) and jsonargparse: only public hooks, each checked here
by name, signature and behaviour, so that an upgrade that renames or changes one fails here with the hook named, not
somewhere in a training run."""

from __future__ import annotations

import contextlib
import inspect
import io
from pathlib import Path
from typing import Any

import pytest
from jsonargparse import ArgumentParser
from pytorch_lightning.cli import LightningCLI

import cli

TINY = str(Path(__file__).resolve().parents[1] / "helpers" / "configs" / "tiny.yaml")


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    ("hook", "parameters"),
    [
        ("setup_parser", ["self", "add_subcommands", "main_kwargs", "subparser_kwargs"]),
        ("parse_arguments", ["self", "parser", "args"]),
        ("add_arguments_to_parser", ["self", "parser"]),
        ("instantiate_trainer", ["self", "kwargs"]),
        ("subcommands", []),
    ],
)
def test_overridden_lightning_hooks_keep_their_signature(hook: str, parameters: list[str]) -> None:
    assert hasattr(LightningCLI, hook), f"LightningCLI.{hook} is gone: SuiteCLI.{hook} in cli.py overrides it"
    assert _parameters(getattr(LightningCLI, hook)) == parameters, (
        f"LightningCLI.{hook} changed its signature to {inspect.signature(getattr(LightningCLI, hook))}; "
        f"SuiteCLI.{hook} in cli.py expects ({', '.join(parameters)})"
    )
    assert hook in vars(cli.SuiteCLI), f"cli.SuiteCLI no longer overrides {hook}: update this test"


def test_subcommands_is_a_static_registry_of_trainer_methods() -> None:
    assert isinstance(inspect.getattr_static(LightningCLI, "subcommands"), staticmethod), (
        "LightningCLI.subcommands is no longer a staticmethod; SuiteCLI.subcommands extends it"
    )
    assert set(LightningCLI.subcommands()) == {"fit", "validate", "test", "predict"}, "LightningCLI.subcommands()"
    assert set(cli.SuiteCLI.subcommands()) == {"fit", "validate", "test", "predict", "generate"}
    assert callable(cli.SuiteTrainer.generate)


def test_jsonargparse_add_subcommands_returns_the_action() -> None:
    parser = cli.SuiteArgumentParser()
    action = parser.add_subcommands()
    assert parser.subcommands_action is action and hasattr(action, "add_subcommand"), (
        "jsonargparse ArgumentParser.add_subcommands() no longer returns an action with add_subcommand(); "
        "SuiteCLI.setup_parser adds the data tools through it"
    )
    assert _parameters(ArgumentParser.add_subcommands)[:3] == ["self", "required", "dest"]


class _Stop(Exception):
    pass


class _ParserProbe(cli.SuiteCLI):
    """SuiteCLI that stops once its parser is set up, to look at the registered subcommands."""

    def setup_parser(self, *args: Any) -> None:
        super().setup_parser(*args)
        raise _Stop(self.parser)


def _registered(only: str | None) -> list[str]:
    with pytest.raises(_Stop) as stop:
        _ParserProbe(
            only=only,
            trainer_class=cli.SuiteTrainer,
            parser_class=cli.SuiteArgumentParser,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=[],
        )
    (parser,) = stop.value.args
    return list(parser.subcommands_action.choices)


def test_setup_parser_registers_every_subcommand_and_the_data_tools() -> None:
    assert _registered(None) == ["fit", "validate", "test", "predict", "generate", "synth", "prepare"], (
        "LightningCLI.setup_parser must call parser.add_subcommands() and register self.subcommands()"
    )


def test_only_builds_the_parser_of_one_subcommand() -> None:
    assert _registered("validate") == ["validate", "synth", "prepare"], (
        "LightningCLI (setup_parser/_add_subcommands) no longer asks self.subcommands() which subcommands to build; "
        "SuiteCLI(only=...) relies on it"
    )


def test_parse_arguments_stores_the_config_and_a_tool_reached_through_it_is_one_error() -> None:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit_:
        cli.main({"subcommand": "synth", "synth": {"dataset": "urmp", "out": "x"}})
    assert exit_.value.code == 2, "LightningCLI.parse_arguments must set self.config (SuiteCLI.parse_arguments)"
    assert "give synth's options after its name" in stderr.getvalue()


def test_fit_config_parses_with_only_its_own_parser() -> None:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), pytest.raises(SystemExit) as exit_:
        cli.main(["fit", "--config", TINY, "--trainer.max_epochs", "3", "--print_config"])
    assert exit_.value.code == 0
    assert "max_epochs: 3" in stdout.getvalue() and "save_last: true" in stdout.getvalue()
