"""Metrics of the five papers as ``torchmetrics.Metric`` classes (DDP-safe states), plus their helpers.

FAD / KL / NDB (generative quality and diversity: V2Meow, Foley Music, MI Net), frame P/R/Acc/F1 (Audeo), beat
F-measure and madmom's DBN beat tracker (RhythmicNet), KNN accuracy (MI Net), token NLL/perplexity and text-audio
consistency (V2Meow's MCC substitute), note-onset and frame scores of a MIDI (transcription checks, Audeo's Table 1 on
MIDI) and pitch-class histogram correlation (Foley Music). Each module's docstring gives the formula, the reference
and every pinned parameter.
"""

from metrics.audio_model import AudioWindowModel
from metrics.beat_fmeasure import BeatFMeasure
from metrics.dbn_beat import dbn_beat_track
from metrics.fad import FAD
from metrics.frame_prf import FramePRF
from metrics.frechet import frechet_distance
from metrics.kl import KLDivergence, kl_per_clip
from metrics.knn_accuracy import KNNAccuracy
from metrics.ndb import NDB, log_spectrogram_features
from metrics.note_scores import frame_scores, onset_f1
from metrics.pitch_class import PitchClassCorrelation, pitch_class_correlation, pitch_class_histogram
from metrics.text_audio import TextAudioConsistency
from metrics.token_nll import TokenNLL
from metrics.vggish import VGGish

_SUITE = ("SuiteAudioEmbedder", "ensure_suite_embedder", "train_suite_embedder")


def __getattr__(name: str):
    """Lazy exports of :mod:`metrics.suite_embedder` (so ``python -m metrics.suite_embedder`` runs it only once)."""
    if name in _SUITE:
        from metrics import suite_embedder

        return getattr(suite_embedder, name)
    raise AttributeError(f"module 'metrics' has no attribute {name!r}")


__all__ = [
    "FAD",
    "NDB",
    "AudioWindowModel",
    "BeatFMeasure",
    "FramePRF",
    "KLDivergence",
    "KNNAccuracy",
    "PitchClassCorrelation",
    "SuiteAudioEmbedder",
    "TextAudioConsistency",
    "TokenNLL",
    "VGGish",
    "dbn_beat_track",
    "ensure_suite_embedder",
    "frame_scores",
    "frechet_distance",
    "kl_per_clip",
    "log_spectrogram_features",
    "onset_f1",
    "pitch_class_correlation",
    "pitch_class_histogram",
    "train_suite_embedder",
]
