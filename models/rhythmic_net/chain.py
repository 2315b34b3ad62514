"""RhythmicNet's chain (§3, Fig. 2): a silent movement video -> beats and style -> rhythm -> drums -> + piano / guitar.

:func:`soundtrack` runs the three stages of one :class:`~models.rhythmic_net.RhythmicNet` holding their networks:

1. keypoints (given, or extracted offline) in overlapping windows of ``max_frames`` frames (5 s at 60 fps, the
   training clips, each normalised on its own as in training) every ``beat_hop_frames`` frames (150, half a window:
   ours, the paper and code are silent; the last window ends at the video's end), :func:`video_keypoints`; the beat
   activations of the windows averaged where they overlap (:func:`overlap_average`: a window's first frame, whose
   motion is unknown, counts only at the video's start) into one activation over the whole video, and one DBN beat
   tracking over it (:func:`metrics.dbn_beat_track`); the tempo is the median beat interval (the code: the first
   5 s, extrapolated);
2. the style events of the whole keypoint sequence (normalised once over the video) and the 16th-note rhythm grid
   anchored at the first beat
   (:mod:`models.rhythmic_net.style`), the grid moved back by up to 3 sixteenths so that the beats fall on quarter
   notes of the bars (ours: the paper does not say where bars start); tempo = 60 / (4 × the grid step);
3. Rhythm2Drum over consecutive ``drum_window_steps`` windows of the rhythm (2 bars, as in training; the code uses
   5-s chunks), the last one padded with silence;
4. Drum2Music over the drum track's REMI bars (:func:`midi_to_bars`), decoded at the grid's tempo.

The music is placed on the video's time line (grid step 0 at its time) and cut at the video's end.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import torch
from torch import Tensor

from models.generation import Example

if TYPE_CHECKING:
    from models.rhythmic_net.model import RhythmicNet

log = logging.getLogger(__name__)

STEPS_PER_BEAT = 4


def midi_to_bars(midi: Any, max_tokens: int) -> Tensor:
    """REMI bar rows ``[bars, max_tokens]`` (``Bar`` ... ``EOS`` then ``PAD``) of a one-track MIDI, as
    :mod:`datamodules.multitrack_midi` makes them."""
    from datamodules.multitrack_midi import bar_rows, tokenizer

    tok = tokenizer()
    ids = tok.encode(midi)
    if not ids:
        raise ValueError("RhythmicNet: the drum track has no note to accompany")
    rows = bar_rows(ids, max_tokens)
    out = torch.full((len(rows), max_tokens), tok.pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row)
    return out


def bars_to_midi(bars: Tensor, tempo: Optional[float] = None) -> Any:
    """``pretty_midi.PrettyMIDI`` of REMI bar rows ``[bars, L]`` (each row up to its ``EOS``), at ``tempo`` bpm
    (default: the rows' Tempo tokens)."""
    from datamodules.multitrack_midi import tokenizer

    tok = tokenizer()
    ids: list[int] = []
    for row in bars.tolist():
        for token in row:
            if token == tok.eos_id:
                break
            if token != tok.pad_id:
                ids.append(int(token))
    return tok.decode(ids, tempo=tempo)


def merge_tracks(first: Any, *others: Any) -> Any:
    """One MIDI with the instruments of all (the first one's tempo)."""
    out = copy.deepcopy(first)
    for midi in others:
        out.instruments.extend(copy.deepcopy(midi.instruments))
    return out


def place(midi: Any, start: float, duration: float) -> Any:
    """``midi`` moved by ``start`` seconds (may be negative) and cut to ``[0, duration)``: notes outside dropped,
    notes across the end shortened."""
    import pretty_midi

    out = pretty_midi.PrettyMIDI(initial_tempo=float(midi.get_tempo_changes()[1][0]) if midi.instruments else 120.0)
    for source in midi.instruments:
        track = pretty_midi.Instrument(source.program, source.is_drum, source.name)
        for note in source.notes:
            onset, offset = note.start + start, min(note.end + start, duration)
            if onset >= 0.0 and offset > onset:
                track.notes.append(pretty_midi.Note(note.velocity, note.pitch, onset, offset))
        out.instruments.append(track)
    return out


def window_starts(frames: int, window: int, hop: int) -> list[int]:
    """First frames of windows of ``window`` frames every ``hop`` frames covering ``[0, frames)``: the last one ends
    at ``frames`` (one window from 0 when ``frames <= window``)."""
    if window < 1 or not 1 <= hop < window:
        raise ValueError(f"RhythmicNet: beat windows need 1 <= hop < window (they overlap), got hop {hop}, "
                         f"window {window}")  # fmt: skip
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window + 1, hop))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    return starts


def overlap_average(parts: Tensor, starts: list[int], frames: int) -> Tensor:
    """One activation ``[frames]`` from window activations ``parts`` [W, L] starting at ``starts``: the mean of the
    windows covering each frame. A window's first frame has no motion (a frame difference needs the frame before),
    so it counts only at frame 0 of the video; every later frame is covered by another window when they overlap."""
    if parts.dim() != 2 or parts.shape[0] != len(starts):
        raise ValueError(f"RhythmicNet: {len(starts)} window starts for activations {tuple(parts.shape)}")
    length = parts.shape[1]
    end = max(frames, max(starts) + length)
    total = parts.new_zeros(end)
    count = parts.new_zeros(end)
    for part, start in zip(parts, starts):
        weight = torch.ones_like(part)
        if start > 0:
            weight[0] = 0.0
        total[start : start + length] += part * weight
        count[start : start + length] += weight
    return (total / count.clamp_min(1e-12))[:frames]


@dataclass
class VideoKeypoints:
    """A video's keypoints at the model's fps: overlapping beat ``windows`` ``[W, window, J, 3]`` starting at frames
    ``starts`` (each normalised on its own, like the training clips), the whole ``sequence`` ``[frames, J, 3]``
    (normalised once) and the video's ``duration`` (s)."""

    windows: Tensor
    starts: list[int]
    sequence: Tensor
    duration: float

    @property
    def frames(self) -> int:
        return int(self.sequence.shape[0])


def video_keypoints(
    video: str | Path, fps: float, layout: str, window: int, hop: int, keypoints: Optional[str | Path] = None
) -> VideoKeypoints:
    """The keypoints of ``video`` from ``keypoints`` (any source :func:`datamodules.keypoints.read_keypoints`
    reads) or extracted offline (:func:`models.video_windows.extract_keypoints`), resampled to ``fps`` in ``layout``
    (:func:`datamodules.fields.keypoint_clip`), as overlapping windows (:func:`window_starts`) and as one sequence."""
    from datamodules.fields import keypoint_clip
    from datamodules.keypoints import read_keypoints
    from datamodules.layouts import get_layout
    from models.video_windows import extract_keypoints, keypoint_source_fps, padded_reader, video_info

    video_fps, duration = video_info(video)
    if not (np.isfinite(video_fps) and video_fps > 0):
        raise ValueError(f"RhythmicNet: {video}: unknown frame rate ({video_fps}): cannot time its keypoints")
    source = extract_keypoints(video) if keypoints is None else Path(keypoints)
    raw, source_layout = read_keypoints(source)
    joints = get_layout(source_layout).num_joints
    if raw.ndim != 3 or raw.shape[1] != joints or raw.shape[2] != 3:
        raise ValueError(f"RhythmicNet: {source}: keypoints of shape {tuple(raw.shape)}, expected [frames, {joints}, "
                         f"3] (x, y, confidence) of its {source_layout} layout")  # fmt: skip
    if not bool((np.nan_to_num(raw[..., 2]) > 0).any()):
        raise ValueError(f"RhythmicNet: {source}: no visible joint in any of its {len(raw)} frames (nothing moves "
                         "to read a rhythm from)")  # fmt: skip
    frames = int(round(duration * fps))
    if frames < 2 or len(raw) < 2:
        raise ValueError(f"RhythmicNet: {source}: {len(raw)} keypoint frame(s) for {duration:.3f} s of {video} "
                         f"({frames} at {fps:g} fps): motion needs at least 2 frames")  # fmt: skip
    source_fps = keypoint_source_fps(source, video_fps)

    read = padded_reader(raw)

    def clip(start: int, count: int) -> Tensor:
        return keypoint_clip(read, source_layout, source_fps, start / fps, count / fps, fps, layout=layout)

    starts = window_starts(frames, window, hop)
    windows = torch.stack([clip(start, window) for start in starts])
    return VideoKeypoints(windows, starts, clip(0, frames), float(duration))


def video_beats(model: RhythmicNet, video: VideoKeypoints, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(activation ``[frames]`` at ``fps`` over the whole video, beat times in s): the beat net over the overlapping
    windows (``batch`` at a time), averaged (:func:`overlap_average`), then one DBN beat tracking."""
    with torch.no_grad():
        parts = torch.cat([model.beat_activation(chunk.to(model.device)).float().cpu()
                           for chunk in video.windows.split(batch)])  # fmt: skip
    activation = overlap_average(parts, video.starts, video.frames)
    return activation.numpy(), model.track_beats(activation[None])[0]


def beat_aligned_grid(beats: np.ndarray, style: np.ndarray, duration: float) -> tuple[np.ndarray, float, float]:
    """Taps, the time of step 0 and the step (s): :func:`~models.rhythmic_net.style.rhythm_grid` moved back by up
    to 3 silent steps so that the first beat (hence every beat of the median tempo) falls on a quarter note."""
    from models.rhythmic_net.style import rhythm_grid

    taps, start, step = rhythm_grid(beats, style, duration, STEPS_PER_BEAT)
    first = int(round((float(np.min(beats)) - start) / step))
    extra = (-first) % STEPS_PER_BEAT
    return np.concatenate([np.zeros(extra, dtype=taps.dtype), taps]), start - extra * step, step


def drums_for_taps(model: RhythmicNet, taps: np.ndarray) -> Tensor:
    """A groove ``[3, N, 9]`` for ``N`` taps: Rhythm2Drum over consecutive ``drum_window_steps`` windows."""
    window = int(model.hparams.drum_window_steps)
    count = int(np.ceil(len(taps) / window))
    rhythm = torch.zeros(count * window, dtype=torch.long)
    rhythm[: len(taps)] = torch.as_tensor(taps, dtype=torch.long)
    groove = model.drums_for_rhythm(rhythm.view(count, window).to(model.device))  # [W, 3, window, 9]
    return groove.permute(1, 0, 2, 3).reshape(3, count * window, -1)[:, : len(taps)].cpu()


def _require(model: RhythmicNet, name: str, stage: str) -> None:
    argument = model.STAGES[stage].ckpt
    model._need(name)
    if name not in model.loaded_networks():
        raise RuntimeError(
            f"RhythmicNet: the {stage} network ({name}) holds no trained weights: generate with a trained drum2music "
            f"checkpoint that carries it (--ckpt), or give {argument} (a trained {stage} checkpoint)"
        )


def soundtrack(
    model: RhythmicNet,
    video: str | Path,
    keypoints: Optional[str | Path] = None,
    instrument: Optional[str] = None,
    program: Optional[int] = None,
    transpose: int = 0,
) -> Example:
    """The soundtrack of ``video`` (see the module docstring): drums, plus the model's instrument unless
    ``instrument`` is ``none``; ``program`` / ``transpose`` edit the added track. ``extra`` holds the beats, the
    style events, the taps, the grid start and the tempo."""
    from models.rhythmic_net.model import INSTRUMENTS
    from models.rhythmic_net.style import style_events
    from music.groove import groove_to_midi

    h = model.hparams
    wanted = instrument or (h.instrument if model.music_net is not None else "none")
    if wanted not in ("none", *INSTRUMENTS):
        raise ValueError(f"RhythmicNet: instrument must be none, piano or guitar, got {instrument!r}")
    if wanted != "none" and wanted != h.instrument:
        raise ValueError(f"RhythmicNet: this Drum2Music model adds {h.instrument}, not {wanted}: use the "
                         f"{wanted} config and checkpoint, or --instrument none")  # fmt: skip
    _require(model, "beat_net", "video2rhythm")
    _require(model, "drum_net", "rhythm2drum")
    if wanted != "none":
        _require(model, "music_net", "drum2music")
        trained = int(model.music_net.program)
        if trained != model.program:
            raise ValueError(f"RhythmicNet: the checkpoint's Drum2Music writes GM program {trained}, the config's "
                             f"instrument is {h.instrument} (program {model.program}): use the matching config, or "
                             "--instrument none")  # fmt: skip
    model.eval()
    fps = float(h.fps)
    seen = video_keypoints(video, fps, h.keypoint_layout, int(h.max_frames), int(h.beat_hop_frames), keypoints)
    _, beats = video_beats(model, seen)
    if len(beats) < 2:
        raise ValueError(f"RhythmicNet: no beat found in {video} ({len(beats)} beat(s) tracked): no rhythm to play")
    style = style_events(seen.sequence.numpy(), fps)
    taps, start, step = beat_aligned_grid(beats, style, seen.duration)
    bpm = 60.0 / (STEPS_PER_BEAT * step)
    groove = drums_for_taps(model, taps)
    drums = groove_to_midi(groove, bpm)
    music = drums
    if wanted != "none":
        rows = midi_to_bars(drums, int(h.max_bar_tokens)).to(model.device)
        part = bars_to_midi(model.music_for_drums(rows[None])[0].cpu(), tempo=bpm)
        if program is not None:
            from music.edit import change_instrument

            part = change_instrument(part, int(program))
        if transpose:
            from music.edit import transpose as transpose_midi

            part = transpose_midi(part, int(transpose))
        if not any(track.notes for track in part.instruments):
            log.warning("RhythmicNet: Drum2Music wrote no %s note for %s (an untrained model?)", wanted, video)
        music = merge_tracks(drums, part)
    midi = place(music, start, seen.duration)
    extra = {"beats": beats, "style": style, "taps": taps, "start": start, "bpm": bpm, "instrument": wanted,
             "windows": len(seen.starts)}  # fmt: skip
    log.info("RhythmicNet: %s: %d beats, %.1f bpm, %d taps, %s", Path(video).name, len(beats), bpm, int(taps.sum()),
             wanted)  # fmt: skip
    return Example(Path(video).stem, midi=midi, extra=extra)


__all__ = [
    "VideoKeypoints",
    "bars_to_midi",
    "beat_aligned_grid",
    "drums_for_taps",
    "merge_tracks",
    "midi_to_bars",
    "place",
    "soundtrack",
    "overlap_average",
    "video_beats",
    "video_keypoints",
    "window_starts",
]
