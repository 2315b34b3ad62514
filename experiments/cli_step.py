"""One step of a reproduction or main-job script: ``python cli.py <args>`` run in-process (``cli.main``), echoed first
so the log shows every command the script ran."""

from __future__ import annotations

from typing import Any


def cli_step(args: list[str]) -> Any:
    """Print the command, run it through ``cli.main`` and return its LightningCLI (None for the data tools)."""
    from cli import main

    print("+ python cli.py " + " ".join(args), flush=True)
    return main(args)
