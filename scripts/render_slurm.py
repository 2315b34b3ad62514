"""Render experiments/cluster/slurm.sbatch for a config: ``python scripts/render_slurm.py CONFIG NODES GPUS``.

Prints the script (``--dry-run``) or writes it to ``runs/slurm/<name>.sbatch`` and submits it with ``sbatch``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "experiments" / "cluster" / "slurm.sbatch"


def render(
    config: str,
    nodes: int,
    gpus: int,
    time: str = "24:00:00",
    partition: str = "",
    cpus_per_task: int = 8,
    extra_args: str = "",
) -> str:
    """The sbatch script for ``config`` on ``nodes`` x ``gpus`` GPUs."""
    config_path = Path(config)
    if not (ROOT / config_path).is_file() and not config_path.is_file():
        raise FileNotFoundError(f"render_slurm: config {config} does not exist")
    if nodes < 1 or gpus < 1:
        raise ValueError(f"render_slurm: NODES and GPUS must be >= 1 (got {nodes}, {gpus})")
    name = config_path.stem
    return Template(TEMPLATE.read_text()).substitute(
        job_name=f"v2m-{name}",
        nodes=nodes,
        gpus=gpus,
        cpus_per_task=cpus_per_task,
        time=time,
        partition_line=f"#SBATCH --partition={partition}" if partition else "",
        repo=str(ROOT),
        config=str(config_path),
        run_dir=f"runs/slurm/{name}",
        extra_args=extra_args,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config")
    parser.add_argument("nodes", type=int)
    parser.add_argument("gpus", type=int)
    parser.add_argument("--time", default="24:00:00")
    parser.add_argument("--partition", default="")
    parser.add_argument("--extra-args", default="")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        script = render(args.config, args.nodes, args.gpus, args.time, args.partition, extra_args=args.extra_args)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(script)
        return 0
    out = ROOT / "runs" / "slurm" / f"{Path(args.config).stem}.sbatch"
    (out.parent / Path(args.config).stem).mkdir(parents=True, exist_ok=True)  # SLURM does not create --output dirs
    out.write_text(script)
    if shutil.which("sbatch") is None:
        print(
            f"error: sbatch not found; the script is at {out} (submit it on the cluster with: sbatch {out})",
            file=sys.stderr,
        )
        return 2
    return subprocess.call(["sbatch", str(out)], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
