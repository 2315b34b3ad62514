"""The suite's benchmark runner (``make bench``): one JSON and one Markdown table of throughput *ratios*.

    .venv/bin/python benchmarks/run.py [--quick] [--out benchmarks] [--configs foley_music audeo ...]

Sections (each in its own module):

- training (:mod:`benchmarks.training`): samples/s of every ``experiments/<name>.yaml`` with a debug config, and the
  share of wall time spent waiting for data;
- loading (:mod:`benchmarks.loading`): clip loading through the suite's readers vs raw decode of the same files;
- synthesis (:mod:`benchmarks.synthesis`): FluidSynth real-time factor of :func:`music.synth.render`;
- decoding (:func:`benchmarks.foley_decoding.decode_speed`, the Foley Music decoder benchmark): greedy transformer
  decoding tokens/s with and without the KV cache (identical tokens checked);
- v2meow (:mod:`benchmarks.v2meow`): V2Meow's codec encode + decode real-time factor and the time to tokenise a
  10-s clip (codec + semantic tokens), debug and paper sizes, on 2 threads; stage 1-2 greedy sampling with vs
  without the KV cache (same tokens asserted) and the seconds per stage to generate 10 s with a debug chain.

Writes ``<out>/results.json`` (every number, plus the environment) and ``<out>/RESULTS.md``, atomically. Absolute
numbers depend on the machine and its load; the ratios (speed-ups, shares, real-time factors) are what to compare.
``--quick`` shrinks every section to seconds (one training config, tiny decoder, short audio) for tests.
A failing section or config is recorded with its error, reported, and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FULL = {
    "training": {"steps": 6, "warmup": 2},
    "loading": {"seconds": 12.0, "clips": 16},
    "synthesis": {"seconds": 30.0, "sample_rates": (16000, 44100)},
    "decoding": {"length": 129, "beam_length": 65, "beam": 5, "layers": 6, "d_model": 512, "heads": 8, "ff": 1024},
    "v2meow": {"seconds": 10.0, "threads": 2, "repeats": 2, "sizes": ("debug", "paper")},
}
QUICK = {
    "training": {"steps": 2, "warmup": 1},
    "loading": {"seconds": 7.0, "clips": 3},
    "synthesis": {"seconds": 3.0, "sample_rates": (16000,)},
    "decoding": {"length": 13, "beam_length": 9, "beam": 2, "layers": 1, "d_model": 32, "heads": 2, "ff": 64},
    "v2meow": {
        "seconds": 1.0,
        "threads": 2,
        "repeats": 1,
        "sizes": ("debug",),
        "sampling_tokens": 8,
        "chain_seconds": 1.0,
    },
}
QUICK_CONFIG = "foley_music"


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    try:
        return fn(), time.perf_counter() - start
    except Exception as error:  # noqa: BLE001 - recorded in the results and reported by the exit status
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {error}"}, time.perf_counter() - start


def _training(settings: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    from benchmarks.training import bench_config, debug_configs

    configs = debug_configs()
    if names is not None:
        unknown = sorted(set(names) - {name for name, _, _ in configs})
        if unknown:
            raise ValueError(f"bench: no experiments/<name>.yaml with a debug config for {unknown}")
        configs = [entry for entry in configs if entry[0] in names]
    results = {}
    for name, config, debug in configs:
        results[name], _ = _timed(lambda c=config, d=debug: bench_config(c, d, settings["steps"], settings["warmup"]))
    return results


def _loading(settings: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.loading import bench

    rates = bench(settings["seconds"], settings["clips"])
    return {
        "rates": rates,
        "ratios": {
            "video_clip_read_vs_raw_decord": rates["video_clip_read_fps"] / rates["video_raw_decord_fps"],
            "video_dataset_vs_raw_decord": rates["video_dataset_fps"] / rates["video_raw_decord_fps"],
            "video_raw_pyav_vs_decord": rates["video_raw_pyav_fps"] / rates["video_raw_decord_fps"],
            "keypoints_openpose_clip_vs_raw_json": rates["keypoints_clip_openpose_fps"]
            / rates["keypoints_raw_openpose_json_fps"],
            "keypoints_npy_dataset_vs_raw_npy": rates["keypoints_dataset_foley_npy_fps"]
            / rates["keypoints_raw_foley_npy_fps"],
        },
    }


def _decoding(settings: dict[str, Any]) -> dict[str, Any]:
    import torch

    from benchmarks.foley_decoding import decode_speed

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {**settings, "device": device, **decode_speed(argparse.Namespace(device=device, **settings))}


def run(quick: bool = False, configs: list[str] | None = None) -> dict[str, Any]:
    """Every section; ``{"environment": ..., "<section>": {...}, "seconds": {...}}``."""
    import torch

    settings = QUICK if quick else FULL
    if quick and configs is None:
        configs = [QUICK_CONFIG]
    from benchmarks import synthesis, v2meow

    sections: dict[str, Callable[[], Any]] = {
        "training": lambda: _training(settings["training"], configs),
        "loading": lambda: _loading(settings["loading"]),
        "synthesis": lambda: synthesis.bench(**settings["synthesis"]),
        "decoding": lambda: _decoding(settings["decoding"]),
        "v2meow": lambda: v2meow.bench(**settings["v2meow"]),
    }
    results: dict[str, Any] = {
        "environment": {
            "quick": quick,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        },
        "settings": json.loads(json.dumps(settings)),
        "seconds": {},
    }
    for name, fn in sections.items():
        results[name], results["seconds"][name] = _timed(fn)
    return results


def errors(results: dict[str, Any]) -> list[str]:
    """``section[/config]: message`` for every failure recorded in ``results``."""
    found = []
    for section in ("training", "loading", "synthesis", "decoding", "v2meow"):
        value = results.get(section, {})
        if "error" in value:
            found.append(f"{section}: {value['error']}")
        elif section == "training":
            found += [f"training/{name}: {entry['error']}" for name, entry in value.items() if "error" in entry]
    return found


def _cell(text: str, limit: int = 100) -> str:
    """One table cell: the first line of a message, ``|`` escaped, cut at ``limit`` characters."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return first[:limit].replace("|", "\\|")


def _f(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = [
        "# Benchmarks",
        "",
        f"`make bench` on {env['date']}: torch {env['torch']}, {env['cpu_count']} CPU cores, "
        f"{env['torch_threads']} torch threads, GPU: {env['cuda'] or 'none'}{' (--quick)' if env['quick'] else ''}. "
        "Absolute rates depend on the machine and its load; compare the ratios.",
        "",
        "## Training (debug configs, steady state after warm-up)",
        "",
        "| config | samples/s | batch | data-wait share of step time |",
        "|---|---:|---:|---:|",
    ]
    training = results.get("training", {})
    if "error" in training:
        lines.append(f"| (all) | error: {_cell(training['error'])} | | |")
    else:
        for name, entry in training.items():
            if "error" in entry:
                lines.append(f"| {name} | error: {_cell(entry['error'])} | | |")
            else:
                share = f"{100 * entry['data_wait_share']:.0f} %"
                lines.append(f"| {name} | {_f(entry['samples_per_s'])} | {_f(entry['batch_size'], 1)} | {share} |")
    lines += ["", "## Data loading vs raw decode", "", "| ratio | value |", "|---|---:|"]
    loading = results.get("loading", {})
    if "error" in loading:
        lines.append(f"| (all) | error: {_cell(loading['error'])} |")
    else:
        lines += [f"| {name} | {_f(value, 3)} |" for name, value in loading["ratios"].items()]
        lines += ["", "| rate (frames/s) | value |", "|---|---:|"]
        lines += [f"| {name} | {_f(value, 1)} |" for name, value in loading["rates"].items()]
    synth = results.get("synthesis", {})
    lines += ["", f"## FluidSynth ({synth.get('soundfont', '?')}, {synth.get('music_seconds', '?')} s of piano)", ""]
    if "error" in synth:
        lines.append(f"error: {_cell(synth['error'])}")
    else:
        lines += ["| sample rate | real-time factor | x real time |", "|---:|---:|---:|"]
        for key in sorted(k for k in synth if k.startswith("rtf_")):
            rate = key.removeprefix("rtf_")
            lines.append(f"| {rate} | {_f(synth[key], 4)} | {_f(synth[f'x_realtime_{rate}'], 1)} |")
    dec = results.get("decoding", {})
    lines += ["", "## Transformer decoding, KV cache vs none", ""]
    if "error" in dec:
        lines.append(f"error: {_cell(dec['error'])}")
    else:
        lines += [
            "Greedy decoding, batch 1, EOS masked, KV cache vs the released code's prefix-recomputing loop (identical "
            "tokens, checked); beam search vs the released beam loop.",
            "",
            "| tokens | d_model x layers | device | cached tok/s | released tok/s | greedy speed-up | beam speed-up |",
            "|---:|---|---|---:|---:|---:|---:|",
            f"| {dec['tokens']} | {dec['d_model']} x {dec['layers']} | {dec['device']} | "
            f"{_f(dec['cached_tokens_per_s'], 1)} | {_f(dec['released_tokens_per_s'], 1)} | "
            f"{_f(dec['greedy_speedup'])} | {_f(dec['beam_speedup'])} "
            f"(beam {dec['beam_size']}, {dec['beam_tokens']} tokens) |",
        ]
    from benchmarks.v2meow import markdown as v2meow_markdown

    v2m = results.get("v2meow", {})
    lines += ["", "## V2Meow tokenisers: codec encode + decode, tokenising a clip", ""]
    lines += [f"error: {_cell(v2m['error'])}"] if "error" in v2m else v2meow_markdown(v2m) if v2m else []
    seconds = ", ".join(f"{name} {value:.0f} s" for name, value in results.get("seconds", {}).items())
    lines += ["", f"Section wall times: {seconds}.", ""]
    return "\n".join(lines)


def write(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """``out/results.json`` and ``out/RESULTS.md``, each written to a temporary file and renamed."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("results.json", json.dumps(results, indent=1)), ("RESULTS.md", markdown(results))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text + "\n")
        tmp.replace(out / name)
        paths.append(out / name)
    return paths[0], paths[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long run of every section (tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="folder for results.json, RESULTS.md")
    parser.add_argument("--configs", nargs="+", default=None, help="training: only these experiment names")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, configs=args.configs)
    json_path, md_path = write(results, args.out)
    print(f"bench: wrote {json_path} and {md_path}")
    failures = errors(results)
    for failure in failures:
        print(f"bench: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
