"""Reproduce MI Net's Tables 1-5 (Su, Liu & Shlizerman 2021, §4): train every stage and baseline through ``cli.py``
and print each table with the paper's numbers beside ours, the dataset named.

    python experiments/tables/mi_net.py --scale smoke                 # synthetic URMP, debug sizes, CPU
    python experiments/tables/mi_net.py --scale smoke --data solos    # synthetic Solos (Tables 1 and 2 only)
    python experiments/tables/mi_net.py --scale full --root D         # the paper's sizes on real URMP (GPU)

Stages, in order (each ``cli.py fit`` + ``test`` with its config, experiments/mi_net_*.yaml, plus the scale's
overrides; at smoke scale also experiments/debug/<config>.yaml): the VQ-VAE (``mi_net_vqvae``) and its no-MBR
ablation (``mi_net_vqvae_nombr``, Table 4), the pose prior (``mi_net_prior``, on the VQ-VAE's ``vqvae_ckpt``), the
MIDI-content prior and its GRU ablation (``mi_net_content``, ``mi_net_content_gru``; URMP only: Solos has no MIDI,
Table 5), and the two baselines (``mi_net_seq2seq``, ``mi_net_graph_transformer``). Solos swaps the data section for
``datamodules.solos.SolosDataModule`` with the same clip settings and ``split: mi_net``.

Numbers: Table 1 NDB (:class:`metrics.NDB`, k = 50 cells of the training clips' log-spectrograms, generated
log-spectrograms of the test clips, not Griffin-Lim audio; a row for the real test clips), Table 2 1-NN accuracy
(cosine) on the pose encoding (the stage's ``test/knn``), Table 4 test L2 reconstruction (``test/l2``), Table 5 code
NLL (``test/nll``). Table 3 is a human study (Amazon Mechanical Turk) and is not run.

Without a CUDA GPU, ``--scale full`` does not train: it prints the expected duration and the smoke command and exits
with status 2 (:mod:`experiments.tables.full_scale`); ``--yes`` runs it anyway.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.cli_step import cli_step  # noqa: E402

DATASETS = {
    "urmp": ("datamodules.urmp.URMPDataModule", "URMP"),
    "solos": ("datamodules.solos.SolosDataModule", "Solos"),
}
# The paper's numbers (§4, Tables 1-5); None where the paper has no entry.
PAPER: dict[str, dict[str, dict[str, Optional[float]]]] = {
    "table1": {  # NDB, lower is better
        "RNN-based Seq2Seq": {"urmp": 48, "solos": 44},
        "Graph-Transformer": {"urmp": 45, "solos": 41},
        "MI Net": {"urmp": 33, "solos": 36},
        "Content Cond. MI Net": {"urmp": 35, "solos": None},
        "Testing Set Data": {"urmp": 36, "solos": 31},
    },
    "table2": {  # KNN classification accuracy in %
        "RNN-based Seq2Seq": {"urmp": 82.6, "solos": 37.8},
        "Graph-Transformer": {"urmp": 89.2, "solos": 38.3},
        "MI Net": {"urmp": 93.7, "solos": 61.5},
    },
    "table3": {"MI Net": {"urmp": 24, "solos": None}, "Oracle": {"urmp": 50, "solos": None}},  # success rate in %
    "table4": {"1D Conv w.o. MBR": {"urmp": 0.89, "solos": None}, "1D Conv w. MBR": {"urmp": 0.78, "solos": None}},
    "table5": {
        "GRU-Seq2Seq": {"urmp": 2.93, "solos": None},
        "Content Encoder + Prior Net": {"urmp": 2.55, "solos": None},
    },
}
TITLES = {
    "table1": "Table 1: NDB (the paper: k = 50, ~1600 samples; lower is better)",
    "table2": "Table 2: KNN classification accuracy in % (1-NN, cosine, on the pose encoding)",
    "table3": "Table 3: human evaluation, success rate in %",
    "table4": "Table 4: VQ-VAE test L2 reconstruction loss",
    "table5": "Table 5: code NLL with the MIDI content condition",
}


@dataclass(frozen=True)
class Stage:
    """One trained model of the tables: its config, whether it reads the VQ-VAE checkpoint, URMP only (needs MIDI)."""

    name: str
    config: str
    uses_vqvae: bool = False
    needs_midi: bool = False


STAGES = (
    Stage("vqvae", "mi_net_vqvae"),
    Stage("vqvae_nombr", "mi_net_vqvae_nombr"),
    Stage("prior", "mi_net_prior", uses_vqvae=True),
    Stage("content", "mi_net_content", uses_vqvae=True, needs_midi=True),
    Stage("content_gru", "mi_net_content_gru", uses_vqvae=True, needs_midi=True),
    Stage("seq2seq", "mi_net_seq2seq"),
    Stage("graph_transformer", "mi_net_graph_transformer"),
)
# Which stage's metric fills which row: (table, row) -> (stage, metric).
ROWS: dict[tuple[str, str], tuple[str, str]] = {
    ("table1", "RNN-based Seq2Seq"): ("seq2seq", "ndb"),
    ("table1", "Graph-Transformer"): ("graph_transformer", "ndb"),
    ("table1", "MI Net"): ("prior", "ndb"),
    ("table1", "Content Cond. MI Net"): ("content", "ndb"),
    ("table1", "Testing Set Data"): ("prior", "ndb_test_data"),
    ("table2", "RNN-based Seq2Seq"): ("seq2seq", "knn"),
    ("table2", "Graph-Transformer"): ("graph_transformer", "knn"),
    ("table2", "MI Net"): ("prior", "knn"),
    ("table4", "1D Conv w.o. MBR"): ("vqvae_nombr", "l2"),
    ("table4", "1D Conv w. MBR"): ("vqvae", "l2"),
    ("table5", "GRU-Seq2Seq"): ("content_gru", "nll"),
    ("table5", "Content Encoder + Prior Net"): ("content", "nll"),
}
PERCENT = {"knn"}  # metrics logged as a fraction, shown in %

# Per scale: the synthetic size per dataset (every instrument >= 3 training / 1 held-out recordings under
# split: mi_net, docs/SYNTHETIC.md), extra configs, trainer overrides, NDB sample counts.
SCALES: dict[str, dict[str, Any]] = {
    "smoke": {  # debug sizes, a few hundred steps each: shows the pipeline on a CPU, not the paper's numbers
        "synthetic_minutes": {"urmp": 15.0, "solos": 40.0},
        "debug_configs": True,
        "trainer": ["--trainer.max_steps=300", "--trainer.check_val_every_n_epoch=null",
                    "--trainer.val_check_interval=null", "--trainer.limit_val_batches=4"],
        # 100 clips: k 10 keeps ~10 training clips per cell (200 clips made one seed take 17 min on 1 CPU thread)
        "ndb_train": 100, "ndb_generated": 100, "ndb_k": 10,
    },
    "full": {  # the paper's sizes (config defaults); ~1600 generated samples for NDB (§4)
        "synthetic_minutes": {"urmp": 15.0, "solos": 40.0},
        "debug_configs": False,
        "trainer": ["--trainer.max_steps=100000"],
        "ndb_train": 1600, "ndb_generated": 1600, "ndb_k": 50,
    },
}  # fmt: skip
FULL_ESTIMATE = (
    "seven models at the paper's sizes (a 512-channel MBR VQ-VAE over 1024-bin spectrograms twice, two priors, "
    "two baselines) for 100 000 steps each: about a day on one data-centre GPU (estimate), weeks on a CPU."
)


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def data_override(
    stage: Stage, data: str, minutes: float, root: Optional[str], seed: int, out: Path, debug: bool = False
) -> list[str]:
    """The data arguments of one stage: for URMP the config's own DataModule with size / root / seed; for Solos a
    data file (written under ``out``) with SolosDataModule and the config's clip settings (with ``debug``, the debug
    config's over them), ``split: mi_net``."""
    args = [f"--data.init_args.synthetic_minutes={minutes}", f"--data.init_args.seed={seed}"]
    if root:
        args.append(f"--data.init_args.root={root}")
    if data == "urmp":
        return args
    config: dict[str, Any] = {}
    for path in [ROOT / "experiments" / f"{stage.config}.yaml"] + (
        [ROOT / "experiments" / "debug" / f"{stage.config}.yaml"] if debug else []
    ):
        if path.is_file():
            config |= _load_yaml(path).get("data", {}).get("init_args", {}) or {}
    keep = ("fields", "keypoint_layout", "clip_seconds", "fps", "sample_rate", "batch_size", "num_workers")
    init_args = {key: config[key] for key in keep if key in config}
    init_args["fields"] = [f for f in init_args.get("fields", ["keypoints", "audio"]) if f not in ("roll", "events")]
    init_args |= {"split": "mi_net", "root": root, "synthetic_minutes": minutes, "seed": seed}
    import yaml

    path = out / f"data_{stage.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"class_path": DATASETS[data][0], "init_args": init_args}, sort_keys=False))
    return ["--data", str(path)]


def stage_configs(stage: Stage, debug: bool) -> list[str]:
    configs = ["--config", f"experiments/{stage.config}.yaml"]
    if debug and (ROOT / "experiments" / "debug" / f"{stage.config}.yaml").is_file():
        configs += ["--config", f"experiments/debug/{stage.config}.yaml"]
    return configs


def run_stage(stage: Stage, extra: list[str], out: Path) -> tuple[Path, Any, dict[str, float]]:
    """fit + test one stage; returns its last checkpoint, the test run's CLI and its ``test/*`` metrics."""
    ckpt_dir = out / "checkpoints" / stage.name
    common = [*extra, "--trainer.default_root_dir", str(out), "--trainer.logger.init_args.save_dir", str(out / "runs"),
              "--checkpoint.dirpath", str(ckpt_dir)]  # fmt: skip
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # a stale last.ckpt would make Lightning write last-v1.ckpt
    cli_step(["fit", *common])
    ckpt = ckpt_dir / "last.ckpt"
    if not ckpt.is_file():
        raise RuntimeError(f"mi_net tables: stage {stage.name} wrote no checkpoint {ckpt}")
    cli = cli_step(["test", *common, "--ckpt_path", str(ckpt)])
    metrics = {k.split("/", 1)[1]: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}
    return ckpt, cli, metrics


def ndb_scores(model: Any, datamodule: Any, train_clips: int, generated: int, k: int, seed: int) -> dict[str, float]:
    """Table 1 for one generating stage: k-means cells of ``train_clips`` training clips' log-spectrograms; NDB of
    ``generated`` spectrograms sampled for the test clips (passes over the test split until enough), and of the real
    test clips' spectrograms (the "Testing Set Data" row)."""
    import torch

    from metrics.ndb import NDB

    model.eval()
    torch.manual_seed(seed)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    train = []
    while sum(len(x) for x in train) < train_clips:
        for batch in datamodule.train_dataloader():
            train.append(model.spectrogram(batch["audio"].to(model.device)).flatten(1).double().cpu())
            if sum(len(x) for x in train) >= train_clips:
                break
    metric = NDB(k=min(k, train_clips), seed=seed).fit(torch.cat(train)[:train_clips])
    real = NDB(k=metric.k, seed=seed)
    real.set_bins(metric.centers, metric.train_counts)
    made, passes = 0, 0
    with torch.no_grad():
        while made < generated:
            for batch in datamodule.test_dataloader():
                notes = None
                if "roll" in batch and getattr(model, "stage", "") in ("content", "content_gru"):
                    notes = model.notes(batch["roll"], model.clip_codes)
                spec = model.generate_spectrograms(batch["keypoints"].to(model.device), notes, generator=generator)
                metric.update(spec.flatten(1).double().cpu())
                made += len(spec)
                if passes == 0:
                    real.update(model.spectrogram(batch["audio"].to(model.device)).flatten(1).double().cpu())
                if made >= generated:
                    break
            passes += 1
    return {"ndb": float(metric.compute()["ndb"]), "ndb_test_data": float(real.compute()["ndb"]), "ndb_samples": made}


def run_seed(args: argparse.Namespace, scale: dict[str, Any], seed: int, out: Path) -> dict[str, dict[str, float]]:
    """Every stage of one seed; returns ``{stage: metrics}``."""
    minutes = scale["synthetic_minutes"][args.data]
    seeded = [f"--seed_everything={seed}"]
    results: dict[str, dict[str, float]] = {}
    earlier = out / "vqvae" / "checkpoints" / "vqvae" / "last.ckpt"  # an earlier run's, for --stages without vqvae
    vqvae_ckpt: Optional[Path] = earlier if earlier.is_file() else None
    for stage in STAGES:
        if stage.needs_midi and args.data == "solos":
            continue  # Solos has no MIDI (§4): no content rows
        if args.stages and stage.name not in args.stages:
            continue
        extra = [*stage_configs(stage, scale["debug_configs"]), *scale["trainer"], *seeded,
                 *data_override(stage, args.data, minutes, args.root, seed, out, scale["debug_configs"])]  # fmt: skip
        if stage.uses_vqvae:
            if vqvae_ckpt is None:
                raise RuntimeError(f"mi_net tables: stage {stage.name} needs the vqvae stage first (no {earlier})")
            extra.append(f"--model.init_args.vqvae_ckpt={vqvae_ckpt}")
        ckpt, cli, metrics = run_stage(stage, extra, out / stage.name)
        if stage.name == "vqvae":
            vqvae_ckpt = ckpt
        if stage.name in ("prior", "content", "seq2seq", "graph_transformer"):
            metrics |= ndb_scores(
                cli.model, cli.datamodule, scale["ndb_train"], scale["ndb_generated"], scale["ndb_k"], seed
            )
        results[stage.name] = metrics
        print(f"mi_net tables: seed {seed} {stage.name}: "
              + ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())), flush=True)  # fmt: skip
    return results


def table_values(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, tuple[float, float, int]]]:
    """``{table: {row: (mean, std, seeds)}}`` over the seeds' runs (sample std; rows without a measurement left
    out)."""
    import numpy as np

    values: dict[str, dict[str, tuple[float, float, int]]] = {}
    for (table, row), (stage, metric) in ROWS.items():
        got = [run[stage][metric] for run in runs if metric in run.get(stage, {})]
        if not got:
            continue
        scale = 100.0 if metric in PERCENT else 1.0
        arr = np.asarray(got, dtype=float) * scale
        std = float(arr.std(ddof=1)) if len(arr) > 1 else math.nan
        values.setdefault(table, {})[row] = (float(arr.mean()), std, len(arr))
    return values


def format_tables(values: dict[str, dict[str, tuple[float, float, int]]], data: str, setting: str) -> str:
    """The five tables, paper beside ours; a row we did not measure says so, Table 3 says "human study: not run"."""
    name = DATASETS[data][1]
    lines = [f"MI Net (Su, Liu & Shlizerman 2021), {name}: paper vs ours ({setting})"]
    for table, title in TITLES.items():
        lines += ["", title, f"  {'model':<30} {'paper ' + name:>14} {'ours':>24}"]
        for row, paper in PAPER[table].items():
            cited = "-" if paper[data] is None else f"{paper[data]:g}"
            if table == "table3":
                ours = "human study: not run"
            elif row in values.get(table, {}):
                mean, std, seeds = values[table][row]
                ours = f"{mean:.3g}" + (f" ± {std:.2g} ({seeds} seeds)" if seeds > 1 else "")
            else:
                ours = "not measured"
            lines.append(f"  {row:<30} {cited:>14} {ours:>24}")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="MI Net Tables 1-5 (paper numbers beside ours) through cli.py.")
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke",
                        help="smoke: debug sizes, minutes per stage on a CPU; full: the paper's sizes (without a CUDA "
                        "GPU it only prints the expected duration unless --yes)")  # fmt: skip
    parser.add_argument("--data", choices=sorted(DATASETS), default="urmp", help="dataset (Solos: Tables 1-2 only)")
    parser.add_argument("--yes", action="store_true", help="run --scale full even without a CUDA GPU")
    parser.add_argument("--root", default=None, help="dataset root (default: the synthetic dataset of --data)")
    parser.add_argument("--out", default="runs/mi_net_tables", help="output folder")
    parser.add_argument("--seeds", type=int, default=None,
                        help="runs with seeds 0..N-1 (training and synthetic data); the tables show mean ± std. "
                        "Default: 2 at smoke scale, 1 at full scale")  # fmt: skip
    parser.add_argument("--stages", nargs="*", default=None, choices=[s.name for s in STAGES],
                        help="only these stages (prior / content / content_gru need the vqvae stage)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--minutes", type=float, default=None, help="synthetic data size (default: the scale's)")
    parser.add_argument("--max-steps", type=int, default=None, help="training steps per stage (default: the scale's)")
    parser.add_argument("--ndb-samples", type=int, default=None,
                        help="training clips and generated samples for NDB (default: the scale's)")  # fmt: skip
    return parser.parse_args(argv)


def scale_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The scale's settings with the command line's overrides (``--minutes``, ``--max-steps``, ``--ndb-samples``)."""
    scale = dict(SCALES[args.scale])
    if args.minutes is not None:
        scale["synthetic_minutes"] = {name: args.minutes for name in DATASETS}
    if args.max_steps is not None:
        scale["trainer"] = [a for a in scale["trainer"] if not a.startswith("--trainer.max_steps=")]
        scale["trainer"].append(f"--trainer.max_steps={args.max_steps}")
    if args.ndb_samples is not None:
        scale["ndb_train"] = scale["ndb_generated"] = args.ndb_samples
        scale["ndb_k"] = min(scale["ndb_k"], args.ndb_samples)
    return scale


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = parse_args(argv)
    from experiments.tables.full_scale import check_full_scale

    check_full_scale(args.scale, args.yes, "experiments/tables/mi_net.py", "reproduce-minet", FULL_ESTIMATE)
    sys.argv = sys.argv[:1]  # the stages get their arguments from cli_step, not from this script's command line
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    scale = scale_settings(args)
    seeds = args.seeds if args.seeds is not None else (2 if args.scale == "smoke" else 1)
    out = Path(args.out) / f"{args.scale}_{args.data}"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    runs = [run_seed(args, scale, seed, out / f"seed{seed}") for seed in range(seeds)]
    dataset = f"SYNTHETIC {DATASETS[args.data][1]} data" if args.root is None else args.root
    seeded = f"seeds 0-{seeds - 1}" if seeds > 1 else "seed 0"
    setting = (
        f"{dataset}, scale={args.scale}, {seeded}, {torch.get_num_threads()} threads; NDB: k {scale['ndb_k']}, "
        f"{scale['ndb_train']} training clips, {scale['ndb_generated']} generated"
    )
    values = table_values(runs)
    text = format_tables(values, args.data, setting)
    print("\n" + text + f"\n\ntotal time {time.perf_counter() - start:.0f} s")
    result = {"scale": args.scale, "data": args.data, "dataset": dataset, "seeds": seeds, "per_seed": runs,
              "tables": {t: {r: list(v) for r, v in rows.items()} for t, rows in values.items()}}  # fmt: skip
    (out / "tables.json").write_text(json.dumps(result, indent=1))
    (out / "tables.txt").write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
