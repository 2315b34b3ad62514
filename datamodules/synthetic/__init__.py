"""Registry of the synthetic-dataset writers (design.md "The embedded default").

Each writer lives in ``datamodules/synthetic/<name>.py`` with ``write(out: Path, minutes: float, seed: int) -> Path``:
it writes a small dataset in the exact on-disk format of the real one (docs/DATASETS.md), built from real corpus
music rendered with FluidSynth and motion/video derived from the notes by explicit rules, plus a ``SYNTHETIC.json``
marker at its root (:func:`read_marker`) so that DataModules and logs can say the data is synthetic.

:func:`ensure` is what DataModules call with ``root=None``: it writes the dataset once under
``$V2M_CACHE/<name>-m<minutes>-s<seed>`` (default ``./data/synthetic/...``) into a temporary folder renamed into place
when complete, under a file lock, so concurrent DDP ranks and later runs reuse it.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from datamodules.synthetic.marker import MARKER, read_marker, write_marker

WRITERS: dict[str, str] = {
    "urmp": "datamodules.synthetic.urmp",
    "solos": "datamodules.synthetic.solos",
    "music": "datamodules.synthetic.music",
    "aistpp": "datamodules.synthetic.aistpp",
    "atinpiano": "datamodules.synthetic.atinpiano",
    "audeo": "datamodules.synthetic.audeo",
    "mv100k": "datamodules.synthetic.mv100k",
    "groove": "datamodules.synthetic.groove",
    "multitrack": "datamodules.synthetic.multitrack",
}


def _writer(dataset: str) -> Any:
    if dataset not in WRITERS:
        raise ValueError(f"no synthetic writer for dataset {dataset!r}; known: {sorted(WRITERS)}")
    return importlib.import_module(WRITERS[dataset])


def write(dataset: str, out: Path, minutes: float = 2.0, seed: int = 0) -> Path:
    """Write the synthetic ``dataset`` into ``out`` (created) and return its root."""
    if minutes <= 0:
        raise ValueError(f"synthetic {dataset}: minutes must be > 0, got {minutes}")
    out = Path(out)
    if out.is_dir() and any(out.iterdir()):
        raise FileExistsError(f"synthetic {dataset}: output folder {out} is not empty; give a new folder or delete it")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    root = Path(_writer(dataset).write(out, minutes=float(minutes), seed=int(seed)))
    if not (root / MARKER).is_file():
        raise RuntimeError(f"synthetic writer {dataset} did not write its {MARKER} marker in {root}")
    print(f"[synthetic] wrote SYNTHETIC {dataset} data ({minutes} min, seed {seed}) to {root} "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return root


def cache_root() -> Path:
    """Where :func:`ensure` keeps datasets: ``$V2M_CACHE`` or ``./data/synthetic``."""
    return Path(os.environ.get("V2M_CACHE") or Path.cwd() / "data" / "synthetic")


# The code a synthetic dataset is made by: a change to any of it gives a new cache folder, never stale data.
_GENERATING_CODE = (
    "datamodules/synthetic",
    "music",
    "datamodules/layouts.py",
    "datamodules/instruments.py",
    "datamodules/features",
)


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """8 hex digits of a hash over the source of everything that shapes the synthetic data."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for entry in _GENERATING_CODE:
        path = root / entry
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(source.relative_to(root)).encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:8]


def ensure(dataset: str, minutes: float = 2.0, seed: int = 0) -> Path:
    """The cached synthetic ``dataset`` (written on first use, atomically, under a file lock); returns its root."""
    _writer(dataset)  # unknown name -> one clear error before anything is created
    base = cache_root()
    base.mkdir(parents=True, exist_ok=True)
    final = base / f"{dataset}-m{minutes:g}-s{seed}-{code_fingerprint()}"
    if (final / MARKER).is_file():
        return final
    with open(base / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (final / MARKER).is_file():  # another process finished it while we waited
                return final
            tmp = base / f".{final.name}.tmp{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                write(dataset, tmp, minutes=minutes, seed=seed)
                if final.exists():  # an incomplete leftover without marker
                    shutil.rmtree(final)
                tmp.rename(final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return final


__all__ = ["MARKER", "WRITERS", "cache_root", "ensure", "read_marker", "write", "write_marker"]
