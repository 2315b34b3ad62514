"""The command line as a user meets it: subcommands, clear config errors, and a full fit -> test -> generate cycle."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers.cli_runner import run_cli

TINY = "tests/helpers/configs/tiny.yaml"


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    out = run_cli("--help", tmp=tmp_path).stdout
    for command in ("fit", "validate", "test", "predict", "generate", "synth", "prepare"):
        assert f"    {command} " in out, f"{command} missing from --help"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        (["--model.init_args.lrr", "0.1"], "lrr"),
        (["--trainer.max_epochs", "abc"], "trainer.max_epochs"),
        (["--trainer.max_epoch", "1"], "trainer.max_epoch"),
    ],
)
def test_config_mistakes_name_the_key_without_traceback(tmp_path: Path, override: list[str], key: str) -> None:
    result = run_cli("fit", "--config", TINY, *override, tmp=tmp_path, check=False)
    assert result.returncode == 2
    assert key in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) < 20, "the error should be the message, not a usage dump"


def test_config_file_typo_names_the_key(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("trainer:\n  max_epoch: 1\n")
    result = run_cli("fit", "--config", TINY, "--config", str(typo), tmp=tmp_path, check=False)
    assert result.returncode == 2 and "trainer.max_epoch" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("fit")
    run_cli("fit", "--config", TINY, tmp=tmp)
    return tmp


def _event_tags(run_dir: Path) -> dict[str, list[str]]:
    (event_file,) = sorted(run_dir.glob("events.out.tfevents.*"))[:1]
    accumulator = EventAccumulator(str(event_file), size_guidance={"audio": 0, "images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator.Tags()


def test_fit_writes_checkpoint_media_and_tensorboard(fitted: Path) -> None:
    run_dir = fitted / "runs" / "suite" / "version_0"
    assert list((run_dir.parent / "checkpoints").glob("*.ckpt")), "fit must write a checkpoint"
    assert (run_dir.parent / "checkpoints" / "last.ckpt").is_file(), "last.ckpt is on by default"
    assert (run_dir / "config.yaml").is_file(), "the resolved config is saved beside the run"
    tags = _event_tags(run_dir)
    assert "val/loss" in tags["scalars"]
    assert any(tag.endswith("/audio") for tag in tags["audio"]), "the media callback logs audio"
    assert any(tag.endswith("/piano_roll") for tag in tags["images"])
    wavs = list((run_dir / "media").rglob("*.wav"))
    assert wavs and list((run_dir / "media").rglob("*.mid"))
    audio, _ = sf.read(wavs[0])
    assert np.abs(audio).max() > 0.01, "rendered media must not be silent"


@pytest.mark.parametrize("command", ["validate", "test", "predict"])
def test_evaluation_subcommands_run_from_checkpoint(fitted: Path, command: str, tmp_path: Path) -> None:
    (ckpt,) = list((fitted / "runs" / "suite" / "checkpoints").glob("epoch*.ckpt"))[:1]
    result = run_cli(command, "--config", TINY, "--ckpt_path", str(ckpt), tmp=tmp_path)
    if command != "predict":
        assert f"{command}/loss" in result.stdout or "val/loss" in result.stdout


def _write_silent_video(path: Path, frames: int = 25) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), 8 * i % 255, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_generate_writes_midi_wav_and_video_with_soundtrack(fitted: Path, tmp_path: Path) -> None:
    (ckpt,) = list((fitted / "runs" / "suite" / "checkpoints").glob("epoch*.ckpt"))[:1]
    video = _write_silent_video(tmp_path / "silent.mp4")
    out = tmp_path / "out" / "scored.mp4"
    run_cli("generate", "--config", TINY, "--ckpt", str(ckpt), "--video", str(video), "--out", str(out), tmp=tmp_path)
    assert out.with_suffix(".mid").is_file() and out.with_suffix(".wav").is_file()
    with av.open(str(out)) as container:
        assert container.streams.video and container.streams.audio
        samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)])
    assert np.abs(samples).max() > 0.01


def test_generate_names_a_missing_video(fitted: Path, tmp_path: Path) -> None:
    result = run_cli(
        "generate",
        "--config",
        TINY,
        "--video",
        str(tmp_path / "nope.mp4"),
        "--out",
        str(tmp_path / "o.mp4"),
        tmp=tmp_path,
        check=False,
    )
    assert result.returncode != 0 and "nope.mp4" in result.stderr
