"""Reproduce Foley Music's automatic evaluations (Tables 3, 4, 5) with the suite's configs, and print each table's
layout with the paper's numbers beside ours and the dataset named.

- Table 4 (visual representation) and Table 5 (sequence model): validation token NLL per instrument of the models of
  ``experiments/foley_music{,_rgb,_flow,_gru,_nohands}.yaml`` on URMP (paper columns: violin, viola, cello, trumpet,
  flute; ours adds the all-instrument NLL and the unigram baseline).
- Table 3: NDB (k-means cells of the training clips' log-spectrograms, :class:`metrics.ndb.NDB`) of audio rendered
  from the skeleton model's beam-search MIDI for the validation clips; the ground-truth validation audio is scored
  the same way as a reference. Only "Ours" can be measured: the baselines (VIG, WaveNet, GAN, SampleRNN) are not part
  of this suite and keep the paper's numbers.
- Acceptance extras: NLL of the same decoder trained with the pose memory zeroed, and pitch-class-histogram
  correlation (:class:`metrics.pitch_class.PitchClassCorrelation`) of generated vs true MIDI for pose-conditioned vs
  zeroed-pose models.

Every variant runs through ``cli.py`` (``fit``, then ``validate`` of its last checkpoint) with its config, so the
suite's default callbacks, checkpointing and logging apply. ``--scale smoke`` overlays
``experiments/debug/foley_music_smoke.yaml`` (small encoders and decoder, 150 steps of batch 8 on 1 minute of
synthetic URMP: minutes per variant on a CPU); ``--scale full`` uses the configs as they are (paper sizes, 40 000
steps of batch 32 per variant: a GPU job). Without ``--root`` the data is the embedded SYNTHETIC URMP, and every
table says so.

Without a CUDA GPU, ``--scale full`` does not train: it prints the expected duration and the smoke command and exits
with status 2 (:mod:`experiments.tables.full_scale`); ``--yes`` runs it anyway.

    python experiments/tables/foley_music.py --scale smoke [--root URMP/Dataset] [--out runs/reproduce_foley]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.cli_step import cli_step  # noqa: E402
from experiments.tables.full_scale import check_full_scale  # noqa: E402

PAPER_INSTRUMENTS = ("violin", "viola", "cello", "trumpet", "flute")
PAPER_TABLE4 = {
    "RGB image": (1.586, 3.772, 3.077, 2.748, 2.219),
    "Optical Flow": (1.581, 3.859, 3.178, 3.013, 2.046),
    "Skeleton (Ours)": (1.558, 3.603, 2.981, 2.512, 1.995),
}
PAPER_TABLE5 = {
    "GRU": (1.631, 3.747, 3.06, 2.631, 2.101),
    "Transformers w/o hands (Ours)": (1.565, 3.632, 3.014, 2.805, 2.259),
    "Transformers w hands (Ours)": (1.558, 3.603, 2.981, 2.512, 1.995),
}
PAPER_TABLE3 = {"VIG": 33, "WaveNet": 32, "GAN": 25, "SampleRNN": 30, "Ours": 20}

# variant -> (config under experiments/, extra cli.py arguments)
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "skeleton": ("foley_music.yaml", ()),
    "rgb": ("foley_music_rgb.yaml", ()),
    "flow": ("foley_music_flow.yaml", ()),
    "gru": ("foley_music_gru.yaml", ()),
    "nohands": ("foley_music_nohands.yaml", ()),
    "zero_memory": ("foley_music.yaml", ("--model.init_args.zero_memory=true",)),
}
SMOKE_OVERLAY = "experiments/debug/foley_music_smoke.yaml"
# --scale full without a GPU. About 2.5 TFLOP per paper-size training step (6-block d-512 decoder over 32 x 512 events,
# ST-GCN over 32 x 132 frames x 65 joints, forward + backward). Measured: 40-70 s per batch-2 step on one shared CPU
# thread (the config's model on 1 minute of synthetic URMP).
FULL_ESTIMATE = (
    "6 models x 40 000 steps of batch 32 at the paper's sizes: roughly 1 h per model on one data-centre GPU "
    "(6-8 h in all, estimate); months on a CPU (one batch-2 step took 40-70 s on one CPU thread, and a batch-32 "
    "step does 16 times the work)."
)


def variant_args(variant: str, args: argparse.Namespace) -> list[str]:
    """The ``cli.py`` arguments of ``variant`` at ``args.scale`` (config, overlay, data and step overrides)."""
    config, extra = VARIANTS[variant]
    out = ["--config", f"experiments/{config}"]
    if args.scale == "smoke":
        out += ["--config", SMOKE_OVERLAY]
    out += [
        *extra,
        f"--seed_everything={args.seed}",
        f"--trainer.accelerator={args.accelerator}",
        "--trainer.devices=1",
    ]
    if args.root is not None:
        out.append(f"--data.init_args.root={args.root}")
    if args.minutes is not None:
        out.append(f"--data.init_args.synthetic_minutes={args.minutes}")
    if args.steps:
        out.append(f"--trainer.max_steps={args.steps}")
    return out


def train_and_validate(variant: str, args: argparse.Namespace, out: Path) -> tuple[Any, dict[str, float]]:
    """``cli.py fit`` (no validation during training), then ``cli.py validate`` of its last checkpoint; returns the
    validate run's CLI (its ``model`` holds the trained weights) and the validation NLL per instrument (``all``: every
    token) from its ``callback_metrics``."""
    common = [
        *variant_args(variant, args), "--trainer.default_root_dir", str(out / variant),
        "--trainer.logger.init_args.save_dir", str(out), "--trainer.logger.init_args.name", variant,
        "--trainer.enable_progress_bar=false",
    ]  # fmt: skip
    ckpt_dir = out / variant / "checkpoints"
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # a stale last.ckpt would make Lightning write last-v1.ckpt
    start = time.perf_counter()
    fit = cli_step(["fit", *common, "--trainer.limit_val_batches=0", "--trainer.num_sanity_val_steps=0",
                "--trainer.enable_model_summary=false", "--checkpoint.dirpath", str(ckpt_dir)])  # fmt: skip
    steps = fit.trainer.global_step
    ckpt = ckpt_dir / "last.ckpt"
    if not ckpt.is_file():
        raise RuntimeError(f"foley_music table: variant {variant} wrote no checkpoint {ckpt}")
    cli = cli_step(["validate", *common, "--ckpt_path", str(ckpt)])
    nll = {
        ("all" if key == "val/nll" else key.removeprefix("val/nll/")): float(value)
        for key, value in cli.trainer.callback_metrics.items()
        if key == "val/nll" or key.startswith("val/nll/")
    }
    if "all" not in nll:
        raise RuntimeError(f"foley_music table: validating {variant} logged no val/nll")
    nll["seconds"] = time.perf_counter() - start
    print(f"[foley_music table] {variant}: {steps} steps, val NLL {nll['all']:.3f}", flush=True)
    return cli, nll


def unigram_nll(data: Any) -> float:
    """NLL of the validation tokens under the training tokens' unigram distribution (the floor to beat)."""
    import torch

    from models.foley_music import token_nll_baseline

    train = torch.cat([b["events"] for b in data.train_dataloader()])
    val = torch.cat([b["events"] for b in data.val_dataloader()])
    return token_nll_baseline(train, val)


def pitch_class_score(model: Any, data: Any) -> tuple[list[tuple[Any, Any, int]], float]:
    """(generated MIDI, true MIDI, program) of every validation clip, and their mean pitch-class correlation."""
    from metrics.pitch_class import PitchClassCorrelation

    pairs = model.generate_batches(data.val_dataloader())
    metric = PitchClassCorrelation()
    metric.update([g for g, _, _ in pairs], [t for _, t, _ in pairs])
    return pairs, float(metric.compute())


def ndb_scores(pairs: list[tuple[Any, Any, int]], cli: Any, args: argparse.Namespace, k: int) -> dict[str, Any]:
    """NDB of generated and of ground-truth validation audio against the training clips' audio. The audio comes from
    the skeleton run's DataModule settings (same data, same synthetic size) with the audio field instead of the
    keypoints."""
    import numpy as np
    import torch

    from metrics.ndb import NDB, log_spectrogram_features
    from music.synth import render

    settings = cli.config["validate"]["data"]["init_args"].as_dict()
    settings |= {"fields": ["audio", "instrument"], "sample_rate": 16000, "batch_size": 16, "num_workers": 0}
    settings["clips_per_epoch"] = args.ndb_train_clips
    data = type(cli.datamodule)(**settings)
    data.prepare_data()
    data.setup("fit")
    train_audio = torch.cat([b["audio"] for b in data.train_dataloader()])
    train_features = log_spectrogram_features(train_audio, 16000)
    generated = [render(g, sample_rate=16000) for g, _, _ in pairs]
    truth = [render(t, sample_rate=16000) for _, t, _ in pairs]
    results = {"k": k, "train_clips": int(train_audio.shape[0]), "generated_clips": len(generated)}
    for name, clips in (("generated", generated), ("truth", truth)):
        metric = NDB(k=k, seed=args.seed).fit(train_features)
        metric.update(log_spectrogram_features([np.asarray(c, dtype=np.float32) for c in clips], 16000))
        results[name] = {key: float(v) for key, v in metric.compute().items()}
    return results


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def nll_table(title: str, paper: dict[str, tuple[float, ...]], ours: dict[str, dict[str, float]], note: str) -> str:
    cols = PAPER_INSTRUMENTS
    head = f"| Method | source | {' | '.join(cols)} | all | unigram |"
    lines = [f"### {title}", "", note, "", head, "|" + "---|" * (len(cols) + 4)]
    for method, values in paper.items():
        lines.append(f"| {method} | paper (URMP) | {' | '.join(f'{v:.3f}' for v in values)} | | |")
        row = ours.get(method)
        if row is not None:
            cells = " | ".join(fmt(row.get(c)) for c in cols)
            lines.append(f"| {method} | ours | {cells} | {fmt(row.get('all'))} | {fmt(row.get('unigram'))} |")
    others = sorted({k for row in ours.values() for k in row} - set(cols) - {"all", "unigram", "seconds"})
    for method, row in ours.items():
        if others:
            listed = ", ".join(f"{k} {fmt(row.get(k))}" for k in others)
            lines.append(f"\n{method}, other instruments of our validation split: {listed}")
    return "\n".join(lines)


def render_report(results: dict[str, Any]) -> str:
    nll = results["nll"]
    rows4 = {"RGB image": nll.get("rgb"), "Optical Flow": nll.get("flow"), "Skeleton (Ours)": nll.get("skeleton")}
    rows5 = {
        "GRU": nll.get("gru"),
        "Transformers w/o hands (Ours)": nll.get("nohands"),
        "Transformers w hands (Ours)": nll.get("skeleton"),
    }
    note = (
        f"Validation token NLL (nats; lower is better). Ours: {results['dataset']}, scale {results['scale']}; "
        "one model over all instruments, NLL per instrument; n/a = instrument absent from our validation split. "
        "RGB / flow rows use EfficientNet-Lite0 / Farneback features instead of the paper's I3D."
    )
    parts = [
        f"## Foley Music reproduction ({results['dataset']}, scale {results['scale']})",
        nll_table("Table 4: visual representation", PAPER_TABLE4, {k: v for k, v in rows4.items() if v}, note),
        nll_table("Table 5: sequence model", PAPER_TABLE5, {k: v for k, v in rows5.items() if v}, note),
    ]
    ndb = results.get("ndb")
    lines = ["### Table 3: NDB (lower is better)", ""]
    lines.append(
        "Paper: MUSIC + AtinPiano test sets, k = 50. Ours: the skeleton model's beam-search MIDI for the validation "
        f"clips of {results['dataset']}, rendered with FluidSynth, against the training clips' audio."
    )
    lines += ["", "| Method | " + " | ".join(PAPER_TABLE3) + " |", "|---|" + "---|" * len(PAPER_TABLE3)]
    lines.append("| paper | " + " | ".join(str(v) for v in PAPER_TABLE3.values()) + " |")
    if ndb:
        ours = ndb["generated"]["ndb"]
        lines.append("| ours | " + " | ".join(["—"] * (len(PAPER_TABLE3) - 1)) + f" | {ours:.0f} |")
        lines.append(
            f"\nOurs: k = {ndb['k']} cells, {ndb['train_clips']} training clips, {ndb['generated_clips']} generated "
            f"clips; NDB/k = {ndb['generated']['ndb_ratio']:.2f}, JS = {ndb['generated']['js']:.3f}. Ground-truth "
            f"validation audio scored the same way: NDB = {ndb['truth']['ndb']:.0f} (NDB/k = "
            f"{ndb['truth']['ndb_ratio']:.2f}, JS = {ndb['truth']['js']:.3f})."
        )
    parts.append("\n".join(lines))
    extra = ["### Does the model use the motion? (acceptance checks)", ""]
    if "skeleton" in nll and "zero_memory" in nll:
        ratio = nll["skeleton"]["all"] / nll["zero_memory"]["all"]
        extra.append(
            f"- validation NLL, pose-conditioned {nll['skeleton']['all']:.3f} vs pose memory zeroed "
            f"{nll['zero_memory']['all']:.3f}: ratio {ratio:.3f} (target <= 0.8)"
        )
    pcc = results.get("pitch_class_corr", {})
    if pcc:
        extra.append(
            f"- pitch-class histogram correlation with the truth: pose-conditioned {fmt(pcc.get('pose'))}, "
            f"pose memory zeroed {fmt(pcc.get('zero_memory'))}"
        )
    extra.append(f"- total time {results['seconds']:.0f} s")
    parts.append("\n".join(extra))
    return "\n\n".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Foley Music Tables 3-5 (paper numbers beside ours) through cli.py with the suite's configs."
    )
    parser.add_argument(
        "--scale",
        choices=("smoke", "full"),
        default="smoke",
        help=f"smoke: the {SMOKE_OVERLAY} overlay (minutes per variant on a CPU); full: the configs as they are "
        "(paper sizes; without a CUDA GPU it only prints the expected duration unless --yes)",
    )
    parser.add_argument("--yes", action="store_true", help="run --scale full even without a CUDA GPU")
    parser.add_argument("--root", default=None, help="URMP Dataset/ folder (default: the embedded synthetic URMP)")
    parser.add_argument("--out", default="runs/reproduce_foley", help="logs, checkpoints, results.json, tables.md")
    parser.add_argument("--steps", type=int, default=0, help="override the training steps of every variant")
    parser.add_argument("--minutes", type=float, default=None, help="synthetic data size (minutes of music)")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS)
    )
    parser.add_argument("--ndb-k", type=int, default=0, help="NDB cells (default: 50 full, 10 smoke)")
    parser.add_argument("--ndb-train-clips", type=int, default=200)
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_full_scale(args.scale, args.yes, "experiments/tables/foley_music.py", "reproduce-foley", FULL_ESTIMATE)
    import torch

    sys.argv = sys.argv[:1]  # the runs get their arguments from cli_step, not from this script's command line
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = "URMP" if args.root else "SYNTHETIC URMP (embedded; not the real dataset)"
    started = time.perf_counter()
    nll: dict[str, dict[str, float]] = {}
    runs: dict[str, Any] = {}
    baseline = None
    for variant in args.variants:
        cli, scores = train_and_validate(variant, args, out)
        if baseline is None:
            baseline = unigram_nll(cli.datamodule)
        scores["unigram"] = baseline
        nll[variant] = scores
        if variant in ("skeleton", "zero_memory"):
            runs[variant] = cli
    results: dict[str, Any] = {"dataset": dataset, "scale": args.scale, "nll": nll}
    if "skeleton" in runs:
        cli = runs["skeleton"]
        pairs, pose = pitch_class_score(cli.model, cli.datamodule)
        results["ndb"] = ndb_scores(pairs, cli, args, args.ndb_k or (50 if args.scale == "full" else 10))
        results["pitch_class_corr"] = {"pose": pose}
        if "zero_memory" in runs:
            blind = runs["zero_memory"]
            results["pitch_class_corr"]["zero_memory"] = pitch_class_score(blind.model, blind.datamodule)[1]
    results["seconds"] = time.perf_counter() - started
    report = render_report(results)
    print(report)
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out / "results.json")
    (out / "tables.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
