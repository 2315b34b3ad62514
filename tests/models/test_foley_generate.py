"""``python cli.py generate`` with a FoleyMusic checkpoint: video (+ keypoints) -> MIDI, WAV and MP4 with sound."""

from __future__ import annotations

from pathlib import Path

import av
import pretty_midi
import pytest
import soundfile as sf
import torch
import yaml

from models.foley_music import FoleyMusic
from music.edit import fit_pitch


@pytest.fixture(scope="module")
def synthetic_urmp() -> Path:
    from datamodules.synthetic import ensure

    return ensure("urmp", 0.5, 0)


def _violin_take(root: Path) -> tuple[Path, Path]:
    """The first piece's video and the Foley pose file of its part 1 (a violin in every synthetic URMP piece)."""
    piece = sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit())[0]
    number, name = piece.name.split("_")[:2]
    (keypoints,) = sorted((root / "pose").glob(f"*/PoseSep_1_*_{number}_{name}.npy"))
    return piece / f"Vid_{piece.name}.mp4", keypoints


def _debug_model(repo_root: Path) -> FoleyMusic:
    base = yaml.safe_load((repo_root / "experiments/foley_music.yaml").read_text())["model"]["init_args"]
    debug = yaml.safe_load((repo_root / "experiments/debug/foley_music.yaml").read_text())["model"]["init_args"]
    return FoleyMusic(**(base | debug))


def test_generate_writes_midi_wav_mp4(tmp_path: Path, repo_root: Path, synthetic_urmp: Path) -> None:
    import cli

    torch.manual_seed(0)
    model = _debug_model(repo_root)
    ckpt = tmp_path / "model.ckpt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    video, keypoints = _violin_take(synthetic_urmp)
    out = tmp_path / "out" / "soundtrack.mp4"
    cli.main(
        [
            "generate",
            "--config",
            str(repo_root / "experiments/foley_music.yaml"),
            "--config",
            str(repo_root / "experiments/debug/foley_music.yaml"),
            "--trainer.logger",
            "false",
            "--ckpt",
            str(ckpt),
            "--video",
            str(video),
            "--keypoints",
            str(keypoints),
            "--out",
            str(out),
            "--program",
            "42",
            "--transpose",
            "-12",
        ]
    )
    midi = pretty_midi.PrettyMIDI(str(out.with_suffix(".mid")))
    assert midi.instruments and midi.instruments[0].program == 42
    assert all(note.end <= 7.6 for note in midi.instruments[0].notes)  # cut at the video's end (7.5 s)
    audio, rate = sf.read(str(out.with_suffix(".wav")))
    assert rate > 0 and audio.ndim == 1
    with av.open(str(out)) as container:
        assert container.streams.video and container.streams.audio


def test_generate_from_video_windows_and_edit(repo_root: Path, synthetic_urmp: Path) -> None:
    torch.manual_seed(0)
    model = _debug_model(repo_root).eval()
    video, keypoints = _violin_take(synthetic_urmp)
    example = model.generate_from_video(str(video), str(keypoints), program=42)
    assert example.extra["windows"] == 2  # 7.5 s -> two 6-s windows
    assert example.midi.instruments[0].program == 42
    up = model.generate_from_video(str(video), str(keypoints), program=42, transpose=12)
    pitches = [n.pitch for n in example.midi.instruments[0].notes]
    expected = sorted(fit_pitch(p + 12, 21, 108) for p in pitches)  # same (deterministic) search, an octave up
    assert sorted(n.pitch for n in up.midi.instruments[0].notes) == expected
    with pytest.raises(FileNotFoundError, match="nothing.mp4"):
        model.generate_from_video(str(video.with_name("nothing.mp4")), str(keypoints))
