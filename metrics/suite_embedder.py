"""The suite's own audio embedder/classifier: the default FAD embedder and KL classifier when no VGGish is at hand.

VGGish, PANNs, PaSST, TRILL and LEAF weights (V2Meow §4 uses VGGish, TRILL and LEAF) cannot be downloaded here, so
the suite trains its own model on its synthetic world and says so: metrics computed with it are logged as
``fad_suite_embedder`` / ``kl_suite_embedder`` and are comparable only with each other.

Model: a VGG-style log-mel CNN on VGGish's input (:mod:`metrics.log_mel`, 0.96 s x 64 mel bands): four stages of
[3x3 conv, BatchNorm, ReLU] x 2 + 2x2 max-pool (widths ``channels``), global average pool, a 128-d embedding
(Linear + ReLU, like VGGish's last layer) and a linear classifier over :data:`INSTRUMENTS` (the General-MIDI
instruments of the suite's datasets: the 13 URMP instruments, piano, guitar, drums).

Training data (:func:`build_dataset`): parts of Bach chorales from the music21 corpus (:mod:`music.corpus`), each
part moved by octaves into each instrument's register and rendered alone with FluidSynth (:func:`music.synth.render`)
at 16 kHz; drum examples map the part's pitches onto kick/snare/hats/crash. Each 0.96 s window with sound is one
example labelled with its instrument; the last chorale is held out for validation. Entry point::

    python -m metrics.suite_embedder --out data/cache/embedders/suite_audio_embedder-v1.pt

:func:`ensure_suite_embedder` trains once and caches the checkpoint (atomically) under ``$V2M_CACHE/embedders``
(default ``./data/cache/embedders``).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from metrics.audio_model import AudioWindowModel
from metrics.log_mel import LOG_OFFSET, SAMPLE_RATE, log_mel_examples

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
# (name, General-MIDI program, is_drum, centre pitch of the register the parts are moved into)
INSTRUMENTS: tuple[tuple[str, int, bool, int], ...] = (
    ("piano", 0, False, 60),
    ("violin", 40, False, 76),
    ("viola", 41, False, 67),
    ("cello", 42, False, 52),
    ("double_bass", 43, False, 40),
    ("flute", 73, False, 79),
    ("oboe", 68, False, 72),
    ("clarinet", 71, False, 65),
    ("bassoon", 70, False, 50),
    ("saxophone", 65, False, 63),
    ("trumpet", 56, False, 70),
    ("horn", 60, False, 58),
    ("trombone", 57, False, 52),
    ("tuba", 58, False, 40),
    ("guitar", 24, False, 59),
    ("drums", 0, True, 0),
)
CHORALES: tuple[str, ...] = ("bach/bwv66.6", "bach/bwv2.6", "bach/bwv3.6", "bach/bwv4.8", "bach/bwv1.6")
DRUM_KIT = (36, 38, 42, 46, 49)  # kick, snare, closed hat, open hat, crash


class SuiteAudioEmbedder(AudioWindowModel):
    """Log-mel CNN with a 128-d embedding and an instrument classifier (see the module docstring).

    Args:
        num_classes: classifier outputs (default: the 16 :data:`INSTRUMENTS`).
        channels: widths of the four conv stages.
        embedding_dim: size of the embedding used by FAD.
    """

    name = "suite_embedder"

    def __init__(
        self,
        num_classes: int = len(INSTRUMENTS),
        channels: Sequence[int] = (16, 32, 64, 128),
        embedding_dim: int = 128,
    ) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.embedding_dim = int(embedding_dim)
        self.channels = tuple(int(c) for c in channels)
        layers: list[nn.Module] = [nn.BatchNorm2d(1)]
        previous = 1
        for width in self.channels:
            for _ in range(2):
                layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                previous = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.embedding = nn.Sequential(nn.Linear(previous, self.embedding_dim), nn.ReLU())
        self.classifier = nn.Linear(self.embedding_dim, self.num_classes)

    def forward_examples(self, examples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.features(examples[:, None]).mean(dim=(2, 3))
        embedding = self.embedding(hidden)
        return embedding, self.classifier(embedding)

    def config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "channels": list(self.channels), "embedding_dim": self.embedding_dim}

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> SuiteAudioEmbedder:
        """Load a checkpoint written by :func:`train_suite_embedder`."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"suite embedder checkpoint {path} does not exist (train it: {__name__})")
        try:
            checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
            model = cls(**checkpoint["config"])
            model.load_state_dict(checkpoint["state_dict"])
        except Exception as error:
            raise RuntimeError(f"suite embedder checkpoint {path} is unreadable: {error}") from error
        return model.eval()


def _arrange(part: Any, program: int, is_drum: bool, centre: int) -> Any:
    """A one-instrument PrettyMIDI playing ``part``'s notes on ``program`` (octave-shifted to ``centre``)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=program, is_drum=is_drum)
    pitches = [n.pitch for n in part.notes]
    shift = 0 if is_drum else 12 * int(round((centre - float(np.median(pitches))) / 12.0))
    for note in part.notes:
        pitch = DRUM_KIT[note.pitch % len(DRUM_KIT)] if is_drum else int(np.clip(note.pitch + shift, 0, 127))
        track.notes.append(pretty_midi.Note(note.velocity, pitch, note.start, note.end))
    midi.instruments.append(track)
    return midi


def build_dataset(
    pieces: Sequence[str] = CHORALES, seconds: float = 12.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-mel examples ``[N, 96, 64]``, labels ``[N]`` and piece index ``[N]`` (see the module docstring).

    Each part of each piece is cut to its first ``seconds`` and rendered once per instrument; silent windows
    (no mel band more than e times above the log floor) are dropped. Velocities are jittered (seeded) so that
    loudness does not give labels away.
    """
    from music.corpus import load_corpus_midi
    from music.synth import render

    rng = np.random.default_rng(seed)
    examples, labels, origin = [], [], []
    for piece_index, piece in enumerate(pieces):
        score = load_corpus_midi(piece)
        for part in score.instruments:
            part.notes = [n for n in part.notes if n.start < seconds]
            if not part.notes:
                continue
            for label, (_, program, is_drum, centre) in enumerate(INSTRUMENTS):
                for note in part.notes:
                    note.velocity = int(rng.integers(50, 121))
                audio = render(_arrange(part, program, is_drum, centre), sample_rate=SAMPLE_RATE)
                windows = log_mel_examples(audio, SAMPLE_RATE)
                loud = windows.amax(dim=(1, 2)) > np.log(LOG_OFFSET) + 1.0  # some mel energy above the log floor
                windows = windows[loud]
                examples.append(windows)
                labels.append(torch.full((len(windows),), label, dtype=torch.long))
                origin.append(torch.full((len(windows),), piece_index, dtype=torch.long))
    if not examples:
        raise RuntimeError(f"no training audio rendered from {list(pieces)}")
    return torch.cat(examples), torch.cat(labels), torch.cat(origin)


def train_suite_embedder(
    out: str | os.PathLike,
    pieces: Sequence[str] = CHORALES,
    seconds: float = 12.0,
    epochs: int = 4,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    channels: Sequence[int] = (16, 32, 64, 128),
) -> Path:
    """Train :class:`SuiteAudioEmbedder` to classify instruments; write the checkpoint atomically to ``out``.

    The last piece is the validation set; its accuracy is stored in the checkpoint (``val_accuracy``) and logged.
    """
    if len(pieces) < 2:
        raise ValueError("train_suite_embedder needs at least two pieces (the last one is held out)")
    torch.manual_seed(seed)
    x, y, origin = build_dataset(pieces, seconds, seed)
    train, val = origin < len(pieces) - 1, origin == len(pieces) - 1
    model = SuiteAudioEmbedder(channels=channels)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    x_train, y_train = x[train], y[train]
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            gain = torch.empty(len(index), 1, 1).uniform_(-1.0, 1.0, generator=generator)  # about +-9 dB in log-mel
            _, logits = model.forward_examples(x_train[index] + gain)
            loss = nn.functional.cross_entropy(logits, y_train[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(index)
        accuracy = evaluate_accuracy(model, x[val], y[val])
        log.info("suite embedder epoch %d: train loss %.4f, val accuracy %.3f", epoch, total / len(x_train), accuracy)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    torch.save(
        {
            "version": CHECKPOINT_VERSION,
            "config": model.config(),
            "state_dict": model.state_dict(),
            "classes": [name for name, *_ in INSTRUMENTS],
            "val_accuracy": accuracy,
            "trained_on": {"pieces": list(pieces), "seconds": seconds, "epochs": epochs, "seed": seed},
        },
        str(tmp),
    )
    os.replace(tmp, out)
    return out


def evaluate_accuracy(model: SuiteAudioEmbedder, x: torch.Tensor, y: torch.Tensor) -> float:
    """Window-level instrument accuracy of ``model`` on examples ``x`` with labels ``y``."""
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model.forward_examples(chunk)[1].argmax(-1) for chunk in x.split(256)])
    return float((predictions == y).float().mean()) if len(y) else float("nan")


def default_checkpoint() -> Path:
    """``$V2M_CACHE/embedders/suite_audio_embedder-v1.pt`` (default cache ``./data/cache``)."""
    root = os.environ.get("V2M_CACHE")
    base = Path(root) if root else Path("data") / "cache"
    return base / "embedders" / f"suite_audio_embedder-v{CHECKPOINT_VERSION}.pt"


def ensure_suite_embedder(path: str | os.PathLike | None = None) -> Path:
    """The trained suite embedder's checkpoint: ``path`` / :func:`default_checkpoint`, trained there if missing."""
    path = Path(path) if path is not None else default_checkpoint()
    if not path.is_file():
        log.warning("training the suite audio embedder (no VGGish weights offline); caching it at %s", path)
        train_suite_embedder(path)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the suite's audio embedder (FAD/KL default) on synthetic audio")
    parser.add_argument("--out", default=str(default_checkpoint()))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    path = train_suite_embedder(args.out, seconds=args.seconds, epochs=args.epochs, seed=args.seed)
    print(f"wrote {path} (val accuracy {torch.load(path, weights_only=True)['val_accuracy']:.3f})")


if __name__ == "__main__":
    main()


__all__ = [
    "INSTRUMENTS",
    "SuiteAudioEmbedder",
    "build_dataset",
    "default_checkpoint",
    "ensure_suite_embedder",
    "evaluate_accuracy",
    "train_suite_embedder",
]
