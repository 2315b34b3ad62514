"""What the reproduction scripts do with ``--scale full`` on a machine without a GPU: the paper-scale runs take days
to months on a CPU, so unless forced (``--yes``; ``make reproduce-<paper> YES=1``) they print the expected duration
and how to run the smoke scale instead, and exit with status 2 before anything is built or trained."""

from __future__ import annotations

import sys

EXIT_NEEDS_GPU = 2


def check_full_scale(scale: str, forced: bool, script: str, target: str, estimate: str) -> None:
    """Return if the run may go on: any scale but ``full``, ``forced``, or a CUDA GPU present. Otherwise print
    ``estimate`` (the expected duration) and the smoke commands (``python <script> --scale smoke``,
    ``make <target> SCALE=smoke``) to stderr and exit with :data:`EXIT_NEEDS_GPU`."""
    if scale != "full" or forced:
        return
    import torch

    if torch.cuda.is_available():
        return
    sys.stderr.write(
        f"{script}: --scale full trains at the paper's sizes and no CUDA GPU is visible here; nothing was run.\n"
        f"Expected duration: {estimate}\n"
        f"To see the pipeline in minutes on this CPU: make {target} SCALE=smoke (python {script} --scale smoke).\n"
        f"To start the full run here anyway: make {target} SCALE=full YES=1 (python {script} --scale full --yes).\n"
    )
    raise SystemExit(EXIT_NEEDS_GPU)


__all__ = ["EXIT_NEEDS_GPU", "check_full_scale"]
