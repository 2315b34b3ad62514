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
  correlation of generated vs true MIDI for pose-conditioned vs zeroed-pose models.

``--scale smoke`` trains tiny models for a few hundred steps on a small synthetic URMP set (minutes on a CPU);
``--scale full`` uses the configs' paper sizes and step counts (a GPU job). Without ``--root`` the data is the
embedded SYNTHETIC URMP, and every table says so.

    python scripts/reproduce_foley.py --scale smoke [--root URMP/Dataset] [--out runs/reproduce_foley]
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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

# variant -> (config, extra model args)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "skeleton": ("foley_music.yaml", {}),
    "rgb": ("foley_music_rgb.yaml", {}),
    "flow": ("foley_music_flow.yaml", {}),
    "gru": ("foley_music_gru.yaml", {}),
    "nohands": ("foley_music_nohands.yaml", {}),
    "zero_memory": ("foley_music.yaml", {"zero_memory": True}),
}
SMOKE_MODEL = dict(
    d_model=64,
    num_layers=2,
    num_heads=4,
    dim_feedforward=128,
    gru_layers=1,
    gcn_blocks=[[-1, 16, 1], [16, 32, 2], [32, 32, 2]],
    feature_channels=[64],
    feature_strides=[1],
    max_events=256,
    max_generate_events=256,
    warmup_steps=30,
    lr=2e-3,
    norm_first=True,
    beam_size=3,
)
SMOKE_DATA = dict(synthetic_minutes=1.0, batch_size=8, num_workers=0, max_events=256, clips_per_epoch=64)
SMOKE_STEPS = 150


def instantiate(spec: dict[str, Any], overrides: dict[str, Any]) -> Any:
    module, name = spec["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    return cls(**(dict(spec.get("init_args") or {}) | overrides))


def load_config(name: str) -> dict[str, Any]:
    path = ROOT / "experiments" / name
    if not path.is_file():
        raise FileNotFoundError(f"reproduce_foley: config {path} does not exist")
    return yaml.safe_load(path.read_text())


def build(variant: str, args: argparse.Namespace) -> tuple[Any, Any, int]:
    config_name, extra = VARIANTS[variant]
    config = load_config(config_name)
    model_over = dict(extra)
    data_over: dict[str, Any] = {"root": args.root}
    steps = int(config.get("trainer", {}).get("max_steps", 40000))
    if args.scale == "smoke":
        model_over |= SMOKE_MODEL
        data_over |= SMOKE_DATA
        steps = SMOKE_STEPS
    if args.steps:
        steps = args.steps
    if args.minutes is not None:
        data_over["synthetic_minutes"] = args.minutes
    if args.root is not None:
        data_over.pop("synthetic_minutes", None)
    model = instantiate(config["model"], model_over)
    data = instantiate(config["data"], data_over)
    return model, data, steps


def train_and_validate(variant: str, args: argparse.Namespace, out: Path) -> tuple[Any, Any, dict[str, float]]:
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import TensorBoardLogger

    pl.seed_everything(args.seed, workers=True)
    model, data, steps = build(variant, args)
    trainer = pl.Trainer(
        max_steps=steps,
        logger=TensorBoardLogger(str(out), name=variant),
        enable_checkpointing=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        log_every_n_steps=10,
        accelerator=args.accelerator,
        devices=1,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    trainer.limit_val_batches = 1.0
    trainer.validate(model, datamodule=data, verbose=False)
    nll = dict(model.last_nll.get("val", {}))
    nll["seconds"] = time.perf_counter() - start
    tmp = out / variant / ".last.ckpt.tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(str(tmp))
    os.replace(tmp, out / variant / "last.ckpt")
    print(f"[reproduce_foley] {variant}: {steps} steps, val NLL {nll.get('all', float('nan')):.3f}", flush=True)
    return model, data, nll


def unigram_nll(data: Any) -> float:
    from models.foley_music import token_nll_baseline

    train = torch.cat([b["events"] for b in data.train_dataloader()])
    val = torch.cat([b["events"] for b in data.val_dataloader()])
    return token_nll_baseline(train, val)


def pitch_class_correlation(generated: Any, truth: Any) -> float:
    """Pearson correlation of the 12-bin pitch-class histograms (note counts) of two MIDIs (NaN if one is flat)."""

    def histogram(midi: Any) -> np.ndarray:
        counts = np.zeros(12)
        for inst in midi.instruments:
            for note in inst.notes:
                counts[note.pitch % 12] += 1
        return counts

    a, b = histogram(generated), histogram(truth)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


@torch.no_grad()
def generate_val(model: Any, batches: Any) -> list[tuple[Any, Any, int]]:
    """(generated MIDI, true MIDI, program) for every clip of ``batches`` (the model's configured search)."""
    from music import events as ev

    model.eval()
    out = []
    for batch in batches:
        result = model.generate(model.visual(batch))
        for i in range(result.tokens.shape[0]):
            program = model.program_of(int(batch["instrument"][i]))
            generated = model.events_to_midi(result.tokens[i, : result.lengths[i]], program)
            out.append((generated, ev.decode(batch["events"][i], program=program), program))
    return out


def ndb_scores(pairs: list[tuple[Any, Any, int]], args: argparse.Namespace, k: int) -> dict[str, Any]:
    """NDB of generated and of ground-truth validation audio against the training clips' audio."""
    from metrics.ndb import NDB, log_spectrogram_features
    from music.synth import render

    config = load_config("foley_music.yaml")
    data_over: dict[str, Any] = {"root": args.root, "fields": ["audio", "instrument"], "sample_rate": 16000}
    data_over |= {"batch_size": 16, "num_workers": 0, "clips_per_epoch": args.ndb_train_clips}
    if args.root is None:
        data_over["synthetic_minutes"] = SMOKE_DATA["synthetic_minutes"] if args.minutes is None else args.minutes
    if args.scale == "full" and args.minutes is None and args.root is None:
        data_over.pop("synthetic_minutes")
    data = instantiate(config["data"], data_over)
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
        values = metric.compute()
        results[name] = {key: float(v) for key, v in values.items()}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("smoke", "full"), default="smoke")
    parser.add_argument("--root", default=None, help="URMP Dataset/ folder (default: the embedded synthetic URMP)")
    parser.add_argument("--out", default="runs/reproduce_foley")
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
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"reproduce_foley: unknown variants {unknown}; known: {list(VARIANTS)}")
    dataset = "URMP" if args.root else "SYNTHETIC URMP (embedded; not the real dataset)"
    started = time.perf_counter()
    nll: dict[str, dict[str, float]] = {}
    models: dict[str, Any] = {}
    baseline = None
    data = None
    for variant in variants:
        model, data, scores = train_and_validate(variant, args, out)
        if baseline is None:
            baseline = unigram_nll(data)
        scores["unigram"] = baseline
        nll[variant] = scores
        if variant in ("skeleton", "zero_memory"):
            models[variant] = (model, data)
    results: dict[str, Any] = {"dataset": dataset, "scale": args.scale, "nll": nll}
    if "skeleton" in models:
        model, data = models["skeleton"]
        pairs = generate_val(model, data.val_dataloader())
        k = args.ndb_k or (50 if args.scale == "full" else 10)
        results["ndb"] = ndb_scores(pairs, args, k)
        results["pitch_class_corr"] = {"pose": float(np.nanmean([pitch_class_correlation(g, t) for g, t, _ in pairs]))}
        if "zero_memory" in models:
            blind, blind_data = models["zero_memory"]
            blind_pairs = generate_val(blind, blind_data.val_dataloader())
            results["pitch_class_corr"]["zero_memory"] = float(
                np.nanmean([pitch_class_correlation(g, t) for g, t, _ in blind_pairs])
            )
    results["seconds"] = time.perf_counter() - started
    report = render_report(results)
    print(report)
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out / "results.json")
    (out / "tables.md").write_text(report + "\n")
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
