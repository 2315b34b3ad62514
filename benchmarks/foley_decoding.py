"""Performance checks of Foley Music's decoder blocks at the paper's sizes by default.

1. Decoding speed at 512 events, batch 1: the suite's searches with the key/value cache
   (:meth:`TransformerDecoder.step`, one new position per step) against the released code's generation loop, which
   re-runs the whole prefix through the decoder at every step (``MusicTransformer.generate``; here the same loop
   drives this suite's :meth:`TransformerDecoder.forward`, so both sides run identical layers):
   - greedy: cached greedy decoding vs the released loop with ``beam=0`` (arg-max of the last position). EOS is
     masked so both produce exactly ``length`` tokens; the two token sequences must be identical, which also checks
     that cached logits equal uncached ones.
   - beam 5: :func:`models.nn.decoding.beam_search` (batched, cached, cumulative log-probabilities) vs the released
     ``beam=5`` loop (five rows re-run at every step, the best five of all row x token probabilities kept).
2. Peak memory of relative self-attention at L = 512 (forward + backward, batch 1): skewed vs naive gather. Each runs
   in a fresh subprocess and reports its peak RSS growth over the process's baseline (``ru_maxrss``; on a GPU the
   CUDA allocator's peak).

    python benchmarks/foley_decoding.py [--length 512] [--beam-length 512] [--layers 6] [--d-model 512] [--heads 8]
        [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _timed(fn, device: torch.device, repeats: int = 1):
    """``fn()``'s result, best wall-clock and best process CPU seconds over ``repeats`` runs (the CPU time is what
    this process computed, which other processes' load on a shared machine does not inflate)."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return result, wall, cpu


@torch.no_grad()
def decode_speed(args: argparse.Namespace) -> dict[str, float]:
    from models.nn.decoding import beam_search, decoder_step
    from models.nn.transformer_decoder import TransformerDecoder
    from music import events as ev

    torch.manual_seed(0)
    device = torch.device(args.device)
    decoder = TransformerDecoder(
        ev.VOCAB_SIZE, args.d_model, args.layers, args.heads, args.ff, 0.1, max_len=args.length, padding_idx=ev.PAD
    ).to(device)
    decoder.eval()
    memory = torch.randn(1, 33, args.d_model, device=device)

    def no_eos(logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        logits[:, ev.EOS] = float("-inf")
        return logits

    def cached_greedy(n: int) -> list[int]:
        cache = decoder.init_cache(memory)
        token = torch.tensor([[ev.SOS]], device=device)
        out = []
        for _ in range(n):
            logits, cache = decoder.step(token, cache)
            token = no_eos(logits[:, -1]).argmax(-1)[:, None]
            out.append(int(token))
        return out

    def released_greedy(n: int) -> list[int]:
        tokens = torch.tensor([[ev.SOS]], device=device)
        for _ in range(n):
            logits = decoder(tokens, memory)
            tokens = torch.cat([tokens, no_eos(logits[:, -1]).argmax(-1)[:, None]], dim=1)
        return tokens[0, 1:].tolist()

    def cached_beam(n: int, k: int) -> list[int]:
        step = decoder_step(decoder)

        def masked(tokens: torch.Tensor, cache):
            logits, cache = step(tokens, cache)
            return no_eos(logits), cache

        result = beam_search(masked, decoder.init_cache(memory), 1, ev.SOS, ev.EOS, ev.PAD, n, beam_size=k)
        return result.tokens[0].tolist()

    def released_beam(n: int, k: int) -> list[int]:
        rows = memory.repeat(k, 1, 1)
        seq = torch.full((k, n + 1), ev.PAD, dtype=torch.long, device=device)
        seq[:, 0] = ev.SOS
        for i in range(1, n + 1):
            probs = no_eos(decoder(seq[:, :i], rows)[:, -1]).softmax(-1)
            top = probs.flatten().topk(k).indices
            seq = seq[top // probs.shape[-1]]
            seq[:, i] = top % probs.shape[-1]
        return seq[0, 1:].tolist()

    n, nb = args.length - 1, args.beam_length - 1
    fast, t_fast, c_fast = _timed(lambda: cached_greedy(n), device, repeats=2)
    slow, t_slow, c_slow = _timed(lambda: released_greedy(n), device)
    if fast != slow:
        raise RuntimeError("cached and uncached greedy decoding produced different tokens")
    beam, t_beam, c_beam = _timed(lambda: cached_beam(nb, args.beam), device, repeats=2)
    released, t_released, c_released = _timed(lambda: released_beam(nb, args.beam), device)
    if len(beam) != nb or len(released) != nb:
        raise RuntimeError(f"beam searches produced {len(beam)} / {len(released)} tokens, expected {nb}")
    return {
        "tokens": n,
        "cached_tokens_per_s": n / t_fast,
        "released_tokens_per_s": n / t_slow,
        "greedy_speedup": t_slow / t_fast,
        "greedy_speedup_cpu": c_slow / c_fast,
        "cached_s": t_fast,
        "released_s": t_slow,
        "beam_size": args.beam,
        "beam_tokens": nb,
        "beam_cached_s": t_beam,
        "beam_released_s": t_released,
        "beam_speedup": t_released / t_beam,
        "beam_speedup_cpu": c_released / c_beam,
    }


def memory_child(skew: bool, length: int, d_model: int, heads: int, device: str) -> None:
    from models.nn.relative_attention import RelativeSelfAttention

    torch.manual_seed(0)
    attn = RelativeSelfAttention(d_model, heads, max_relative_position=length, skew=skew).to(device)
    x = torch.randn(1, length, d_model, device=device, requires_grad=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    y, _ = attn(x)
    y.square().sum().backward()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    print(json.dumps({"peak_bytes": int(peak)}))


def attention_memory(args: argparse.Namespace) -> dict[str, float]:
    out = {}
    for skew in (True, False):
        call = f"memory_child({skew!r}, {args.length}, {args.d_model}, {args.heads}, {args.device!r})"
        head = f"import sys; sys.path.insert(0, {str(ROOT)!r})"
        code = f"{head}; from benchmarks.foley_decoding import memory_child; {call}"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if run.returncode:
            raise RuntimeError(f"memory benchmark (skew={skew}) failed:\n{run.stderr}")
        out["skewed" if skew else "naive"] = json.loads(run.stdout.strip().splitlines()[-1])["peak_bytes"] / 2**20
    out["naive_over_skewed"] = out["naive"] / max(out["skewed"], 1e-9)
    return {f"{k}_MiB" if k != "naive_over_skewed" else k: v for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--beam-length", type=int, default=512, help="events of the beam-search comparison")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--ff", type=int, default=1024)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {"device": args.device, "threads": torch.get_num_threads(), "load_1min": load, "config": vars(args)}
    if not args.skip_memory:
        results["memory"] = attention_memory(args)
        print(f"relative attention at L={args.length}: {results['memory']}", flush=True)
    if not args.skip_speed:
        results["decode"] = decode_speed(args)
        d = results["decode"]
        print(f"decoding {args.length} events: {d}", flush=True)
        print(
            f"greedy, {d['tokens']} events: cached {d['cached_s']:.1f} s vs released loop {d['released_s']:.1f} s "
            f"-> {d['greedy_speedup']:.1f}x; beam {d['beam_size']}, {d['beam_tokens']} events: cached "
            f"{d['beam_cached_s']:.1f} s vs released loop {d['beam_released_s']:.1f} s -> {d['beam_speedup']:.1f}x "
            f"(process CPU time: {d['greedy_speedup_cpu']:.1f}x and {d['beam_speedup_cpu']:.1f}x; "
            f"{results['threads']} threads, load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at the end)",
            flush=True,
        )
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(results, indent=2))
        tmp.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
