"""RhythmicNet performance checks at the paper's sizes (one run; the released code's numbers are from its authors'
2-core machine, so compare on a quiet 2-core machine, ``--threads 2``).

1. Beat net step: Video2Rhythm (ST-GCN 32,32,32,32,64x6, encoder 2 layers d 64, self-similarity bias) forward,
   weighted BCE, backward and an Adam step on a batch of ``--batch`` 300-frame windows; seconds per step (best of
   ``--steps`` after one warm-up) against the released code's 0.375 s (target <= 1.0x).
2. Drum2Music generation: the paper-size Transformer-XL encoder-decoder (50 M parameters) samples ``--bars`` piano
   bars for a drum track, batch 1, temperature 1.2, top-k 5, with the key/value cache (``XLStack.step``) and
   without it (``Drum2Music.generate(use_cache=False)``: every step recomputes the bar so far and the memory's keys
   and values, as the released code does). Both draw from the same seeded generator, so their tokens must be
   identical (checked); tokens/s counts the tokens written after each ``Bar`` (``EOS`` included). Targets:
   cached >= 95 tokens/s (3x the released code's 31.6) and >= 3x uncached.

The networks are untrained (speed does not depend on the weights; an untrained Drum2Music rarely samples ``EOS``,
so each bar runs to its full ``--bar-tokens`` row). Wall and process CPU times are both reported: CPU time is what
this process computed, which other processes' load on a shared machine does not inflate (with N threads it is up to
N x the wall time).

    python benchmarks/rhythmic_net.py [--batch 4] [--frames 300] [--steps 3] [--bars 2] [--bar-tokens 256]
        [--threads N] [--json out.json]                                                  # make bench-rhythmicnet
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.foley_decoding import _timed  # noqa: E402

RELEASED_BEAT_STEP_S = 0.375  # the released code, beat net forward + backward, batch 4, 300 frames, 2 cores
RELEASED_TOKENS_PER_S = 31.6  # the released code, Drum2Music generation, batch 1, 2 cores
BEAT_TARGET = 1.0  # ours / released, at most
TOKENS_TARGET = 95.0  # cached tokens/s, at least
SPEEDUP_TARGET = 3.0  # cached / uncached tokens/s, at least


def beat_step(
    batch: int = 4,
    frames: int = 300,
    steps: int = 3,
    device: torch.device | str = "cpu",
    sizes: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """Seconds per Video2Rhythm training step (forward, weighted BCE, backward, Adam) on ``batch`` windows of
    ``frames`` frames; ``sizes`` overrides :class:`~models.rhythmic_net.RhythmicNet` arguments (default: paper)."""
    from models.rhythmic_net import RhythmicNet
    from models.rhythmic_net.model import balanced_bce

    device = torch.device(device)
    torch.manual_seed(0)
    model = RhythmicNet(stage="video2rhythm", **(sizes or {}))
    net = model.beat_net.to(device).train()
    joints = net.num_joints
    keypoints = torch.cumsum(torch.randn(batch, frames, joints, 3, device=device) * 5.0, dim=1) + 300.0
    keypoints[..., 2] = 1.0
    beats = (torch.rand(batch, frames, device=device) < 0.05).float()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step() -> None:
        loss = balanced_bce(net(keypoints), beats)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up
    _, wall, cpu = _timed(step, device, repeats=steps)
    return {
        "batch": batch,
        "frames": frames,
        "params": sum(p.numel() for p in net.parameters()),
        "step_s": wall,
        "step_cpu_s": cpu,
        "vs_released": wall / RELEASED_BEAT_STEP_S,
        "ok": wall / RELEASED_BEAT_STEP_S <= BEAT_TARGET,
    }


def drum_bars(bars: int, bar_tokens: int) -> torch.Tensor:
    """REMI drum bar rows ``[bars, bar_tokens]`` of a kick / snare / hi-hat groove at 120 bpm (the chain's
    :func:`~models.rhythmic_net.chain.midi_to_bars`)."""
    from models.rhythmic_net.chain import midi_to_bars
    from music.groove import groove_to_midi

    steps = 16 * bars
    groove = torch.zeros(3, steps, 9)
    groove[0, ::8, 0] = 1.0  # kick on beats 1 and 3
    groove[0, 4::8, 1] = 1.0  # snare on 2 and 4
    groove[0, ::2, 2] = 1.0  # closed hi-hat on eighths
    groove[1] = groove[0] * 0.8
    return midi_to_bars(groove_to_midi(groove, 120.0), bar_tokens)[:bars]


@torch.no_grad()
def generation(
    bars: int = 2,
    bar_tokens: int = 256,
    device: torch.device | str = "cpu",
    sizes: Optional[dict[str, Any]] = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """Drum2Music tokens/s, batch 1, with and without the key/value cache (the same tokens, checked)."""
    from models.rhythmic_net import RhythmicNet

    device = torch.device(device)
    torch.manual_seed(0)
    model = RhythmicNet(stage="drum2music", max_bar_tokens=bar_tokens, **(sizes or {}))
    model = model.to(device).eval()
    net = model.music_net
    drums = drum_bars(bars, bar_tokens)[None].to(device)
    allowed = model.allowed_music_tokens()

    def draw(use_cache: bool) -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(0)
        h = model.hparams
        return net.generate(drums, h.music_temperature, h.music_top_k, allowed, generator=generator,
                            use_cache=use_cache)  # fmt: skip

    draw(True)  # warm-up
    cached, t_cached, c_cached = _timed(lambda: draw(True), device, repeats=repeats)
    # tokens written: everything after each bar's Bar token up to and including its EOS
    tokens = int(((cached != net.pad_id) & (cached != net.bar_id)).sum())
    print(f"  cached: {tokens} tokens in {t_cached:.2f} s ({tokens / t_cached:.1f} tokens/s, "
          f"{tokens / c_cached:.1f} per CPU s); now the uncached path", flush=True)  # fmt: skip
    uncached, t_uncached, c_uncached = _timed(lambda: draw(False), device)
    same = bool(torch.equal(cached, uncached))
    return {
        "bars": bars,
        "bar_tokens": bar_tokens,
        "params": sum(p.numel() for p in net.parameters()),
        "tokens": tokens,
        "cached_s": t_cached,
        "uncached_s": t_uncached,
        "cached_tokens_per_s": tokens / t_cached,
        "uncached_tokens_per_s": tokens / t_uncached,
        "cached_tokens_per_cpu_s": tokens / c_cached,
        "uncached_tokens_per_cpu_s": tokens / c_uncached,
        "speedup": t_uncached / t_cached,
        "speedup_cpu": c_uncached / c_cached,
        "vs_released": tokens / t_cached / RELEASED_TOKENS_PER_S,
        "same_tokens": same,
        "ok": same and tokens / t_cached >= TOKENS_TARGET and t_uncached / t_cached >= SPEEDUP_TARGET,
    }


def load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "?"


def report(results: dict[str, Any]) -> str:
    b, g = results["beat_step"], results["generation"]
    rows = [
        ("measure", "ours", "released code", "ratio", "target", "met"),
        (
            f"beat net fwd+bwd+Adam, B={b['batch']}, {b['frames']} frames (s/step)",
            f"{b['step_s']:.3f} (CPU {b['step_cpu_s']:.3f})",
            f"{RELEASED_BEAT_STEP_S}",
            f"{b['vs_released']:.2f}x",
            f"<= {BEAT_TARGET}x",
            "yes" if b["ok"] else "NO",
        ),
        (
            f"Drum2Music B=1, cached ({g['tokens']} tokens, tokens/s)",
            f"{g['cached_tokens_per_s']:.1f} (per CPU s {g['cached_tokens_per_cpu_s']:.1f})",
            f"{RELEASED_TOKENS_PER_S}",
            f"{g['vs_released']:.2f}x",
            f">= {TOKENS_TARGET:.0f} tok/s",
            "yes" if g["cached_tokens_per_s"] >= TOKENS_TARGET else "NO",
        ),
        (
            "Drum2Music B=1, uncached (tokens/s)",
            f"{g['uncached_tokens_per_s']:.1f} (per CPU s {g['uncached_tokens_per_cpu_s']:.1f})",
            "",
            f"cached {g['speedup']:.1f}x (CPU {g['speedup_cpu']:.1f}x)",
            f">= {SPEEDUP_TARGET:.0f}x",
            "yes" if g["speedup"] >= SPEEDUP_TARGET else "NO",
        ),
        ("cached = uncached tokens", str(g["same_tokens"]), "", "", "True", "yes" if g["same_tokens"] else "NO"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"RhythmicNet bench ({results['environment']})"]
    for i, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append(
        f"Video2Rhythm {b['params']:,} parameters; Drum2Music {g['params']:,} parameters, {g['bars']} bars of "
        f"{g['bar_tokens']} tokens"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4, help="beat net windows per step")
    parser.add_argument("--frames", type=int, default=300, help="frames per beat net window")
    parser.add_argument("--steps", type=int, default=3, help="timed beat net steps (best is reported)")
    parser.add_argument("--bars", type=int, default=2, help="Drum2Music bars generated (the second has a memory)")
    parser.add_argument("--bar-tokens", type=int, default=256, help="tokens per bar row (paper: 256)")
    parser.add_argument("--repeats", type=int, default=2, help="timed cached generations (best is reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu (the released numbers are CPU numbers) or cuda")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    results: dict[str, Any] = {
        "environment": f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load {load()}, GPU {gpu}"
    }
    results["beat_step"] = beat_step(args.batch, args.frames, args.steps, device)
    b = results["beat_step"]
    print(f"  beat net step: {b['step_s']:.3f} s (CPU {b['step_cpu_s']:.3f} s)", flush=True)
    results["generation"] = generation(args.bars, args.bar_tokens, device, repeats=args.repeats)
    results["environment"] += f", load after {load()}"
    print(report(results), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.check and not (results["beat_step"]["ok"] and results["generation"]["ok"]):
        sys.exit(1)
    return results


if __name__ == "__main__":
    main()
