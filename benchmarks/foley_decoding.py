"""Performance checks of Foley Music's decoder blocks at the paper's sizes by default.

1. Decoding speed, batch 1: the suite's searches with the key/value cache (:meth:`TransformerDecoder.step`, one new
   position per step through :meth:`DecoderBlock.step_one`) against a model of the released code's generation loop
   (``MusicTransformer.generate``). That loop keeps no cache: at every step it runs the whole generated prefix through
   the decoder and reads the distribution of the last position. Here it drives this suite's
   :meth:`TransformerDecoder.forward`, so both sides run identical layers and weights, and the pose memory is
   computed once for both (which only favours the released loop):
   - greedy, ``--length`` events (512, SOS included): cached greedy decoding (:func:`models.nn.decoding.sample`)
     vs the loop with ``beam=0`` taking the arg-max of the last position (the released code samples there; the
     arg-max makes the two comparable). EOS is masked so both produce exactly ``length - 1`` tokens; the two token
     sequences must be identical, which also checks that cached logits equal uncached ones.
   - beam 5, ``--beam-length`` events: :func:`models.nn.decoding.beam_search` (batched, cached, reordered in place,
     cumulative log-probabilities) vs the loop with ``beam=5``: five rows re-run at every step, the five best
     (row, token) pairs by that step's probability alone kept, their rows gathered and the token appended. Both
     produce ``beam_length - 1`` tokens (the searches differ, so the tokens do).
   The ratios are of wall-clock times; the ratios of process CPU times are printed beside them (on a shared machine
   other processes' load moves the first more than the second).
2. Peak memory of relative self-attention at L = 512 (forward + backward, batch 1): skewed vs naive gather. Each runs
   in a fresh subprocess and reports its peak RSS growth over the process's baseline (``ru_maxrss``; on a GPU the
   CUDA allocator's peak).

    python benchmarks/foley_decoding.py [--length 512] [--beam-length 256] [--layers 6] [--d-model 512] [--heads 8]
        [--threads N] [--json out.json]

``--beam-length`` defaults to 256 so that one run fits in about 5 minutes on one core (the released beam loop alone
runs five rows over a prefix that grows with the square of the length); at 512 its ratio is larger.
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
    from models.nn.decoding import beam_search, decoder_step, sample
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

    step = decoder_step(decoder)

    def masked(tokens: torch.Tensor, cache):
        logits, cache = step(tokens, cache)
        return no_eos(logits), cache

    def cached_greedy(n: int) -> list[int]:
        result = sample(masked, decoder.init_cache(memory), 1, ev.SOS, ev.EOS, ev.PAD, n, greedy=True, device=device)
        return result.tokens[0].tolist()

    def released_greedy(n: int) -> list[int]:
        tokens = torch.tensor([[ev.SOS]], device=device)
        for _ in range(n):
            logits = decoder(tokens, memory)
            tokens = torch.cat([tokens, no_eos(logits[:, -1]).argmax(-1)[:, None]], dim=1)
        return tokens[0, 1:].tolist()

    def cached_beam(n: int, k: int) -> list[int]:
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
        "same_tokens": fast == slow,
        "cached_tokens_per_s": n / t_fast,
        "released_tokens_per_s": n / t_slow,
        "greedy_speedup": t_slow / t_fast,
        "greedy_speedup_cpu": c_slow / c_fast,
        "cached_s": t_fast,
        "released_s": t_slow,
        "cached_cpu_s": c_fast,
        "released_cpu_s": c_slow,
        "beam_size": args.beam,
        "beam_tokens": nb,
        "beam_cached_s": t_beam,
        "beam_released_s": t_released,
        "beam_cached_cpu_s": c_beam,
        "beam_released_cpu_s": c_released,
        "beam_cached_tokens_per_s": nb / t_beam,
        "beam_released_tokens_per_s": nb / t_released,
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
    parser.add_argument("--beam-length", type=int, default=256, help="events of the beam-search comparison")
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
        print(f"decoding: {d}", flush=True)
        end_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"greedy, {args.length} events ({d['tokens']} tokens after SOS, same tokens: {d['same_tokens']}): cached "
            f"{d['cached_tokens_per_s']:.1f} tokens/s, released loop {d['released_tokens_per_s']:.1f} tokens/s -> "
            f"{d['greedy_speedup']:.1f}x (CPU time {d['greedy_speedup_cpu']:.1f}x; target >= 10x)\n"
            f"beam {d['beam_size']}, {args.beam_length} events ({d['beam_tokens']} tokens each side): ours "
            f"{d['beam_cached_tokens_per_s']:.1f} tokens/s, released loop {d['beam_released_tokens_per_s']:.2f} "
            f"tokens/s -> {d['beam_speedup']:.1f}x (CPU time {d['beam_speedup_cpu']:.1f}x; target >= 10x)\n"
            f"{results['threads']} thread(s), {args.device}, load average {load:.1f} at start, {end_load:.1f} at end",
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
