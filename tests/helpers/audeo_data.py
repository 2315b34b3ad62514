"""The small synthetic Audeo set and DataModule shared by the Audeo data and pipeline tests."""

from __future__ import annotations

from pathlib import Path

from datamodules.audeo import AudeoDataModule

MINUTES = 0.5


def audeo_dm(stage: str, tmp_path: Path, **kwargs) -> AudeoDataModule:
    """An AudeoDataModule on the 0.5-min synthetic set, 20 x 180 frames, its frame cache in ``tmp_path``."""
    kwargs.setdefault("frame_size", (20, 180))
    return AudeoDataModule(stage=stage, synthetic_minutes=MINUTES, batch_size=4, cache_dir=str(tmp_path), **kwargs)
