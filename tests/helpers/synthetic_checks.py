"""Helpers shared by the tests of the synthetic writers (tests/synthetic/)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np


def tree_digest(root: Path) -> dict[str, str]:
    """{relative path: md5} of every file under ``root``."""
    return {
        str(path.relative_to(root)): hashlib.md5(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def video_info(path: Path) -> dict:
    """fps, size, frame count and whether an audio stream exists (PyAV)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "fps": float(stream.average_rate),
            "size": (stream.codec_context.width, stream.codec_context.height),
            "frames": frames,
            "audio": bool(container.streams.audio),
        }


def midi_pitch(hz: np.ndarray) -> np.ndarray:
    return np.round(69 + 12 * np.log2(np.asarray(hz) / 440.0)).astype(int)
