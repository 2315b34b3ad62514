"""Shared pytest set-up: one torch thread per test worker (CI runs `pytest -n 2` on 2 cores), repo root on sys.path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config: pytest.Config) -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def _numba_cache_per_worker() -> None:
    """librosa's numba cache lives in site-packages; two pytest-xdist workers compiling the same function at once
    have corrupted it (segfaults later). Each worker gets its own cache folder."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"v2m-numba-{worker}"))


_numba_cache_per_worker()
