"""Checkpoint files that are never half-written.

Lightning's default writer goes through an fsspec transaction whose temporary file lives in the system temp folder;
committing it is a copy across file systems, so a kill during that copy can leave a truncated ``last.ckpt``. This
writer puts the temporary file beside the target, fsyncs it and renames it into place (atomic on POSIX).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch
from lightning_fabric.plugins import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with same-folder temporary file + fsync + ``os.replace``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as handle:
                self._write(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def _write(self, checkpoint: dict[str, Any], handle: Any) -> None:
        torch.save(checkpoint, handle)
