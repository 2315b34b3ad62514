"""V2Meow's tokenisers and token stages on the CPU (``make bench``, section ``v2meow``; docs/V2MEOW.md, Results).

    .venv/bin/python benchmarks/v2meow.py [--seconds 10] [--threads 2] [--sizes debug paper]
        [--sampling-tokens 500] [--sampling-threads 1] [--chain-seconds 10]

Per size (``debug``: ``experiments/v2meow_<stage>.yaml`` + ``experiments/debug/``; ``paper``: the configs alone):
the codec's encode + decode time of ``seconds`` of audio, as a real-time factor (time / audio length; "x real time"
is its inverse), and the time to tokenise the clip (codec encode + semantic tokens). The networks are untrained
(the speed does not depend on the weights); the semantic k-means is fitted on noise so that it can encode.

Sampling (``sampling``, :func:`sampling_speed`): greedy decoding of ``sampling_tokens`` tokens by stage 1's
encoder-decoder (visual -> semantic, cross-attending to 10 s of visual memory) and stage 2's decoder-only prefix LM
(10 s of semantic tokens as the prefix, then coarse tokens under the per-level masks), once with the KV cache
(:meth:`TokenLM.prefill` + :meth:`TokenLM.step_fn`, as :meth:`V2Meow.generate_tokens` samples) and once with the
reference loop :func:`uncached_step`, which recomputes the whole prefix at every step through the teacher-forcing
forward (no cache exists on that path). Both must give the same tokens (asserted); tokens/s and the ratio are
printed; the cached time includes the one-call prefill of stage 2's prefix. Size :data:`MID` (d 256, 3 + 3 layers,
4 heads, ff 1024; about 2 min for both stages on one thread of a loaded machine), not the paper's d 1024 x 12 layers,
whose uncached loop takes far longer at 500 tokens on one thread (not measured at paper size).

Chain (``chain``, :func:`chain_speed`): the seconds each stage takes to generate ``chain_seconds`` of audio at debug
sizes (an untrained chain built here: codec, semantic tokenizer, stages 1-3 as in ``make v2meow``, saved to a
temporary folder and chained by path), temperature sampling as ``generate`` does: stage 1 (encoder + semantic
tokens), stage 2 (coarse tokens), stage 3 (fine tokens, per 3-s chunk), codec decoder."""

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


MID = {"lm_dim": 256, "lm_encoder_layers": 3, "lm_decoder_layers": 3, "lm_heads": 4, "lm_feedforward": 1024}
"""The sampling benchmark's size (module docstring); the paper's vocabularies, relative distances and rates."""
CHAIN_DEBUG = ("v2meow_codec", "v2meow_semantic", "v2meow_fine")  # debug overlays of the chain's networks
FEATURE_DIMS = (1280, 45)  # effnet_lite0 + flow, as experiments/v2meow.yaml


def paper_defaults() -> dict[str, Any]:
    """V2Meow's constructor defaults (the paper's values)."""
    import inspect

    from models.v2meow import V2Meow

    params = inspect.signature(V2Meow.__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def uncached_step(net: Any, history: Any, prefix_len: int, memory: Any = None) -> Callable[[Any, Any], Any]:
    """The reference loop without a KV cache, as a ``step(tokens [B], history) -> (logits [B, V], history)`` for
    :func:`models.nn.decoding.sample` (whose ``cache`` is then the token history ``[B, L]``, starting as
    ``history``): every step appends the token and runs the teacher-forcing forward of :class:`TokenLM` over the
    whole sequence (prefix included; ``prefix_len`` for the seconds encoding, ``memory`` for cross-attention),
    keeping the last position's logits."""
    import torch

    del history  # the start of the history is the sampler's initial cache

    def step(tokens: Any, history: Any) -> tuple[Any, Any]:
        history = torch.cat([history, tokens[:, None]], 1)
        return net(history, prefix_len, memory)[:, -1], history

    return step


def sample_both(net: Any, tokens: int, prefix: Any = None, memory: Any = None, allowed: Any = None) -> dict[str, Any]:
    """Greedy ``tokens`` of ``net`` (a :class:`TokenLM`) with the KV cache and with :func:`uncached_step`, one row:
    ``{"cached": ids, "uncached": ids, "cached_s", "uncached_s"}``; ``prefix`` [1, P] ids of a decoder-only LM
    (prefilled in one call), ``memory`` the encoder output of an encoder-decoder."""
    import torch

    from models.nn.decoding import sample

    kw = dict(batch_size=1, sos=net.vocab_size - 1, eos=-1, pad=0, max_len=tokens, greedy=True, allowed=allowed)
    prefix_len = 0 if prefix is None else prefix.shape[1]
    with torch.inference_mode():
        start = time.perf_counter()
        cache = net.init_cache(memory, batch_size=1)
        if prefix is not None:
            _, cache = net.prefill(prefix, cache, prefix_len)
        cached = sample(net.step_fn(prefix_len), cache, **kw).tokens
        cached_s = time.perf_counter() - start
        start = time.perf_counter()
        history = torch.zeros(1, 0, dtype=torch.long) if prefix is None else prefix
        uncached = sample(uncached_step(net, history, prefix_len, memory), history, **kw).tokens
        uncached_s = time.perf_counter() - start
    return {"cached": cached, "uncached": uncached, "cached_s": cached_s, "uncached_s": uncached_s}


def sampling_speed(tokens: int = 500, sizes: dict[str, Any] | None = None, stage2: bool = True) -> dict[str, Any]:
    """Cached vs uncached greedy sampling of ``tokens`` tokens by stage 1 (and stage 2 with ``stage2``) at
    ``sizes`` (default :data:`MID`) over the paper's other hyper-parameters; one ``AssertionError`` naming the
    stage and the first differing step if the two paths disagree."""
    import torch

    from models.v2meow import V2Meow
    from models.v2meow.token_networks import level_masks

    h = paper_defaults() | {"feature_dims": FEATURE_DIMS} | (MID if sizes is None else sizes)
    torch.manual_seed(0)
    out: dict[str, Any] = {"tokens": tokens, "size": {k: h[k] for k in MID}}
    runs: dict[str, dict[str, Any]] = {}
    net = V2Meow._token_network("visual2semantic", h).eval()
    seconds = int(h["stage_crop_seconds"])
    with torch.inference_mode():
        memory = net.encoder(torch.randn(1, seconds, sum(FEATURE_DIMS)))
    allowed = (torch.arange(net.vocab_size) < h["semantic_clusters"])[None]
    runs["stage1_visual2semantic"] = sample_both(net, tokens, memory=memory, allowed=allowed) | {"net": net}
    if stage2:
        net = V2Meow._token_network("semantic2coarse", h | {"coarse_visual": False}).eval()
        ks, k, nc = h["semantic_clusters"], h["codec_codebook_size"], h["coarse_levels"]
        semantic_rate = h["sample_rate"] / (h["mel_hop"] * h["stack"])
        prefix = torch.randint(0, ks, (1, round(seconds * semantic_rate)))
        allowed = level_masks(net.vocab_size, nc, k, offset=ks)
        runs["stage2_semantic2coarse"] = sample_both(net, tokens, prefix=prefix, allowed=allowed) | {"net": net}
        runs["stage2_semantic2coarse"]["prefix"] = int(prefix.shape[1])
    for name, run in runs.items():
        same = run["cached"] == run["uncached"]
        if not bool(same.all()):
            first = int((~same).nonzero()[0, 1])
            raise AssertionError(f"bench v2meow: {name}: cached and uncached greedy tokens differ from step {first}")
        out[name] = {
            "prefix": run.get("prefix", 0),
            "parameters": sum(p.numel() for p in run["net"].parameters()),
            "cached_tokens_per_s": tokens / run["cached_s"],
            "uncached_tokens_per_s": tokens / run["uncached_s"],
            "speedup": run["uncached_s"] / run["cached_s"],
            "same_tokens": True,
        }
    return out


def debug_chain(folder: Path) -> Any:
    """An untrained chain at debug sizes: codec and semantic tokenizer, stages 1 and 2 saved with their paths, then
    stage 3 built from all of them (as ``make v2meow`` chains checkpoints) -> the ``coarse2fine`` V2Meow."""
    import torch
    import yaml

    from models.v2meow import V2Meow

    sizes: dict[str, Any] = {"feature_dims": FEATURE_DIMS}
    for name in CHAIN_DEBUG:
        sizes |= yaml.safe_load((ROOT / "experiments" / "debug" / f"{name}.yaml").read_text())["model"]["init_args"]
    torch.manual_seed(0)
    paths: dict[str, Path] = {}

    def save(stage: str, **args: Any) -> None:
        model = V2Meow(stage=stage, **sizes, **args)
        paths[stage] = folder / f"{stage}.ckpt"
        torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, paths[stage])

    for stage in ("codec", "semantic", "visual2semantic", "semantic2coarse"):
        save(stage, **{f"{name}_ckpt": str(path) for name, path in paths.items()})
    return V2Meow(stage="coarse2fine", **sizes, **{f"{name}_ckpt": str(path) for name, path in paths.items()}).eval()


def chain_speed(seconds: float = 10.0, repeats: int = 1) -> dict[str, Any]:
    """Seconds per stage to generate ``seconds`` of audio with :func:`debug_chain` (one window, temperature
    sampling, best of ``repeats`` for the total): the real :meth:`V2Meow.generate_tokens`, split at the ends of its
    sampling calls (stage 1: 1 call, stage 2: 1, stage 3: one per chunk), the rest being the codec decoder."""
    import tempfile

    import torch

    from models.v2meow import model as v2meow_model

    with tempfile.TemporaryDirectory() as tmp:
        chain = debug_chain(Path(tmp))
    h = chain.hparams
    features = torch.randn(1, max(1, round(seconds)), sum(FEATURE_DIMS))
    ends: list[float] = []
    original = v2meow_model.sample

    def timed_sample(*args: Any, **kw: Any) -> Any:
        result = original(*args, **kw)
        ends.append(time.perf_counter())
        return result

    best: dict[str, Any] | None = None
    v2meow_model.sample = timed_sample
    try:
        for r in range(repeats + 1):  # the first call warms up
            ends.clear()
            start = time.perf_counter()
            out = chain.generate_tokens(features, generator=torch.Generator().manual_seed(r))
            end = time.perf_counter()
            times = {
                "stage1_visual2semantic_s": ends[0] - start,
                "stage2_semantic2coarse_s": ends[1] - ends[0],
                "stage3_coarse2fine_s": ends[-1] - ends[1],
                "codec_decoder_s": end - ends[-1],
                "total_s": end - start,
            }
            if r and (best is None or times["total_s"] < best["total_s"]):
                best = times
    finally:
        v2meow_model.sample = original
    assert best is not None
    return {
        "seconds": seconds,
        "audio_s": out["audio"].shape[-1] / h.sample_rate,
        "tokens": {"semantic": out["semantic"].numel(), "coarse": out["coarse"].numel(), "fine": out["fine"].numel()},
        **best,
    }


def bench(
    seconds: float = 10.0,
    threads: int = 2,
    repeats: int = 2,
    sizes: Sequence[str] = SIZES,
    sampling_tokens: int = 500,
    sampling_threads: int = 1,
    chain_seconds: float = 10.0,
) -> dict[str, Any]:
    """``{"seconds", "threads", "<size>": {...}, "sampling": {...}, "chain": {...}}`` (see the module docstring);
    torch runs on ``threads`` threads (``sampling_threads`` for the sampling benchmark; 0 tokens / seconds skip
    ``sampling`` / ``chain``)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out: dict[str, Any] = {"seconds": seconds, "threads": threads}
        for size in sizes:
            out[size] = bench_size(size, seconds, repeats)
        if chain_seconds:
            out["chain"] = chain_speed(chain_seconds) | {"threads": threads}
        if sampling_tokens:
            torch.set_num_threads(sampling_threads)
            out["sampling"] = sampling_speed(sampling_tokens) | {"threads": sampling_threads}
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
    if "sampling" in result:
        r = result["sampling"]
        size = r["size"]
        lines += [
            "",
            f"Greedy sampling of {r['tokens']} tokens, KV cache vs the prefix recomputed every step (same tokens "
            f"asserted), {r['threads']} torch thread(s), d {size['lm_dim']}, {size['lm_encoder_layers']} + "
            f"{size['lm_decoder_layers']} layers, {size['lm_heads']} heads, ff {size['lm_feedforward']}:",
            "",
            "| stage | prefix | parameters | cached tokens/s | uncached tokens/s | speedup |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name in ("stage1_visual2semantic", "stage2_semantic2coarse"):
            if name in r:
                x = r[name]
                lines.append(
                    f"| {name} | {x['prefix']} | {x['parameters'] / 1e6:.1f} M | {x['cached_tokens_per_s']:.1f} | "
                    f"{x['uncached_tokens_per_s']:.1f} | {x['speedup']:.1f} x |"
                )
    if "chain" in result:
        r = result["chain"]
        lines += [
            "",
            f"Seconds per stage to generate {r['seconds']:g} s of audio, untrained debug chain, "
            f"{r['threads']} torch threads ({r['tokens']['semantic']} semantic, {r['tokens']['coarse']} coarse, "
            f"{r['tokens']['fine']} fine tokens):",
            "",
            "| stage 1 visual -> semantic | stage 2 semantic -> coarse | stage 3 coarse -> fine | codec decoder "
            "| total |",
            "|---:|---:|---:|---:|---:|",
            f"| {r['stage1_visual2semantic_s']:.2f} | {r['stage2_semantic2coarse_s']:.2f} | "
            f"{r['stage3_coarse2fine_s']:.2f} | {r['codec_decoder_s']:.2f} | {r['total_s']:.2f} |",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=SIZES)
    parser.add_argument("--sampling-tokens", type=int, default=500, help="0 skips the sampling benchmark")
    parser.add_argument("--sampling-threads", type=int, default=1)
    parser.add_argument("--chain-seconds", type=float, default=10.0, help="0 skips the per-stage chain timing")
    args = parser.parse_args(argv)
    result = bench(args.seconds, args.threads, args.repeats, args.sizes, args.sampling_tokens, args.sampling_threads,
                   args.chain_seconds)  # fmt: skip
    print(json.dumps(result, indent=1))
    print("\n".join(markdown(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
