"""Performance checks of Foley Music's decoder blocks at the paper's sizes by default.

1. Decoding speed at 512 events: greedy decoding of ``--length`` tokens with the key/value cache
   (:meth:`TransformerDecoder.step`, one new position per step) vs without it (the whole prefix re-run through
   :meth:`TransformerDecoder.forward` at every step). EOS is masked so both produce exactly ``length`` tokens; the two
   token sequences must be identical.
2. Peak memory of relative self-attention at L = 512 (forward + backward, batch 1): skewed vs naive gather. Each runs
   in a fresh subprocess and reports its peak RSS growth over the process's baseline (``ru_maxrss``; on a GPU the
   CUDA allocator's peak).

    python benchmarks/foley_decoding.py [--length 512] [--layers 6] [--d-model 512] [--heads 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@torch.no_grad()
def decode_speed(args: argparse.Namespace) -> dict[str, float]:
    from models.nn.transformer_decoder import TransformerDecoder
    from music import events as ev

    torch.manual_seed(0)
    device = torch.device(args.device)
    decoder = TransformerDecoder(
        ev.VOCAB_SIZE, args.d_model, args.layers, args.heads, args.ff, 0.1, max_len=args.length, padding_idx=ev.PAD
    ).to(device)
    decoder.eval()
    memory = torch.randn(1, 33, args.d_model, device=device)
    n = args.length - 1

    def pick(logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        logits[:, ev.EOS] = float("-inf")
        return logits.argmax(-1)

    def cached() -> list[int]:
        cache = decoder.init_cache(memory)
        token = torch.tensor([[ev.SOS]], device=device)
        out = []
        for _ in range(n):
            logits, cache = decoder.step(token, cache)
            token = pick(logits[:, -1])[:, None]
            out.append(int(token))
        return out

    def uncached() -> list[int]:
        tokens = torch.tensor([[ev.SOS]], device=device)
        for _ in range(n):
            logits = decoder(tokens, memory)
            tokens = torch.cat([tokens, pick(logits[:, -1])[:, None]], dim=1)
        return tokens[0, 1:].tolist()

    def timed(fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return result, time.perf_counter() - start

    fast, t_fast = timed(cached)
    slow, t_slow = timed(uncached)
    if fast != slow:
        raise RuntimeError("cached and uncached decoding produced different tokens")
    return {
        "tokens": n,
        "cached_tokens_per_s": n / t_fast,
        "uncached_tokens_per_s": n / t_slow,
        "speedup": t_slow / t_fast,
        "cached_s": t_fast,
        "uncached_s": t_slow,
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
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--ff", type=int, default=1024)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    results = {"device": args.device, "threads": torch.get_num_threads(), "config": vars(args)}
    results["memory"] = attention_memory(args)
    print(f"relative attention at L={args.length}: {results['memory']}", flush=True)
    if not args.skip_speed:
        results["decode"] = decode_speed(args)
        print(f"decoding {args.length} events: {results['decode']}", flush=True)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(results, indent=2))
        tmp.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
