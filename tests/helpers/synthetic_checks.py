"""Helpers shared by the tests of the synthetic writers (tests/synthetic/), and the one table of per-writer settings
that the writer contract (tests/synthetic/test_contract.py) reads a dataset back with."""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

CONTRACT_MINUTES = 0.1  # the size the contract writes three times (seed 0 twice, seed 1 once)


@dataclass(frozen=True)
class WriterCase:
    """How the tests read one writer's dataset.

    Args:
        minutes: size of the dataset (seed 0) that the writer's format tests and the round trip read.
        datamodule: keyword arguments of its DataModule besides ``root`` (and a temporary ``cache_dir`` where the
            DataModule takes one).
        shapes: the shape of each of these fields of the first training batch.
        fixed_files: files that do not depend on the seed (the same camera rig for every seed, ...).
        stub_features: the writer stores learned-network video features: the determinism check stubs the extractor by
            a digest of the video (:func:`stub_video_features`; the extractors are tested on their own).
        meta_says_synthetic: every clip's ``meta`` says ``synthetic`` (the :class:`~datamodules.base.ClipDataModule`
            datasets); False where the meta names the frame only and the DataModule's ``is_synthetic`` says it.
        module: the file ``datamodules/<module>.py`` that holds the DataModule (default: the dataset's name).
    """

    minutes: float = CONTRACT_MINUTES
    datamodule: dict[str, Any] = field(default_factory=lambda: {"batch_size": 2})
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    fixed_files: frozenset[str] = frozenset()
    stub_features: bool = False
    meta_says_synthetic: bool = True
    module: str = ""


_FOLEY = {"fields": ("keypoints", "audio", "events", "instrument"), "clip_seconds": 2.0, "batch_size": 2}
CASES: dict[str, WriterCase] = {
    "urmp": WriterCase(datamodule=_FOLEY, shapes={"keypoints": (2, 44, 65, 3), "audio": (2, 44100)}),
    "music": WriterCase(datamodule=_FOLEY, shapes={"keypoints": (2, 44, 65, 3), "events": (2, 512)}),
    "solos": WriterCase(
        datamodule={"fields": ("keypoints", "audio", "roll", "instrument"), "clip_seconds": 2.0, "batch_size": 2},
        shapes={"keypoints": (2, 50, 47, 3), "audio": (2, 32000)},
    ),
    "aistpp": WriterCase(
        datamodule={"fields": ("keypoints", "audio"), "clip_seconds": 2.0, "batch_size": 2},
        shapes={"keypoints": (2, 120, 17, 3)},
        fixed_files=frozenset({"cameras/setting1.json", "ignore_list.txt"}),
    ),
    "atinpiano": WriterCase(
        minutes=0.5,
        datamodule={"fields": ("keypoints", "events", "roll", "instrument"), "batch_size": 2},
        shapes={"keypoints": (2, 132, 42, 3), "roll": (2, 88, 132), "events": (2, 512)},
    ),
    "audeo": WriterCase(
        minutes=0.5,
        datamodule={"stage": "video2roll", "num_keys": 88, "batch_size": 4, "max_videos": 1},
        shapes={"frames": (4, 5, 100, 900), "roll": (4, 88, 1)},
        meta_says_synthetic=False,
    ),
    "mv100k": WriterCase(
        minutes=0.6,
        datamodule={"batch_size": 1},
        shapes={"visual_features": (1, 10, 1280 + 45), "audio": (1, 10 * 16000)},
        stub_features=True,
    ),
    "groove": WriterCase(
        module="groove_midi",
        datamodule={"batch_size": 4},
        shapes={"groove": (4, 3, 32, 9), "groove_mask": (4, 32)},
    ),
    "multitrack": WriterCase(
        module="multitrack_midi",
        datamodule={"batch_size": 2, "bars": 4},
        shapes={"drum_tokens": (2, 4, 256), "instrument_tokens": (2, 4, 256), "bar_mask": (2, 4), "program": (2,)},
    ),
}


def case(dataset: str) -> WriterCase:
    """The settings of ``dataset``'s writer (defaults for a writer not in :data:`CASES`)."""
    return CASES.get(dataset, WriterCase())


def datamodule_class(dataset: str) -> type:
    """The DataModule of ``datamodules/<dataset>.py`` (or the case's ``module``) whose ``synthetic_name`` is
    ``dataset``."""
    from datamodules.base import ClipDataModule

    module = importlib.import_module(f"datamodules.{case(dataset).module or dataset}")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ClipDataModule) and value.synthetic_name == dataset
    ]
    assert len(found) == 1, f"datamodules/{dataset}.py: expected one DataModule with synthetic_name {dataset!r}"
    return found[0]


def stub_video_features(monkeypatch: Any) -> None:
    """Replace ``datamodules.features.video_features`` by a digest of the video's bytes, 11 rows of 4 per kind."""
    import datamodules.features as features

    def digest(path: Path, kinds: Any) -> dict[str, np.ndarray]:
        data = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8).astype(np.float32)
        return {kind: np.resize(data, (11, 4)) for kind in kinds}

    monkeypatch.setattr(features, "video_features", digest)


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
