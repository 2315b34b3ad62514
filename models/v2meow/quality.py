"""Quality checks of V2Meow's stand-ins (docs/V2MEOW.md, Results), on held-out audio of an MV100K-layout root.

Each check works through the stand-in's protocol only, so a user's model is checked the same way:

- :func:`codec_quality` (``models.tokenizers.AudioCodec``): log-mel L1 of the reconstruction with 1, 2, ... levels,
  against :func:`mulaw_lowpass` (a low-passed 8-bit mu-law signal at ``baseline_factor`` × the codec's bitrate); the
  share of each level's codes used on the held-out audio; SI-SNR with every level.
- :func:`semantic_quality` (``models.tokenizers.SemanticTokenizer``): NMI(token; genre) over all held-out token frames
  against a baseline tokenizer's (log-mel k-means with the same K); a genre probe on bags of tokens (a logistic
  regression trained on windows of the training videos, scored per held-out video).
- :func:`joint_quality` (``metrics.text_audio.JointTextAudioModel``): text -> audio recall at k among the held-out
  videos (one 10-s clip and its caption per video) and zero-shot genre ("a {genre} piece").

:func:`held_out_videos` reads the videos of a root (audio, genre, caption). ``python -m models.v2meow.quality`` prints
every check of the stand-ins trained by ``make v2meow-tokenizers``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from models.nn.mel import MelSpectrogram
from models.v2meow.model import si_snr

EVAL_MEL = dict(n_fft=1024, hop_length=256, n_mels=64, log=True)  # V2Meow's val/mel_l1 (log(mel + 1e-5))
GENRE_PROMPT = "a {} piece"


# ------------------------------------------------------------------------------------------------------------- data
@dataclass
class HeldOutVideo:
    """One video of an MV100K-layout root: its id, split, genre, caption and audio (float32 [N] at ``rate``)."""

    id: str
    split: str
    genre: str
    caption: str
    audio: np.ndarray = field(repr=False)


def held_out_videos(
    root: str | Path, sample_rate: int, splits: Sequence[str] = ("val", "test"), seconds: Optional[float] = None
) -> list[HeldOutVideo]:
    """The videos of ``root`` in ``splits`` (``videos.csv`` needs a ``genre`` column), audio resampled to
    ``sample_rate`` and cut to its first ``seconds`` (None: whole)."""
    from datamodules.audio import load_audio
    from datamodules.mv100k import CAPTIONS_CSV, VIDEOS_CSV, caption_for, read_captions, read_videos

    root = Path(root)
    videos = [v for v in read_videos(root / VIDEOS_CSV) if v.split in splits]
    if not videos:
        raise ValueError(f"quality: {root / VIDEOS_CSV} has no videos in splits {list(splits)}")
    missing = [v.id for v in videos if "genre" not in v.extra]
    if missing:
        raise ValueError(f"quality: {root / VIDEOS_CSV} has no 'genre' column (videos {missing[:3]})")
    captions = read_captions(root / CAPTIONS_CSV) if (root / CAPTIONS_CSV).is_file() else {}
    out = []
    for v in videos:
        duration = v.duration if seconds is None else min(seconds, v.duration)
        audio = load_audio(root / "audio" / f"{v.id}.wav", sample_rate, duration=duration)
        text = caption_for(captions.get(v.id, ()), 0.0, duration)
        out.append(HeldOutVideo(v.id, v.split, v.extra["genre"], text, audio))
    return out


# ------------------------------------------------------------------------------------------------------------ codec
def mulaw_lowpass(audio: Tensor, sample_rate: int, bitrate: float, bits: int = 8, mu: int = 255) -> Tensor:
    """The baseline coder: ``audio`` [B, N] resampled (anti-aliased, so low-passed) to ``bitrate / bits`` samples/s,
    quantised to ``bits``-bit mu-law, and resampled back to ``sample_rate`` ([B, N])."""
    from scipy.signal import resample_poly

    ratio = Fraction(bitrate / bits / sample_rate).limit_denominator(1000)
    if not 0 < ratio <= 1:
        raise ValueError(f"mulaw_lowpass: {bitrate} bit/s at {bits} bits is not below {sample_rate} samples/s")
    x = audio.detach().cpu().double().numpy()
    low = np.clip(resample_poly(x, ratio.numerator, ratio.denominator, axis=-1), -1.0, 1.0)
    levels = 2**bits - 1
    y = np.sign(low) * np.log1p(mu * np.abs(low)) / np.log1p(mu)
    y = np.round((y + 1) / 2 * levels) / levels * 2 - 1
    low = np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu
    back = resample_poly(low, ratio.denominator, ratio.numerator, axis=-1)[..., : x.shape[-1]]
    back = np.pad(back, [(0, 0)] * (back.ndim - 1) + [(0, x.shape[-1] - back.shape[-1])])
    return torch.from_numpy(back).to(audio.dtype)


def log_mel_l1(reference: Tensor, estimate: Tensor, sample_rate: int) -> float:
    """Mean |log-mel(reference) - log-mel(estimate)| (64 bins, 1024-point FFT, hop 256) over [B, N] signals."""
    mel = MelSpectrogram(sample_rate, **EVAL_MEL)
    n = min(reference.shape[-1], estimate.shape[-1])
    return float((mel(reference[..., :n].float()) - mel(estimate[..., :n].float())).abs().mean())


@dataclass
class CodecQuality:
    """What :func:`codec_quality` measured (distances: log-mel L1, lower is better)."""

    bitrate: float  # bit/s of the codec with every level
    mel_l1_per_levels: list[float]  # [n - 1]: with the first n levels
    baseline_bitrate: float
    baseline_mel_l1: float
    code_usage: list[float]  # per level: share of its codes used at least once
    si_snr_db: float  # every level, mean over clips
    baseline_si_snr_db: float

    @property
    def ratio(self) -> float:
        """Codec (every level) / baseline log-mel L1."""
        return self.mel_l1_per_levels[-1] / self.baseline_mel_l1

    @property
    def falls_with_levels(self) -> bool:
        return all(b < a for a, b in zip(self.mel_l1_per_levels, self.mel_l1_per_levels[1:]))


def codec_bitrate(codec: Any) -> float:
    return float(codec.frame_rate) * int(codec.levels) * math.log2(int(codec.codebook_size))


@torch.no_grad()
def codec_quality(codec: Any, clips: Sequence[np.ndarray | Tensor], baseline_factor: float = 4.0) -> CodecQuality:
    """Check an :class:`~models.tokenizers.AudioCodec` on held-out ``clips`` (mono at ``codec.sample_rate``)."""
    rate = int(codec.sample_rate)
    distances = np.zeros(int(codec.levels))
    base_distance, snr, base_snr, weight = 0.0, 0.0, 0.0, 0
    used = [torch.zeros(int(codec.codebook_size), dtype=torch.bool) for _ in range(int(codec.levels))]
    bitrate = codec_bitrate(codec)
    for clip in clips:
        audio = torch.as_tensor(np.asarray(clip), dtype=torch.float32)[None]
        codes = codec.encode(audio, rate)
        for level in range(codes.shape[1]):
            used[level][codes[0, level].cpu()] = True
        for n in range(1, codes.shape[1] + 1):
            distances[n - 1] += log_mel_l1(audio, codec.decode(codes[:, :n]).cpu(), rate)
        full = codec.decode(codes).cpu()
        base = mulaw_lowpass(audio, rate, baseline_factor * bitrate)
        base_distance += log_mel_l1(audio, base, rate)
        snr += float(si_snr(audio, full[..., : audio.shape[-1]]).mean())
        base_snr += float(si_snr(audio, base).mean())
        weight += 1
    if not weight:
        raise ValueError("codec_quality: no clips")
    return CodecQuality(
        bitrate=bitrate,
        mel_l1_per_levels=(distances / weight).tolist(),
        baseline_bitrate=baseline_factor * bitrate,
        baseline_mel_l1=base_distance / weight,
        code_usage=[float(u.float().mean()) for u in used],
        si_snr_db=snr / weight,
        baseline_si_snr_db=base_snr / weight,
    )


# --------------------------------------------------------------------------------------------------------- semantic
def nmi(tokens: Sequence[Tensor | np.ndarray], labels: Sequence[str]) -> float:
    """Normalised mutual information (arithmetic mean) between every token frame and its clip's label."""
    from sklearn.metrics import normalized_mutual_info_score

    ids = np.concatenate([np.asarray(t).reshape(-1) for t in tokens])
    lab = np.concatenate([[label] * np.asarray(t).size for t, label in zip(tokens, labels)])
    return float(normalized_mutual_info_score(lab, ids))


def bag_of_tokens(tokens: Tensor | np.ndarray, vocab_size: int) -> np.ndarray:
    """Token histogram [vocab_size] (shares, summing to 1)."""
    ids = np.asarray(tokens).reshape(-1).astype(np.int64)
    return np.bincount(ids, minlength=vocab_size)[:vocab_size] / max(1, ids.size)


def windows(tokens: Tensor | np.ndarray, size: int, hop: int) -> list[np.ndarray]:
    """Windows of ``size`` frames every ``hop`` frames of a token sequence (at least the whole when shorter)."""
    ids = np.asarray(tokens).reshape(-1)
    starts = range(0, max(1, len(ids) - size + 1), hop)
    return [ids[s : s + size] for s in starts]


def bag_probe(
    train_bags: np.ndarray, train_labels: Sequence[str], test_bags: np.ndarray, test_labels: Sequence[str]
) -> float:
    """Accuracy on ``test_bags`` of a logistic regression (standardised inputs, C = 1) fit on ``train_bags``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    probe.fit(train_bags, list(train_labels))
    return float((probe.predict(test_bags) == np.asarray(test_labels)).mean())


@dataclass
class SemanticQuality:
    vocab_size: int
    nmi: float  # NMI(token; genre) of the tokenizer on the held-out videos
    baseline_nmi: float  # the same for the baseline tokenizer (log-mel k-means, same K)
    probe_accuracy: float  # bag-of-tokens genre probe, per held-out video
    baseline_probe_accuracy: float
    held_out_videos: int


def _tokens(tokenizer: Any, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    return tokenizer.encode(torch.as_tensor(audio, dtype=torch.float32)[None], sample_rate)[0].cpu().numpy()


@torch.no_grad()
def semantic_quality(
    tokenizer: Any,
    baseline: Any,
    train: Sequence[HeldOutVideo],
    held_out: Sequence[HeldOutVideo],
    sample_rate: int,
    window_seconds: float = 5.0,
) -> SemanticQuality:
    """Check a :class:`~models.tokenizers.SemanticTokenizer` against ``baseline`` (another one, same vocabulary):
    NMI(token; genre) on ``held_out``, and a genre probe trained on bags of ``window_seconds`` windows (hop: half a
    window) of the ``train`` videos, scored on one bag per held-out video."""
    results = []
    for model in (tokenizer, baseline):
        vocab = int(model.vocab_size)
        size = max(1, int(round(window_seconds * float(model.rate))))
        bags, labels = [], []
        for video in train:
            for window in windows(_tokens(model, video.audio, sample_rate), size, max(1, size // 2)):
                bags.append(bag_of_tokens(window, vocab))
                labels.append(video.genre)
        held = [_tokens(model, v.audio, sample_rate) for v in held_out]
        genres = [v.genre for v in held_out]
        test_bags = np.stack([bag_of_tokens(t, vocab) for t in held])
        results.append((nmi(held, genres), bag_probe(np.stack(bags), labels, test_bags, genres)))
    return SemanticQuality(
        int(tokenizer.vocab_size), results[0][0], results[1][0], results[0][1], results[1][1], len(held_out)
    )


# ------------------------------------------------------------------------------------------------------------ joint
def recall_at_k(text: Tensor, audio: Tensor, k: int) -> float:
    """Text -> audio recall at ``k``: the share of rows i of ``text`` [N, D] whose own ``audio`` row i is among the
    ``k`` most similar (dot product) of the N audio rows."""
    scores = text.float() @ audio.float().T
    own = scores.diagonal()[:, None]
    rank = (scores > own).sum(1)  # ties count for the query
    return float((rank < k).float().mean())


def zero_shot_accuracy(
    embed_text: Callable[[list[str]], Tensor], audio: Tensor, genres: Sequence[str], prompt: str = GENRE_PROMPT
) -> float:
    """Share of ``audio`` rows [N, D] whose most similar prompt among ``prompt.format(genre)`` of every genre in
    ``genres`` is their own genre's."""
    names = sorted(set(genres))
    prompts = embed_text([prompt.format(name) for name in names]).float()
    chosen = (audio.float() @ prompts.T).argmax(1)
    return float(np.mean([names[int(c)] == g for c, g in zip(chosen, genres)]))


@dataclass
class JointQuality:
    candidates: int
    recall_at_1: float
    recall_at_5: float
    chance_at_5: float
    zero_shot_genre: float
    genres: int


@torch.no_grad()
def joint_quality(
    model: Any, held_out: Sequence[HeldOutVideo], sample_rate: int, clip_seconds: float = 10.0
) -> JointQuality:
    """Check a :class:`~metrics.text_audio.JointTextAudioModel` on ``held_out`` videos (each: its first
    ``clip_seconds`` and its caption; videos without a caption are left out)."""
    chosen = [v for v in held_out if v.caption.strip()]
    if len(chosen) < 2:
        raise ValueError(f"joint_quality: {len(chosen)} captioned held-out videos, at least 2 needed")
    n = int(clip_seconds * sample_rate)
    audio = torch.cat(
        [model.embed_audio(torch.as_tensor(v.audio[:n], dtype=torch.float32)[None], sample_rate) for v in chosen]
    )
    text = model.embed_text([v.caption for v in chosen])
    genres = [v.genre for v in chosen]
    return JointQuality(
        candidates=len(chosen),
        recall_at_1=recall_at_k(text, audio, 1),
        recall_at_5=recall_at_k(text, audio, 5),
        chance_at_5=min(1.0, 5 / len(chosen)),
        zero_shot_genre=zero_shot_accuracy(model.embed_text, audio, genres),
        genres=len(set(genres)),
    )


# -------------------------------------------------------------------------------------------------------------- cli
def main(argv: Optional[list[str]] = None) -> int:
    """Print the checks of trained stand-in checkpoints on the held-out videos of ``--root`` as JSON."""
    parser = argparse.ArgumentParser(description="Quality checks of V2Meow's stand-ins (docs/V2MEOW.md)")
    parser.add_argument("--root", required=True, help="MV100K-layout root (held out: its val and test videos)")
    parser.add_argument("--checkpoints", default="runs/v2meow/checkpoints", help="folder of codec/ joint/ semantic/")
    args = parser.parse_args(argv)
    from models.v2meow.standins import JointEmbedding, SemanticTokens, SoundStreamCodec

    folder = Path(args.checkpoints)
    out: dict[str, Any] = {}
    if (folder / "codec" / "last.ckpt").is_file():
        codec = SoundStreamCodec.from_checkpoint(folder / "codec" / "last.ckpt")
        held = held_out_videos(args.root, codec.sample_rate)
        out["codec"] = asdict(codec_quality(codec, [v.audio for v in held]))
    if (folder / "semantic" / "last.ckpt").is_file():
        tokens = SemanticTokens.from_checkpoint(folder / "semantic" / "last.ckpt")
        train = held_out_videos(args.root, tokens.sample_rate, ("train",))
        held = held_out_videos(args.root, tokens.sample_rate)
        baseline = logmel_baseline(tokens, [v.audio for v in train])
        out["semantic"] = asdict(semantic_quality(tokens, baseline, train, held, tokens.sample_rate))
    if (folder / "joint" / "last.ckpt").is_file():
        joint = JointEmbedding.from_checkpoint(folder / "joint" / "last.ckpt")
        out["joint"] = asdict(joint_quality(joint, held_out_videos(args.root, joint.sample_rate), joint.sample_rate))
    print(json.dumps(out, indent=1))
    return 0


def logmel_baseline(tokens: Any, clips: Sequence[np.ndarray], seconds: float = 10.0) -> Any:
    """The baseline of the stand-in ``tokens`` (a :class:`~models.v2meow.SemanticTokens`): k-means with its K and
    seed on its own stacked log-mel front-end (``representation="logmel"``), fitted on the first ``seconds`` of
    ``clips``."""
    import inspect

    from models.v2meow.model import V2Meow
    from models.v2meow.standins import SemanticTokens

    accepted = inspect.signature(V2Meow).parameters
    hyper = {k: v for k, v in tokens.hyper.items() if k in accepted}
    model = V2Meow(**{**hyper, "stage": "semantic", "representation": "logmel", "joint_ckpt": None})
    n = int(seconds * tokens.sample_rate)
    model.fit_kmeans([torch.as_tensor(np.asarray(c)[:n], dtype=torch.float32) for c in clips])
    return SemanticTokens(model.semantic, dict(model.hparams), "baseline", source="log-mel k-means baseline")


if __name__ == "__main__":
    raise SystemExit(main())
