"""Can the instrument of a synthetic take be told, from its sound or from its pose alone?

MI Net (§4) learns without instrument labels and is judged by how well its pose encoding and its generated audio
name the instrument; on the synthetic data this only means something if (a) the instruments' timbres differ and
(b) instruments held alike (violin vs viola, oboe vs clarinet) are confusable but separable from the pose. Two linear
probes check it on held-out takes:

- :func:`timbre_features`: mean and standard deviation over time of each log-magnitude STFT bin of a clip;
- :func:`pose_features`: mean and standard deviation over time of each coordinate of the clip's ``upper47``
  keypoints (MI Net §3's joints), bounding-box normalised;
- :func:`linear_probe`: multinomial logistic regression (L2, L-BFGS) on standardised features, accuracy on test.

:func:`solo_takes` makes takes in memory with the writers' own arranger, renderer, performer and detector.
``python -m datamodules.synthetic.instrument_probes`` prints both probes' accuracies.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from datamodules.keypoints import normalize
from datamodules.layouts import convert


@dataclass
class SoloTake:
    """One instrument playing one excerpt: ``audio`` mono at the take's rate, ``keypoints`` ``[T, 67, 3]``
    (openpose67, pixels, detector-like)."""

    instrument: str
    work: str
    audio: np.ndarray
    keypoints: np.ndarray


@dataclass
class LinearProbeResult:
    accuracy: float
    chance: float
    confusion: np.ndarray  # [classes, classes], rows = truth


def solo_takes(
    instruments: list[str],
    works: list[str],
    seconds: float,
    seed: int,
    sample_rate: int = 16000,
    fps: float = 25.0,
    audio: bool = True,
) -> list[SoloTake]:
    """Every instrument playing ``seconds`` of every work, as the synthetic writers record a solo (without the
    audio when ``audio`` is False: the pose alone is much faster to make)."""
    from datamodules.synthetic import detector, performer, repertoire
    from datamodules.synthetic.instruments import get
    from datamodules.synthetic.recording import layout_players

    rng = np.random.default_rng(seed)
    origins, scale = layout_players(1, (320, 180))
    takes = []
    for work in works:
        for key in instruments:
            excerpt = repertoire.arrange(work, [key], seconds, rng)
            length = int(round((excerpt.duration + 0.5) * sample_rate))
            sound = np.zeros(0, dtype=np.float32)
            if audio:
                from music.synth import render

                sound = render(repertoire.to_pretty_midi(excerpt.parts, [get(key).program]), sample_rate)[:length]
                sound = np.pad(sound, (0, length - len(sound))).astype(np.float32)
            size = scale * float(rng.uniform(0.93, 1.05))
            perf = performer.perform(key, excerpt.parts[0], length / sample_rate, fps, origins[0], size, rng)
            seen = detector.observe(perf.joints, rng, perf.scale, hands=(performer.LEFT_HAND, performer.RIGHT_HAND))
            takes.append(SoloTake(key, work, sound, seen))
    return takes


def timbre_features(
    audio: np.ndarray, sample_rate: int, clip_seconds: float = 4.0, n_fft: int = 1024, hop: int = 256
) -> np.ndarray:
    """``[clips, 2 * (n_fft // 2 + 1)]``: per whole ``clip_seconds`` clip, the mean and standard deviation over time
    of ``log(1 + |STFT|)`` per frequency bin (Hann window)."""
    length = int(round(clip_seconds * sample_rate))
    window = np.hanning(n_fft).astype(np.float32)
    rows = []
    for start in range(0, len(audio) - length + 1, length):
        clip = audio[start : start + length]
        frames = np.lib.stride_tricks.sliding_window_view(clip, n_fft)[::hop] * window
        spectrum = np.log1p(np.abs(np.fft.rfft(frames, axis=1)))
        rows.append(np.concatenate([spectrum.mean(0), spectrum.std(0)]))
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), n_fft + 2)


def pose_features(
    keypoints: np.ndarray, fps: float, clip_seconds: float = 4.0, layout: str = "openpose67"
) -> np.ndarray:
    """``[clips, 4 * 47]``: per whole ``clip_seconds`` clip, the mean and standard deviation over time of x and y of
    each ``upper47`` joint after the DataModules' ``bbox`` normalisation."""
    length = int(round(clip_seconds * fps))
    upper = convert(np.asarray(keypoints, dtype=np.float32), layout, "upper47")
    rows = []
    for start in range(0, len(upper) - length + 1, length):
        clip = normalize(upper[start : start + length], "bbox")[..., :2].reshape(length, -1)
        rows.append(np.concatenate([clip.mean(0), clip.std(0)]))
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), 4 * 47)


def linear_probe(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], l2: float = 1e-2, steps: int = 200
) -> LinearProbeResult:
    """Multinomial logistic regression on standardised features (mean/std of ``train``), L2 weight ``l2``,
    ``steps`` L-BFGS iterations (deterministic); accuracy and confusion on ``test``, chance = 1 / classes seen in
    training."""
    classes = np.unique(train[1])
    index = {c: k for k, c in enumerate(classes.tolist())}
    x_train, x_test = (torch.nan_to_num(torch.as_tensor(x, dtype=torch.float64)) for x in (train[0], test[0]))
    y_train = torch.tensor([index[c] for c in train[1].tolist()])
    y_test = torch.tensor([index.get(c, -1) for c in test[1].tolist()])
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    weight = torch.zeros(x_train.shape[1], len(classes), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x_train @ weight + bias, y_train) + l2 * weight.square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        predicted = (x_test @ weight + bias).argmax(1)
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    for truth, guess in zip(y_test.tolist(), predicted.tolist()):
        if truth >= 0:
            confusion[truth, guess] += 1
    accuracy = float((predicted == y_test).double().mean())
    return LinearProbeResult(accuracy, 1.0 / len(classes), confusion)


def held_out_probe(
    takes: list[SoloTake], features, test_works: set[str]
) -> LinearProbeResult:  # features: SoloTake -> [clips, F]
    """Fit :func:`linear_probe` on the clips of the takes of the other works, test on those of ``test_works``."""
    parts: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
    for take in takes:
        x = features(take)
        xs, ys = parts[take.work in test_works]
        xs.append(x)
        ys.extend([take.instrument] * len(x))
    return linear_probe(*((np.concatenate(parts[k][0]), np.asarray(parts[k][1])) for k in (False, True)))


def main(argv: list[str] | None = None) -> None:
    from datamodules.synthetic.instruments import URMP_KEYS
    from datamodules.synthetic.repertoire import CHORALES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=6, help="corpus chorales per instrument (the last one held out)")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each take")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    works = list(CHORALES[: args.works])
    held = set(works[-max(1, args.works // 3) :])
    takes = solo_takes(list(URMP_KEYS), works, args.seconds, args.seed)
    timbre = held_out_probe(takes, lambda t: timbre_features(t.audio, 16000), held)
    pose = held_out_probe(takes, lambda t: pose_features(t.keypoints, 25.0), held)
    print(f"SYNTHETIC 13 instruments, held-out works {sorted(held)}:")
    print(f"  timbre probe accuracy {timbre.accuracy:.3f}, pose probe accuracy {pose.accuracy:.3f}, chance "
          f"{timbre.chance:.3f}")  # fmt: skip
    for pair in (("vn", "va"), ("ob", "cl")):
        pair_takes = [t for t in takes if t.instrument in pair]
        result = held_out_probe(pair_takes, lambda t: pose_features(t.keypoints, 25.0), held)
        print(f"  pose probe {pair[0]} vs {pair[1]}: accuracy {result.accuracy:.3f} (chance {result.chance:.3f})")


if __name__ == "__main__":
    main()
