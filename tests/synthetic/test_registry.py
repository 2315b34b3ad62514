"""The synthetic-writer registry: write() checks its arguments and the marker, ensure() writes once and caches."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import datamodules.synthetic as synthetic

CALLS: list[Path] = []


def write(out: Path, minutes: float, seed: int) -> Path:
    """A stand-in writer (registered by the tests as dataset "fake")."""
    CALLS.append(out)
    (out / "data.txt").write_text(f"{minutes} {seed}")
    synthetic.write_marker(out, "fake", minutes, seed)
    return out


def unmarked(out: Path, minutes: float, seed: int) -> Path:
    return out


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setitem(synthetic.WRITERS, "fake", __name__)
    monkeypatch.setenv("V2M_CACHE", str(tmp_path / "cache"))
    CALLS.clear()
    return tmp_path


def test_ensure_writes_once_into_the_cache_and_reuses_it(fake):
    root = synthetic.ensure("fake", 0.5, 3)
    assert root == fake / "cache" / f"fake-m0.5-s3-{synthetic.code_fingerprint()}"
    assert (root / "data.txt").read_text() == "0.5 3" and synthetic.read_marker(root)["synthetic"] is True
    stamp = (root / "data.txt").stat().st_mtime_ns
    time.sleep(0.01)
    assert synthetic.ensure("fake", 0.5, 3) == root
    assert len(CALLS) == 1 and (root / "data.txt").stat().st_mtime_ns == stamp
    assert CALLS[0] != root  # written into a temporary folder, then renamed
    assert not list((fake / "cache").glob(".fake-m0.5-s3-*.tmp*"))


def test_errors_name_the_problem(fake, monkeypatch):
    with pytest.raises(ValueError, match="no synthetic writer for dataset 'nope'"):
        synthetic.write("nope", fake / "x")
    (fake / "full").mkdir()
    (fake / "full" / "old.txt").write_text("x")
    with pytest.raises(FileExistsError, match="full is not empty"):
        synthetic.write("fake", fake / "full")
    with pytest.raises(ValueError, match="minutes must be > 0"):
        synthetic.write("fake", fake / "x", minutes=0)
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "write", unmarked)
    with pytest.raises(RuntimeError, match="did not write its SYNTHETIC.json"):
        synthetic.write("fake", fake / "y")


def test_code_fingerprint_changes_with_the_generating_code(tmp_path, monkeypatch):
    """A changed writer must not reuse data cached by the old one."""
    first = synthetic.code_fingerprint()
    assert len(first) == 8 and int(first, 16) >= 0
    synthetic.code_fingerprint.cache_clear()
    monkeypatch.setattr(synthetic, "_GENERATING_CODE", (*synthetic._GENERATING_CODE, "cli.py"))
    try:
        assert synthetic.code_fingerprint() != first
    finally:
        synthetic.code_fingerprint.cache_clear()
