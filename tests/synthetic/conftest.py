"""Synthetic datasets written once per test session and shared by the writer contract (test_contract.py) and each
writer's own tests, with the round trip through the writer's DataModule."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest

from datamodules.synthetic import write
from tests.helpers.synthetic_checks import case, datamodule_class


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``written(dataset, minutes=None, seed=0)``: the root of that synthetic dataset, written on first use (default
    minutes: the writer's :class:`~tests.helpers.synthetic_checks.WriterCase`). Tests only read it."""
    roots: dict[tuple[str, float, int], Path] = {}

    def get(dataset: str, minutes: Optional[float] = None, seed: int = 0) -> Path:
        key = (dataset, float(case(dataset).minutes if minutes is None else minutes), int(seed))
        if key not in roots:
            out = tmp_path_factory.mktemp(f"{dataset}-m{key[1]:g}-s{seed}") / "root"
            roots[key] = write(dataset, out, minutes=key[1], seed=key[2])
        return roots[key]

    return get


@pytest.fixture(scope="session")
def round_trip(written: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple]:
    """``round_trip(dataset)``: (DataModule set up for "fit" on ``written(dataset)`` with the writer's keyword
    arguments, its first training batch)."""
    done: dict[str, tuple[Any, dict]] = {}

    def get(dataset: str) -> tuple[Any, dict]:
        if dataset not in done:
            cls = datamodule_class(dataset)
            kwargs = dict(case(dataset).datamodule)
            if "cache_dir" in inspect.signature(cls).parameters:
                kwargs["cache_dir"] = str(tmp_path_factory.mktemp(f"{dataset}-cache"))
            dm = cls(root=str(written(dataset)), **kwargs)
            dm.setup("fit")
            done[dataset] = dm, next(iter(dm.train_dataloader()))
        return done[dataset]

    return get
