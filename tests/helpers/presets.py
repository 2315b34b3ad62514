"""Model and data sizes of the tests: the named debug presets under ``experiments/debug/`` (one place for the numbers).

A preset is a LightningCLI overlay (``--config experiments/debug/<name>.yaml``); the tests read its ``model`` or
``data`` ``init_args`` with :func:`debug_init_args`, lists as tuples (as the constructors' defaults are written).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

DEBUG = Path(__file__).resolve().parents[2] / "experiments" / "debug"


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {key: _frozen(v) for key, v in value.items()}
    return value


def debug_init_args(name: str, section: str = "model") -> dict[str, Any]:
    """``<section>.init_args`` of ``experiments/debug/<name>.yaml`` (``section`` "model" or "data")."""
    path = DEBUG / f"{name}.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    init_args = (config.get(section) or {}).get("init_args")
    if not isinstance(init_args, dict):
        raise KeyError(f"{path}: no {section}.init_args")
    return _frozen(init_args)


def accepted_by(target: Callable[..., Any], args: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``args`` that ``target`` (a class or function) takes as keyword arguments."""
    parameters = inspect.signature(target).parameters
    return {key: value for key, value in args.items() if key in parameters}
