"""``make bench``: a --quick run writes valid JSON and a Markdown table covering every section."""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks.run import errors, main, markdown


def test_quick_bench_writes_json_and_table(tmp_path: Path) -> None:
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert errors(results) == []
    training = results["training"]["foley_music"]
    assert training["batches_measured"] == 2 and training["samples_per_s"] > 0
    assert 0 <= training["data_wait_share"] < 1
    assert all(r > 0 and math.isfinite(r) for r in results["loading"]["ratios"].values())
    assert 0 < results["synthesis"]["rtf_16000"] < 1  # FluidSynth renders faster than real time
    decoding = results["decoding"]
    assert decoding["tokens"] == 12 and decoding["cached_tokens_per_s"] > 0
    assert decoding["greedy_speedup"] > 0 and decoding["beam_speedup"] > 0
    table = (tmp_path / "RESULTS.md").read_text()
    assert table == markdown(results) + "\n"
    for heading in ("## Training", "## Data loading", "## FluidSynth", "## Transformer decoding"):
        assert heading in table
    assert "| foley_music |" in table and "error" not in table
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_failures_are_recorded_and_reported() -> None:
    ok = {"samples_per_s": 1.0, "batch_size": 2.0, "data_wait_share": 0.1}
    results = {"training": {"a": {"error": "ValueError: bad"}, "b": ok}, "decoding": {"error": "x"}}
    assert errors(results) == ["training/a: ValueError: bad", "decoding: x"]
    results["training"]["a"]["error"] = "ValueError: a | b\nsecond line"
    results |= {"environment": {"date": "d", "torch": "t", "cpu_count": 2, "torch_threads": 1, "cuda": None,
                                "quick": True}, "loading": {"error": "e"}, "synthesis": {"error": "s"}}  # fmt: skip
    table = markdown(results)
    assert "| a | error: ValueError: a \\| b | | |" in table and "second line" not in table
    assert "| b | 1.00 | 2.0 | 10 % |" in table
