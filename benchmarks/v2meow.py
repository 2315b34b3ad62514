"""V2Meow's tokenisers on the CPU (``make bench``, section ``v2meow``; docs/V2MEOW.md, Results).

    .venv/bin/python benchmarks/v2meow.py [--seconds 10] [--threads 2] [--sizes debug paper]

Per size (``debug``: ``experiments/v2meow_<stage>.yaml`` + ``experiments/debug/``; ``paper``: the configs alone):
the codec's encode + decode time of ``seconds`` of audio, as a real-time factor (time / audio length; "x real time"
is its inverse), and the time to tokenise the clip (codec encode + semantic tokens). The networks are untrained
(the speed does not depend on the weights); the semantic k-means is fitted on noise so that it can encode.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = ("debug", "paper")


def stage_args(stage: str, size: str) -> dict[str, Any]:
    """``model.init_args`` of ``experiments/v2meow_<stage>.yaml``, with the debug overlay for ``size="debug"``."""
    import yaml

    files = [ROOT / "experiments" / f"v2meow_{stage}.yaml"]
    if size == "debug":
        files.append(ROOT / "experiments" / "debug" / f"v2meow_{stage}.yaml")
    elif size != "paper":
        raise ValueError(f"bench v2meow: size must be one of {SIZES}, got {size!r}")
    args: dict[str, Any] = {}
    for path in files:
        args.update(((yaml.safe_load(path.read_text()) or {}).get("model") or {}).get("init_args") or {})
    return args


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of ``repeats`` timed calls (after one warm-up call). CPU time sums the
    threads; on a machine shared with other jobs it is the steadier of the two."""
    fn()
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(times)


def bench_size(size: str, seconds: float, repeats: int) -> dict[str, Any]:
    import torch

    from models.v2meow import SemanticTokens, SoundStreamCodec, V2Meow

    torch.manual_seed(0)
    codec_model = V2Meow(**stage_args("codec", size))
    codec = SoundStreamCodec(codec_model.codec, dict(codec_model.hparams), "untrained")
    semantic_model = V2Meow(**stage_args("semantic", size))
    rate = codec.sample_rate
    h = semantic_model.hparams
    per_clip = int(10 * h.sample_rate / (h.mel_hop * h.stack))  # frames of a 10-s clip
    noise = [0.1 * torch.randn(10 * rate) for _ in range(max(1, math.ceil(h.semantic_clusters / per_clip)))]
    semantic_model.fit_kmeans(noise)
    tokens = SemanticTokens(semantic_model.semantic, dict(semantic_model.hparams), "untrained")
    t = torch.arange(int(seconds * rate)) / rate
    audio = (0.3 * torch.sin(2 * math.pi * 220 * t) + 0.05 * torch.randn(t.numel()))[None]
    with torch.inference_mode():
        codes = codec.encode(audio, rate)
        (encode, encode_cpu) = _best(lambda: codec.encode(audio, rate), repeats)
        (decode, decode_cpu) = _best(lambda: codec.decode(codes), repeats)
        (semantic, semantic_cpu) = _best(lambda: tokens.encode(audio, rate), repeats)
    codec_rtf = (encode + decode) / seconds
    return {
        "codec": f"{codec.levels} x {codec.codebook_size} at {codec.frame_rate:g} Hz",
        "codec_parameters": sum(p.numel() for p in codec.net.parameters()),
        "semantic": f"K {tokens.vocab_size} at {tokens.rate:g} Hz",
        "semantic_parameters": sum(p.numel() for p in tokens.net.parameters()),
        "encode_s": encode,
        "decode_s": decode,
        "codec_rtf": codec_rtf,
        "codec_x_realtime": 1.0 / codec_rtf,
        "codec_cpu_rtf": (encode_cpu + decode_cpu) / seconds,  # CPU seconds (all threads) per second of audio
        "tokenise_cpu_s": encode_cpu + semantic_cpu,
        "semantic_s": semantic,
        "tokenise_s": encode + semantic,
        "tokenise_x_realtime": seconds / (encode + semantic),
    }


def bench(seconds: float = 10.0, threads: int = 2, repeats: int = 2, sizes: Sequence[str] = SIZES) -> dict[str, Any]:
    """``{"seconds", "threads", "<size>": {...}}`` (see the module docstring); torch runs on ``threads`` threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out: dict[str, Any] = {"seconds": seconds, "threads": threads}
        for size in sizes:
            out[size] = bench_size(size, seconds, repeats)
        return out
    finally:
        torch.set_num_threads(before)


def markdown(result: dict[str, Any]) -> list[str]:
    """The rows of ``make bench``'s V2Meow table."""
    lines = [
        f"{result['seconds']:g} s of audio on {result['threads']} torch threads (untrained networks; best of the "
        "repeats).",
        "",
        "| size | codec | encode + decode RTF | x real time | CPU s per audio s | semantic "
        "| tokenise (codec + semantic) s | x real time | tokenise CPU s |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for size in SIZES:
        if size in result:
            r = result[size]
            lines.append(
                f"| {size} | {r['codec']} | {r['codec_rtf']:.3f} | {r['codec_x_realtime']:.1f} | "
                f"{r['codec_cpu_rtf']:.3f} | {r['semantic']} | {r['tokenise_s']:.2f} | "
                f"{r['tokenise_x_realtime']:.1f} | {r['tokenise_cpu_s']:.2f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=SIZES)
    args = parser.parse_args(argv)
    result = bench(args.seconds, args.threads, args.repeats, args.sizes)
    print(json.dumps(result, indent=1))
    print("\n".join(markdown(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
