"""The MediaPipe venv: MediaPipe 0.10.21 in its own virtual environment, run as a subprocess.

MediaPipe 0.10.21 is the last release with ``mp.solutions`` and its models bundled (later ones download them), and it
pins numpy<2 and protobuf<5, which the suite's environment (numpy 2, torch 2.13) cannot take. So it lives in
``.mediapipe-venv`` at the repository root (``$V2M_MEDIAPIPE_VENV`` overrides), created by ``make mediapipe-venv``
or on first use by :func:`ensure_venv`. Only what ``mp.solutions.holistic`` imports is installed (MediaPipe with
``--no-deps`` plus numpy<2, protobuf<5, OpenCV headless, absl, attrs, flatbuffers, matplotlib): about 30 s and 400 MB
with a warm pip cache, against 100 s and 1 GB for MediaPipe's full requirements (jax, jaxlib, ...).

``python -m datamodules.prepare.mediapipe_env`` creates it (what the Make target runs).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

MEDIAPIPE_VERSION = "0.10.21"
# What mp.solutions needs at import time; versions that ship wheels for CPython 3.9-3.12 and accept numpy 1.26.
REQUIREMENTS = (
    "numpy>=1.24,<2",
    "protobuf>=4.25.3,<5",
    "opencv-python-headless>=4.8,<4.12",
    "absl-py>=2",
    "attrs>=19.1",
    "flatbuffers>=2",
    "matplotlib>=3.7,<3.11",
)
SUPPORTED_PYTHONS = ("3.12", "3.11", "3.10", "3.9")
STAMP = ".v2m-mediapipe-ok"
REPO_ROOT = Path(__file__).resolve().parents[2]


def venv_dir() -> Path:
    """Where the MediaPipe venv lives."""
    return Path(os.environ.get("V2M_MEDIAPIPE_VENV", REPO_ROOT / ".mediapipe-venv")).expanduser()


def venv_python(venv: Optional[Path] = None) -> Path:
    return (venv or venv_dir()) / "bin" / "python"


def is_ready(venv: Optional[Path] = None) -> bool:
    """True when the venv exists and its last creation finished (stamp written last)."""
    venv = venv or venv_dir()
    return venv_python(venv).is_file() and (venv / STAMP).is_file()


def base_python() -> str:
    """An interpreter MediaPipe 0.10.21 has wheels for: this one if 3.9-3.12, else ``python3.12`` ... on PATH."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED_PYTHONS:
        return getattr(sys, "_base_executable", sys.executable)
    for version in SUPPORTED_PYTHONS:
        found = shutil.which(f"python{version}")
        if found:
            return found
    raise RuntimeError(
        f"MediaPipe {MEDIAPIPE_VERSION} needs Python 3.9-3.12 to build its venv, and none was found on PATH "
        f"(this interpreter is {sys.version.split()[0]}); install python3.11 and run `make mediapipe-venv`"
    )


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise RuntimeError(f"creating the MediaPipe venv failed while {what}:\n{tail}")


def ensure_venv(venv: Optional[Path] = None, quiet: bool = False) -> Path:
    """The MediaPipe venv's python, creating the venv first when needed (one process at a time: file lock).

    Raises RuntimeError with the pip error and the manual command when it cannot be created."""
    venv = venv or venv_dir()
    if is_ready(venv):
        return venv_python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv.parent / f".{venv.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(venv):
            return venv_python(venv)
        if not quiet:
            print(
                f"MediaPipe venv: creating {venv} (MediaPipe {MEDIAPIPE_VERSION} needs numpy<2; one-off, about 30 s "
                "to 2 min; `make mediapipe-venv` does the same)",
                file=sys.stderr,
            )
        if venv.exists():
            shutil.rmtree(venv)  # an unfinished earlier attempt
        _run([base_python(), "-m", "venv", str(venv)], "creating the virtual environment")
        python = str(venv_python(venv))
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run(pip + ["--no-deps", f"mediapipe=={MEDIAPIPE_VERSION}"], f"installing mediapipe=={MEDIAPIPE_VERSION}")
        _run(pip + list(REQUIREMENTS), "installing MediaPipe's runtime requirements")
        check = "import mediapipe as mp; mp.solutions.holistic.Holistic(static_image_mode=True, model_complexity=1)"
        _run([python, "-c", check], "checking that MediaPipe Holistic loads its bundled models")
        (venv / STAMP).write_text(MEDIAPIPE_VERSION + "\n")
    return venv_python(venv)


def main() -> int:
    python = ensure_venv()
    print(f"MediaPipe venv ready: {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
