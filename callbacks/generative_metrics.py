"""Generative metrics at validation/test end: FAD, KL and NDB of generated vs reference audio, to TensorBoard.

For the first ``max_batches`` batches of each evaluation epoch, the model's ``generate_examples(batch)``
(:class:`models.generation.GeneratesExamples`) gives :class:`models.generation.Example` objects; symbolic ones are
rendered with FluidSynth (:func:`music.synth.render`). Examples with ``role == "reference"`` are the references;
the others (``role == "generated"``) are generated. Without reference examples the references come from the batch
(:func:`batch_reference_audio`: the ``audio`` field, else a rendering of ``events`` or ``roll``). KL pairs the i-th
generated clip with the i-th reference clip.

Logged at epoch end (``pl_module.log``, so TensorBoard and ``trainer.callback_metrics`` get them) as
``<stage>/fad_<embedder>``, ``<stage>/kl_<embedder>``, ``<stage>/ndb``, ``<stage>/ndb_js``: the embedder's name is in
the metric name (``vggish`` when ``vggish_checkpoint`` is given, else the suite's own trained model,
``suite_embedder``; see :mod:`metrics.suite_embedder`). VGGish has no classifier head, so KL always uses the suite
model unless ``audio_model`` with a classifier is passed.

NDB cells are fitted once, on global rank 0, from the reference audio of the first ``ndb_train_batches`` training
batches (:func:`metrics.ndb.log_spectrogram_features`), and broadcast to every process. With fewer training clips
than ``ndb_k`` NDB is skipped with a warning naming the counts. Every process generates for its own batches; the
metric states are summed across processes, so the logged values cover all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities import rank_zero_warn

from metrics.audio_model import AudioWindowModel
from metrics.fad import FAD
from metrics.kl import KLDivergence
from metrics.ndb import NDB, log_spectrogram_features

log = logging.getLogger(__name__)


def is_reference(example: Any) -> bool:
    """Whether an :class:`~models.generation.Example` is a reference (ground truth) rather than generated."""
    return example.role == "reference"


def example_audio(example: Any) -> np.ndarray:
    """The example's waveform (rendering its MIDI with FluidSynth when it has no audio)."""
    if example.audio is not None:
        return example.audio
    from music.synth import render

    return render(example.midi, sample_rate=example.sample_rate)


def _meta(batch: dict[str, Any], i: int) -> dict[str, Any]:
    meta = batch.get("meta")
    return (meta[i] or {}) if isinstance(meta, (list, tuple)) and i < len(meta) else {}


def batch_reference_audio(
    batch: dict[str, Any], default_sample_rate: int = 16000
) -> Optional[tuple[list[np.ndarray], list[int]]]:
    """Reference clips of a batch and their sample rates, or None when the batch has no music field.

    ``audio`` [B, N] (rate from ``meta[i]["sample_rate"]``, else ``default_sample_rate``); else ``events`` decoded
    with :func:`music.events.decode`; else ``roll`` [B, K, T] turned into MIDI with :func:`music.roll.roll_to_midi`
    (``meta[i]["fps"]``; lowest key ``meta[i]["low"]``, else 21 for 88 keys, 36 for Audeo's 51); rendered at
    ``default_sample_rate``.
    """
    if "audio" in batch and torch.is_tensor(batch["audio"]):
        audio = batch["audio"].detach().float().cpu().numpy()
        rates = [int(_meta(batch, i).get("sample_rate", default_sample_rate)) for i in range(len(audio))]
        return list(audio), rates
    midis: list[Any] = []
    if "events" in batch and torch.is_tensor(batch["events"]):
        from music.events import decode

        midis = [decode(row.cpu()) for row in batch["events"]]
    elif "roll" in batch and torch.is_tensor(batch["roll"]):
        from music.roll import roll_to_midi

        for i, roll in enumerate(batch["roll"].detach().cpu().numpy()):
            meta = _meta(batch, i)
            if "fps" not in meta:
                raise ValueError("batch_reference_audio: a 'roll' batch needs meta[i]['fps'] to render its reference")
            low = int(meta.get("low", {88: 21, 51: 36}.get(roll.shape[0], -1)))
            if low < 0:
                raise ValueError(f"batch_reference_audio: roll with {roll.shape[0]} keys needs meta[i]['low']")
            midis.append(roll_to_midi(roll, float(meta["fps"]), low=low))
    if not midis:
        return None
    from music.synth import render

    return [render(m, sample_rate=default_sample_rate) for m in midis], [default_sample_rate] * len(midis)


class GenerativeMetrics(Callback):
    """FAD / KL / NDB of generated audio at validation and test end (see the module docstring).

    Args:
        every_n_epochs: evaluate at validation end every N epochs (test always evaluates).
        max_batches: evaluation batches per epoch that are generated from (None: all).
        vggish_checkpoint: local torchvggish state dict; FAD then uses VGGish (``fad_vggish``).
        embedder_checkpoint: the suite embedder's checkpoint (default: trained once and cached, see
            :func:`metrics.suite_embedder.ensure_suite_embedder`).
        audio_model: an embedder/classifier object to use instead (tests, user models).
        ndb_k: NDB cells (Foley Music / MI Net: 50).
        ndb_train_batches: training batches whose reference audio the NDB cells are fitted on.
        ndb_seed: k-means seed.
        sample_rate: rate of batch audio without ``meta[i]["sample_rate"]`` and of reference renderings.
        fad, kl, ndb: which metrics to compute.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        max_batches: Optional[int] = 4,
        vggish_checkpoint: Optional[str] = None,
        embedder_checkpoint: Optional[str] = None,
        audio_model: Optional[AudioWindowModel] = None,
        ndb_k: int = 50,
        ndb_train_batches: int = 32,
        ndb_seed: int = 0,
        sample_rate: int = 16000,
        fad: bool = True,
        kl: bool = True,
        ndb: bool = True,
    ) -> None:
        self.every_n_epochs = int(every_n_epochs)
        self.max_batches = max_batches
        self.vggish_checkpoint = vggish_checkpoint
        self.embedder_checkpoint = embedder_checkpoint
        self.audio_model = audio_model
        self.ndb_k, self.ndb_train_batches, self.ndb_seed = int(ndb_k), int(ndb_train_batches), int(ndb_seed)
        self.sample_rate = int(sample_rate)
        self.use = {"fad": fad, "kl": kl, "ndb": ndb}
        self._metrics: dict[str, Any] = {}
        self._ndb_state: Optional[tuple[torch.Tensor, torch.Tensor]] = None
        self._ndb_checked = False
        self._active = False

    # ------------------------------------------------------------------ models and metrics
    def _models(self) -> tuple[AudioWindowModel, AudioWindowModel]:
        """(FAD embedder, KL classifier)."""
        from metrics.suite_embedder import SuiteAudioEmbedder, ensure_suite_embedder

        if self.audio_model is not None:
            classifier = self.audio_model if self.audio_model.num_classes else None
            embedder = self.audio_model
        else:
            embedder = classifier = None
        if self.vggish_checkpoint is not None and embedder is None:
            from metrics.vggish import VGGish

            embedder = VGGish.from_checkpoint(self.vggish_checkpoint)
        if embedder is None or (classifier is None and self.use["kl"]):
            suite = SuiteAudioEmbedder.from_checkpoint(ensure_suite_embedder(self.embedder_checkpoint))
            embedder = embedder or suite
            classifier = classifier or suite
        return embedder, classifier

    def _needs_suite_model(self) -> bool:
        if not (self.use["fad"] or self.use["kl"]):
            return False
        model = self.audio_model
        has_embedder = model is not None or self.vggish_checkpoint is not None
        has_classifier = model is not None and model.num_classes > 0
        return not has_embedder or (self.use["kl"] and not has_classifier)

    def _ensure_suite_model(self, trainer: Trainer) -> None:
        """Train the suite embedder once (global rank 0, others wait) if it is needed and not cached yet.

        In a ``fast_dev_run`` a missing embedder is not trained (that takes minutes): FAD and KL are switched off
        with a warning saying how to train it.
        """
        from metrics.suite_embedder import default_checkpoint, ensure_suite_embedder

        if self._metrics or not self._needs_suite_model():
            return
        path = Path(self.embedder_checkpoint) if self.embedder_checkpoint else default_checkpoint()
        if path.is_file():
            return
        if trainer.fast_dev_run:
            rank_zero_warn(
                f"GenerativeMetrics: the suite audio embedder {path} is not trained yet; FAD/KL are off in this "
                "fast_dev_run (train it with `python -m metrics.suite_embedder`, or pass vggish_checkpoint)"
            )
            self.use["fad"] = self.use["kl"] = False
            return
        if trainer.is_global_zero:
            ensure_suite_embedder(path)
        trainer.strategy.barrier("suite_embedder")

    def _build(self, pl_module: LightningModule) -> dict[str, Any]:
        if not self._metrics and (self.use["fad"] or self.use["kl"]):
            embedder, classifier = self._models()
            if self.use["fad"]:
                self._metrics["fad"] = FAD(embedder, keep_embeddings=False)
            if self.use["kl"] and classifier is not None:
                self._metrics["kl"] = KLDivergence(classifier)
        if self.use["ndb"] and not self._ndb_checked:
            self._metrics["ndb"] = NDB(k=self.ndb_k, seed=self.ndb_seed)
        for metric in self._metrics.values():
            metric.to(pl_module.device)
            metric.reset()
        return self._metrics

    def _fit_ndb(self, trainer: Trainer) -> None:
        if self._ndb_checked or "ndb" not in self._metrics:
            return
        self._ndb_checked = True
        state = None
        if trainer.is_global_zero:
            state = self._ndb_cells(trainer)
        state = trainer.strategy.broadcast(state, src=0)
        if state is None:
            del self._metrics["ndb"]
            return
        self._ndb_state = state
        self._metrics["ndb"].set_bins(*state)

    def _ndb_cells(self, trainer: Trainer) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
        try:
            datamodule = trainer.datamodule
            if datamodule is not None:
                loader = datamodule.train_dataloader()
            else:
                loader = trainer.fit_loop._data_source.dataloader()
        except Exception as error:  # noqa: BLE001 - any failure to get training data: say so and skip NDB
            rank_zero_warn(f"GenerativeMetrics: no training data for the NDB cells ({error}); NDB is skipped")
            return None
        clips, rates = [], []
        for index, batch in enumerate(loader):
            if index >= self.ndb_train_batches:
                break
            found = batch_reference_audio(batch, self._default_rate(trainer))
            if found is None:
                rank_zero_warn("GenerativeMetrics: training batches have no audio/events/roll field; NDB is skipped")
                return None
            clips += found[0]
            rates += found[1]
        if len(clips) < self.ndb_k:
            rank_zero_warn(
                f"GenerativeMetrics: {len(clips)} training clips from {self.ndb_train_batches} batches are fewer than "
                f"ndb_k={self.ndb_k} cells; NDB is skipped (raise ndb_train_batches or lower ndb_k)"
            )
            return None
        features = torch.cat([log_spectrogram_features([c], r) for c, r in zip(clips, rates)])
        ndb = NDB(k=self.ndb_k, seed=self.ndb_seed).fit(features)
        return ndb.centers.cpu(), ndb.train_counts.cpu()

    def _default_rate(self, trainer: Trainer) -> int:
        return int(getattr(trainer.datamodule, "sample_rate", self.sample_rate) or self.sample_rate)

    # ------------------------------------------------------------------ loop hooks
    def _start(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        from models.generation import GeneratesExamples

        due = stage == "test" or (trainer.current_epoch + 1) % self.every_n_epochs == 0
        self._active = due and not trainer.sanity_checking and isinstance(pl_module, GeneratesExamples)
        if self._active:
            self._ensure_suite_model(trainer)
            self._build(pl_module)
            self._fit_ndb(trainer)

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start(trainer, pl_module, "val")

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start(trainer, pl_module, "test")

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._update(trainer, pl_module, batch, batch_idx, dataloader_idx)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._update(trainer, pl_module, batch, batch_idx, dataloader_idx)

    def _update(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int, dl_idx: int) -> None:
        if not self._active or dl_idx != 0 or (self.max_batches is not None and batch_idx >= self.max_batches):
            return
        with torch.no_grad():
            examples = pl_module.generate_examples(batch)
        generated = [e for e in examples if not is_reference(e)]
        references = [e for e in examples if is_reference(e)]
        gen_clips = [(example_audio(e), e.sample_rate) for e in generated]
        if references:
            ref_clips = [(example_audio(e), e.sample_rate) for e in references]
        else:
            found = batch_reference_audio(batch, self._default_rate(trainer))
            ref_clips = list(zip(*found)) if found is not None else []
        self.update_metrics(gen_clips, ref_clips)

    def update_metrics(self, generated: Sequence[tuple[Any, int]], references: Sequence[tuple[Any, int]]) -> None:
        """Add (clip, sample_rate) pairs of generated and reference audio to the metrics."""
        fad, kl, ndb = (self._metrics.get(k) for k in ("fad", "kl", "ndb"))
        for clip, rate in generated:
            if fad is not None:
                fad.update([clip], real=False, sample_rate=rate)
            if ndb is not None:
                ndb.update_audio([clip], rate)
        for clip, rate in references:
            if fad is not None:
                fad.update([clip], real=True, sample_rate=rate)
        if kl is not None:
            for (gen, gen_rate), (ref, ref_rate) in zip(generated, references):
                kl.update([gen], [ref], sample_rate=gen_rate, reference_sample_rate=ref_rate)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._log(pl_module, "val")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._log(pl_module, "test")

    def compute(self) -> dict[str, float]:
        """Current values (synchronised across processes), keyed by metric name without the stage prefix."""
        values: dict[str, float] = {}
        fad, kl, ndb = (self._metrics.get(k) for k in ("fad", "kl", "ndb"))
        if fad is not None:
            fake, real = _total(fad, "fake_n"), _total(fad, "real_n")
            if fake >= 2 and real >= 2:
                values[fad.name] = float(fad.compute())
            else:
                rank_zero_warn(
                    f"GenerativeMetrics: {fad.name} needs >= 2 embedding windows (0.96 s) on each side, got "
                    f"{int(fake)} generated and {int(real)} reference; not logged (raise max_batches)"
                )
        if kl is not None and _total(kl, "count") > 0:
            values[kl.name] = float(kl.compute())
        elif kl is not None:
            rank_zero_warn(f"GenerativeMetrics: no (generated, reference) pairs for {kl.name}; not logged")
        if ndb is not None and _total(ndb, "counts") > 0:
            result = ndb.compute()
            values["ndb"], values["ndb_js"] = float(result["ndb"]), float(result["js"])
        return values

    def _log(self, pl_module: LightningModule, stage: str) -> None:
        if not self._active:
            return
        self._active = False
        for name, value in self.compute().items():
            pl_module.log(f"{stage}/{name}", value, sync_dist=False, rank_zero_only=False)


def _total(metric: Any, state: str) -> float:
    """A state's sum over all processes (0 when nothing was added anywhere)."""
    with metric.sync_context():
        return float(getattr(metric, state).sum())


__all__ = ["GenerativeMetrics", "batch_reference_audio", "example_audio", "is_reference"]
