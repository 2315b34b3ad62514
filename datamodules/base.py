"""Shared LightningDataModule plumbing: synthetic default root, split datasets, loaders with the suite's collate.

A dataset's DataModule subclasses :class:`ClipDataModule`, sets ``synthetic_name`` and implements
:meth:`build_dataset` (one ``torch.utils.data.Dataset`` per split, typically a :class:`datamodules.clips.ClipDataset`).
A dataset read as :class:`~datamodules.recordings.Recording` s subclasses :class:`RecordingDataModule` instead, which
holds the shared clip options and builds the :class:`~datamodules.recordings.RecordingClips`; it implements
:meth:`RecordingDataModule.recordings`.
With ``root=None`` the embedded synthetic dataset is written on first use by
``datamodules.synthetic.ensure(synthetic_name, synthetic_minutes, seed)`` in ``prepare_data`` and the run says so
(a log line, ``self.is_synthetic``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Optional

import pytorch_lightning as pl
from torch.utils.data import DataLoader, Dataset

from datamodules.clips import Collate
from datamodules.fields import Normalization
from datamodules.loaders import ResumableLoader, evaluation_loader
from datamodules.recordings import ClipOptions, Recording, RecordingClips

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class ClipDataModule(pl.LightningDataModule):
    """Base class of the suite's DataModules.

    Args:
        root: the dataset root on disk; None = the embedded synthetic dataset in the same format.
        batch_size: clips per batch.
        num_workers: DataLoader worker processes.
        synthetic_minutes: size of the synthetic dataset (minutes of music) when ``root`` is None.
        seed: seed of the synthetic dataset.
    """

    synthetic_name: ClassVar[str] = ""

    def __init__(
        self,
        root: Optional[str] = None,
        batch_size: int = 8,
        num_workers: int = 0,
        synthetic_minutes: float = 2.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.root = None if root is None else Path(root).expanduser()
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.synthetic_minutes = float(synthetic_minutes)
        self.seed = int(seed)
        self.is_synthetic = root is None
        self.datasets: dict[str, Dataset] = {}
        self.collate = Collate()

    # ------------------------------------------------------------------ root
    def prepare_data(self) -> None:
        if self.root is None:
            from datamodules.synthetic import ensure

            ensure(self.synthetic_name, self.synthetic_minutes, self.seed)

    def resolve_root(self) -> Path:
        """The dataset root: ``root`` (checked to exist) or the cached synthetic dataset (written if needed)."""
        if self.root is None:
            from datamodules.synthetic import ensure

            path = ensure(self.synthetic_name, self.synthetic_minutes, self.seed)
            if getattr(self, "_said_synthetic", False):
                return path
            self._said_synthetic = True
            log.warning(
                "%s: using SYNTHETIC %s data (%g min, seed %d) at %s; pass root= for the real dataset",
                type(self).__name__,
                self.synthetic_name,
                self.synthetic_minutes,
                self.seed,
                path,
            )
            return path
        if not self.root.is_dir():
            raise FileNotFoundError(f"{type(self).__name__}: dataset root {self.root} does not exist")
        from datamodules.synthetic import read_marker

        self.is_synthetic = read_marker(self.root) is not None
        return self.root

    # --------------------------------------------------------------- datasets
    def build_dataset(self, root: Path, split: str) -> Dataset:
        """The dataset of ``split`` ("train", "val" or "test") read from ``root``."""
        raise NotImplementedError

    def setup(self, stage: Optional[str] = None) -> None:
        root = self.resolve_root()
        wanted = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": ("test",),
            None: SPLITS,
        }.get(stage, SPLITS)
        for split in wanted:
            if split not in self.datasets:
                self.datasets[split] = self.build_dataset(root, split)

    def dataset(self, split: str) -> Dataset:
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        return self.datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        """Training: a :class:`~datamodules.loaders.ResumableLoader` (seeded shuffling sharded by rank, exact
        mid-epoch resume; workers are re-made each epoch so they see the dataset's epoch). Evaluation: in order,
        each sample on exactly one rank under DDP (:func:`~datamodules.loaders.evaluation_loader`)."""
        dataset = self.dataset(split)
        if shuffle:
            if hasattr(dataset, "seed"):
                dataset.seed = self.seed
            return ResumableLoader(
                dataset, self.batch_size, seed=self.seed, num_workers=self.num_workers, collate_fn=self.collate
            )
        return evaluation_loader(
            dataset,
            self.batch_size,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    @property
    def provided_fields(self) -> tuple[str, ...]:
        """The batch fields this DataModule yields (design.md names), for models to check against their needs."""
        options = getattr(self, "options", None)
        base = tuple(options.fields) if options is not None else ()
        return base + (("events_mask",) if "events" in base else ()) + ("meta",)

    def describe(self) -> dict[str, Any]:
        """Clip counts per built split (for logs and tables)."""
        return {split: len(ds) for split, ds in self.datasets.items()} | {"synthetic": self.is_synthetic}


class RecordingDataModule(ClipDataModule):
    """A :class:`ClipDataModule` whose splits are lists of :class:`~datamodules.recordings.Recording` s, cut into
    :class:`~datamodules.recordings.RecordingClips` with the fields of ``self.options``.

    A subclass sets ``synthetic_name`` and ``dataset_name`` (the name in errors and ``meta``), implements
    :meth:`recordings` and declares the arguments whose defaults are its own, forwarding the rest as ``**kwargs``
    (LightningCLI / jsonargparse follow ``**kwargs`` here, so every argument below stays configurable).

    Args:
        root: the dataset root on disk; None = the embedded synthetic dataset in the same format.
        fields: batch fields to read (keypoints, audio, events, roll, frames, beats, instrument).
        keypoint_layout: layout of the ``keypoints`` field (None: the source's own).
        clip_seconds: clip length in seconds.
        fps: frame rate of keypoints / roll / frames / beats.
        sample_rate: audio rate.
        max_events: length of the ``events`` field (Foley Music: 512).
        binary_roll: ``roll`` as 0/1 (MI Net §3.3 ignores the dynamics) instead of velocity / 127.
        drop_outlasting: leave notes that end after the clip out of ``events`` (Foley Music's released clip reader,
            pretty_midi ``adjust_times``) instead of clipping them at the clip's end (default).
        normalization: keypoint normalisation (bbox, image, none).
        frame_size: (width, height) of the ``frames`` field.
        gray: grayscale ``frames``.
        val_hop_seconds: hop of the contiguous val/test clips (default: no overlap).
        clips_per_epoch: training clips per epoch (default: one per whole clip in the split).
        batch_size, num_workers, synthetic_minutes, seed: see :class:`ClipDataModule`.
    """

    dataset_name: ClassVar[str] = ""

    def __init__(
        self,
        root: Optional[str] = None,
        fields: tuple[str, ...] = ("keypoints", "audio", "events", "instrument"),
        keypoint_layout: Optional[str] = None,
        clip_seconds: float = 6.0,
        fps: float = 22.0,
        sample_rate: int = 22050,
        max_events: int = 512,
        normalization: Normalization = "bbox",
        frame_size: Optional[tuple[int, int]] = (224, 224),
        gray: bool = False,
        val_hop_seconds: Optional[float] = None,
        clips_per_epoch: Optional[int] = None,
        binary_roll: bool = False,
        drop_outlasting: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.options = ClipOptions(
            fields=tuple(fields),
            fps=fps,
            keypoint_layout=keypoint_layout,
            normalization=normalization,
            sample_rate=sample_rate,
            max_events=max_events,
            binary_roll=binary_roll,
            drop_outlasting=drop_outlasting,
            frame_size=None if frame_size is None else tuple(frame_size),
            gray=gray,
        )
        self.clip_seconds = float(clip_seconds)
        self.val_hop_seconds = val_hop_seconds
        self.clips_per_epoch = clips_per_epoch

    def recordings(self, root: Path, split: str) -> list[Recording]:
        """The recordings of ``split`` ("train", "val" or "test") under ``root`` (an error naming what is missing)."""
        raise NotImplementedError

    def build_dataset(self, root: Path, split: str) -> RecordingClips:
        return RecordingClips(
            self.recordings(root, split),
            self.options,
            self.clip_seconds,
            train=split == "train",
            dataset=self.dataset_name,
            synthetic=self.is_synthetic,
            hop_seconds=self.val_hop_seconds,
            clips_per_epoch=self.clips_per_epoch,
        )


__all__ = ["ClipDataModule", "RecordingDataModule", "SPLITS"]
