"""The suite's main job (``make run``): train one config, test it on its held-out split, and end with a short
report a person can judge.

    python experiments/main_job.py --config experiments/audeo_cpu.yaml      # what `make run` runs
    python experiments/main_job.py --config experiments/X.yaml [--trainer.max_epochs 2 ...]

Both steps go through ``cli.py`` (``fit``, then ``test`` on the last checkpoint), so the run is the config's. The
report lists the held-out metrics, the paths of the checkpoint and the TensorBoard logs, and the command that turns a
video into a soundtrack with the checkpoint. For Audeo's Video2Roll it also puts the held-out frame P/R/F1 beside the
best constant predictor (metrics.frame_prf.best_constant_prf: keys always on, chosen on the training frames) and turns
one held-out synthetic video into an MP4 with its generated soundtrack.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.cli_step import cli_step  # noqa: E402


def _video2roll_report(fit: Any, metrics: dict[str, float], out: Path, demo: bool) -> list[str]:
    """Held-out frame P/R/F1 beside the best constant predictor, and a held-out video turned into an MP4."""
    from metrics.frame_prf import best_constant_prf

    dm = fit.datamodule
    baseline = best_constant_prf(dm.dataset("train").labels, dm.dataset("test").labels)
    ts = int(round(100 * fit.model.hparams.threshold))
    ours = {stat: 100 * metrics[f"test/video2roll_ts{ts}/{stat}_micro"] for stat in ("precision", "recall", "f1")}
    lines = [
        f"held-out frames ({len(dm.dataset('test'))}, test split), frame level, micro, %:",
        f"  {'':34s} {'P':>6s} {'R':>6s} {'F1':>6s}",
        f"  {'Video2Roll (threshold 0.' + str(ts) + ')':34s} "
        f"{ours['precision']:6.1f} {ours['recall']:6.1f} {ours['f1']:6.1f}",
        f"  {'best constant (' + str(baseline['keys_on']) + ' keys always on)':34s} {100 * baseline['precision']:6.1f} "
        f"{100 * baseline['recall']:6.1f} {100 * baseline['f1']:6.1f}",
    ]
    if demo:
        from experiments.tables.audeo import generate_demo

        kwargs = {"frame_size": tuple(dm.frame_size), "synthetic_minutes": dm.synthetic_minutes, "seed": dm.seed}
        ckpt = fit.trainer.checkpoint_callback.last_model_path
        root = None if dm.is_synthetic else str(dm.data_root)
        scores = generate_demo(Path(ckpt), kwargs, root, out, transcribe=False)
        lines += [
            f"generated soundtrack of a held-out video: {out / 'demo_generated.mp4'}",
            f"  (input {out / 'demo_input.mp4'}; generated MIDI vs the keys the video shows: F1 {scores['f1']:.3f})",
        ]
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Train a config, test it, report (the suite's main job).")
    parser.add_argument("--config", action="append", required=True, help="config YAML (repeat to stack)")
    parser.add_argument("--out", default="runs/main_job", help="folder for the demo video and the report")
    parser.add_argument("--no-demo", action="store_true", help="skip the generated-soundtrack demo")
    args, extra = parser.parse_known_args(argv)
    sys.argv = sys.argv[:1]
    configs = [part for config in args.config for part in ("--config", config)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    fit = cli_step(["fit", *configs, *extra])
    trainer = fit.trainer
    ckpt = trainer.checkpoint_callback.last_model_path or trainer.checkpoint_callback.best_model_path
    if not ckpt or not Path(ckpt).is_file():
        raise RuntimeError(f"main job: the fit of {args.config} wrote no checkpoint (checkpoint.save_last: true?)")
    logs = Path(trainer.logger.save_dir) if trainer.logger is not None else Path(trainer.default_root_dir)
    tested = cli_step(["test", *configs, *extra, "--ckpt_path", ckpt])
    metrics = {k: float(v) for k, v in tested.trainer.callback_metrics.items() if k.startswith("test/")}

    from models.audeo import Audeo

    lines = [f"==== main job: {' + '.join(args.config)} ({time.perf_counter() - start:.0f} s) ===="]
    if isinstance(fit.model, Audeo) and fit.model.stage == "video2roll":
        lines += _video2roll_report(fit, metrics, out, demo=not args.no_demo)
    else:
        lines.append("held-out metrics (test split):")
        lines += [f"  {key:40s} {value:.4f}" for key, value in sorted(metrics.items())]
    config = args.config[0]
    lines += [
        f"checkpoint: {ckpt}",
        f"TensorBoard: {Path(sys.executable).parent / 'tensorboard'} --logdir {logs}   (or: make tensorboard)",
        f"a video of your own: python cli.py generate --config {config} --ckpt {ckpt} --video V.mp4 --out OUT.mp4",
        f"total {time.perf_counter() - start:.0f} s",
    ]
    report = "\n".join(lines)
    print("\n" + report, flush=True)
    (out / "report.txt").write_text(report + "\n")
    return {"metrics": metrics, "checkpoint": ckpt, "report": report}


if __name__ == "__main__":
    main()
