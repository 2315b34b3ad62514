"""``make bench-rhythmicnet`` (benchmarks/rhythmic_net.py) at debug sizes: both sections run, cached generation
draws the uncached path's tokens, and the table reports every measure."""

from __future__ import annotations

from benchmarks.rhythmic_net import beat_step, drum_bars, generation, report

BEAT = {"stgcn_channels": [8, 8], "beat_d_model": 16, "beat_layers": 1, "beat_feedforward": 32,
        "max_relative_position": 16}  # fmt: skip
MUSIC = {"music_d_model": 32, "music_encoder_layers": 1, "music_decoder_layers": 2, "music_heads": 2,
         "music_feedforward": 64, "music_mem_len": 32}  # fmt: skip


def test_drum_bars_are_bar_rows() -> None:
    rows = drum_bars(2, 48)
    assert rows.shape == (2, 48)
    from datamodules.multitrack_midi import tokenizer

    tok = tokenizer()
    names = tok.tokens(rows[0].tolist())
    assert names[0] == "Bar_None" and "EOS_None" in names and any(n.startswith("PitchDrum_") for n in names)


def test_bench_sections_at_debug_sizes() -> None:
    beat = beat_step(batch=2, frames=40, steps=1, sizes=BEAT)
    assert beat["step_s"] > 0 and beat["params"] > 0 and beat["frames"] == 40
    gen = generation(bars=2, bar_tokens=24, sizes=MUSIC)
    assert gen["same_tokens"] is True
    assert 2 <= gen["tokens"] <= 2 * 23 and gen["cached_tokens_per_s"] > 0 and gen["speedup"] > 0
    table = report({"environment": "test", "beat_step": beat, "generation": gen})
    for text in ("beat net", "cached", "uncached", "= uncached tokens", "31.6", "0.375"):
        assert text in table
