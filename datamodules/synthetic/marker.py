"""The ``SYNTHETIC.json`` marker every synthetic writer puts at its dataset root.

It says that the data is synthetic, which writer made it (dataset, minutes, seed) and, per writer, where each item's
music came from (the corpus piece behind each file), so that logs and tables can say "synthetic" and a reader can
trace a clip back to its source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

MARKER = "SYNTHETIC.json"


def write_marker(root: Path, dataset: str, minutes: float, seed: int, **extra: Any) -> Path:
    """Write ``root/SYNTHETIC.json`` with ``synthetic: true`` plus the writer's ``extra`` fields; returns its path."""
    record = {"synthetic": True, "dataset": dataset, "minutes": float(minutes), "seed": int(seed), **extra}
    path = Path(root) / MARKER
    tmp = path.with_name(f".{MARKER}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path


def read_marker(root: Path) -> Optional[dict[str, Any]]:
    """The marker of ``root`` as a dict, or None when ``root`` is not a synthetic dataset."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"synthetic: cannot parse {path}: {error}") from error
