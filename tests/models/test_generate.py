"""``python cli.py generate`` with every config whose model generates from video (:class:`GeneratesFromVideo`): the
soundtrack (the WAV, and the MP4's audio stream) lasts as long as the video, also when an untrained model writes an
empty MIDI, and the video stream keeps all its frames.

The video is a 7-s 25-fps H.264 MP4 written here with PyAV (a figure moving over a drifting background, not a
synthetic dataset's video), with the figure's joints as an OpenPose JSON folder (``--keypoints``, so no keypoint
extractor runs). Models are built untrained from each config plus its debug sizes and saved as checkpoints; configs
that generate only with earlier stages' weights get those stages' checkpoints first (:data:`CHAINS`). The CI tier
runs one config per model class (the one with the longest chain); the other configs are ``slow``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from tests.helpers.cli_runner import ROOT, run_cli
from tests.helpers.real_formats import skeleton_body25, write_openpose_folder

SECONDS, FPS = 7.0, 25
SIZE = (160, 120)  # the skeleton's 640 x 480 pixel coordinates, scaled by 1/4
AAC_FRAME = 1024
TOLERANCE = 0.05  # seconds

# Configs whose model generates only with earlier stages' weights: checkpoint argument -> the config of that stage.
CHAINS: dict[str, dict[str, str]] = {
    "audeo_roll2midi": {"video2roll_ckpt": "audeo"},
    "audeo_perfnet": {"video2roll_ckpt": "audeo", "roll2midi_ckpt": "audeo_roll2midi"},
    "mi_net_vqvae": {"prior_ckpt": "mi_net_prior"},
    "mi_net_vqvae_nombr": {"prior_ckpt": "mi_net_prior"},
    "mi_net_content": {"prior_ckpt": "mi_net_prior"},
    "mi_net_content_gru": {"prior_ckpt": "mi_net_prior"},
    "rhythmic_net_rhythm2drum": {"video2rhythm_ckpt": "rhythmic_net_video2rhythm"},
    "rhythmic_net_drum2music": {
        "video2rhythm_ckpt": "rhythmic_net_video2rhythm",
        "rhythm2drum_ckpt": "rhythmic_net_rhythm2drum",
    },
    "rhythmic_net_drum2music_guitar": {
        "video2rhythm_ckpt": "rhythmic_net_video2rhythm",
        "rhythm2drum_ckpt": "rhythmic_net_rhythm2drum",
    },
    "v2meow": {"codec_ckpt": "v2meow_codec", "semantic_ckpt": "v2meow_semantic"},
    "v2meow_text": {"codec_ckpt": "v2meow_codec", "semantic_ckpt": "v2meow_semantic", "joint_ckpt": "v2meow_joint"},
    "v2meow_coarse_audio": {"codec_ckpt": "v2meow_codec", "semantic_ckpt": "v2meow_semantic"},
    "v2meow_fine": {
        "codec_ckpt": "v2meow_codec",
        "semantic_ckpt": "v2meow_semantic",
        "visual2semantic_ckpt": "v2meow",
        "semantic2coarse_ckpt": "v2meow_coarse_audio",
    },
    "v2meow_musiccaps": {
        "codec_ckpt": "v2meow_codec",
        "semantic_ckpt": "v2meow_semantic",
        "joint_ckpt": "v2meow_joint",
        "visual2semantic_ckpt": "v2meow_text",
        "semantic2coarse_ckpt": "v2meow_coarse_audio",
    },
}
# Configs that train one part of a chain whose soundtrack only a later stage generates (V2Meow: the tokenizers and
# token stages 1-2, `generate` takes stage 3's checkpoint, which carries the whole chain; RhythmicNet: Video2Rhythm).
PARTS = {
    "v2meow_codec", "v2meow_joint", "v2meow_semantic", "v2meow", "v2meow_effnet", "v2meow_flow", "v2meow_tokens",
    "v2meow_tokens_flow", "v2meow_text", "v2meow_coarse", "v2meow_coarse_audio",
    "rhythmic_net_video2rhythm",  # beats only: drums need the Rhythm2Drum stage
}  # fmt: skip


def _config(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text()) or {}


def _debug(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "experiments" / "debug" / f"{name}.yaml").read_text()) or {}


def _model_class(name: str) -> type:
    module, _, cls = _config(name)["model"]["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), cls)


def _earlier(name: str) -> list[str]:
    """The configs of ``name``'s earlier stages, earliest first."""
    out: list[str] = []
    for stage in CHAINS.get(name, {}).values():
        out += [c for c in [*_earlier(stage), stage] if c not in out]
    return out


def generating_configs() -> list[str]:
    """experiments/*.yaml (with a debug counterpart) whose model implements ``generate_from_video``."""
    names = []
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        model = (_config(path.stem).get("model") or {}).get("class_path")
        debug = ROOT / "experiments" / "debug" / path.name
        generates = callable(getattr(_model_class(path.stem), "generate_from_video", None)) if model else False
        if debug.is_file() and generates and path.stem not in PARTS:
            names.append(path.stem)
    return names


def _params() -> list[Any]:
    names = generating_configs()
    classes = {name: _config(name)["model"]["class_path"] for name in names}
    ci = {max((n for n in names if classes[n] == c), key=lambda n: len(_earlier(n))) for c in set(classes.values())}
    return [pytest.param(n, marks=() if n in ci else pytest.mark.slow, id=n) for n in names]


def _config_files(name: str) -> list[Path]:
    """``--config`` files of ``name``: the config, the debug sizes of its earlier stages, its own debug sizes."""
    return [
        ROOT / "experiments" / f"{name}.yaml",
        *(ROOT / "experiments" / "debug" / f"{c}.yaml" for c in _earlier(name)),
        ROOT / "experiments" / "debug" / f"{name}.yaml",
    ]


def _checkpoint(name: str, folder: Path) -> Path:
    """An untrained model of ``name`` (its earlier stages' checkpoints made first) saved as a checkpoint."""
    args = dict(_config(name)["model"].get("init_args") or {})
    for earlier in _earlier(name):
        args |= {k: v for k, v in (_debug(earlier).get("model") or {}).get("init_args", {}).items() if k != "stage"}
    args |= (_debug(name).get("model") or {}).get("init_args", {})
    args |= {arg: str(_checkpoint(stage, folder)) for arg, stage in CHAINS.get(name, {}).items()}
    torch.manual_seed(0)
    model = _model_class(name)(**args)
    path = folder / f"{name}.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return path


def _write_video(path: Path) -> Path:
    """A figure (the skeleton's joints as white squares) over a drifting coloured bar, H.264 at 25 fps."""
    frames = int(SECONDS * FPS)
    joints = skeleton_body25(frames, FPS)[..., :2] * (SIZE[0] / 640)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for k in range(frames):
            image = np.full((SIZE[1], SIZE[0], 3), (20, 30, 60), dtype=np.uint8)
            bar = int(k * SIZE[0] / frames)
            image[90:110, bar : bar + 30] = (200, 120, 40)
            for x, y in joints[k].astype(int):
                image[max(y - 2, 0) : y + 2, max(x - 2, 0) : x + 2] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def moving_figure(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("video")
    video = _write_video(folder / "figure.mp4")
    keypoints = write_openpose_folder(folder / "figure_openpose", int(SECONDS * FPS), FPS, name="figure")
    return video, keypoints


def test_every_generating_model_class_is_covered() -> None:
    names = generating_configs()
    assert {"foley_music", "audeo"} <= set(names)
    assert all(stage in names or stage in PARTS for chain in CHAINS.values() for stage in chain.values())
    assert {_config(n)["model"]["class_path"] for n in names} >= {"models.audeo.Audeo", "models.foley_music.FoleyMusic"}


@pytest.mark.parametrize("name", _params())
def test_generate_soundtrack_spans_the_whole_video(name: str, moving_figure: tuple[Path, Path], tmp_path: Path) -> None:
    video, keypoints = moving_figure
    ckpt = _checkpoint(name, tmp_path)
    out = tmp_path / "out" / "soundtrack.mp4"
    configs = [arg for path in _config_files(name) for arg in ("--config", str(path))]
    run_cli(
        "generate",
        *configs,
        "--ckpt",
        str(ckpt),
        "--video",
        str(video),
        "--keypoints",
        str(keypoints),
        "--out",
        str(out),
        tmp=tmp_path,
        timeout=300,
    )
    assert out.with_suffix(".wav").is_file() and out.is_file()
    wav = sf.info(str(out.with_suffix(".wav")))
    assert abs(wav.frames / wav.samplerate - SECONDS) <= TOLERANCE, f"{name}: WAV lasts {wav.frames / wav.samplerate}s"
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(out)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        video_seconds, audio_seconds = float(v.duration * v.time_base), float(a.duration * a.time_base)
        samples = sum(frame.samples for frame in container.decode(a))
    assert frames == int(SECONDS * FPS) and abs(video_seconds - SECONDS) <= 1 / FPS  # the video is not cut
    assert abs(audio_seconds - video_seconds) <= TOLERANCE, f"{name}: audio {audio_seconds}s, video {video_seconds}s"
    assert abs(samples - SECONDS * a.sample_rate) <= AAC_FRAME  # decoded: within one AAC frame


def test_write_soundtrack_fits_the_audio_to_the_video(moving_figure: tuple[Path, Path], tmp_path: Path) -> None:
    import pretty_midi

    from models.generation import Example, fit_duration, write_soundtrack

    video, _ = moving_figure
    empty = pretty_midi.PrettyMIDI()
    empty.instruments.append(pretty_midi.Instrument(program=0))  # an untrained model's output: no notes
    paths = write_soundtrack(Example("empty", midi=empty), video, tmp_path / "empty.mp4")
    assert sf.info(str(paths["wav"])).frames == SECONDS * 16000  # silence to the video's end, not 0.5 s of release
    with av.open(str(paths["video"])) as container:
        audio = container.streams.audio[0]
        assert abs(float(audio.duration * audio.time_base) - SECONDS) <= TOLERANCE
    long = np.ones(9 * 16000, dtype=np.float32)  # longer than the video: cut, fading out
    paths = write_soundtrack(Example("long", audio=long), video, tmp_path / "long.mp4")
    wav, _ = sf.read(str(paths["wav"]), dtype="float32")
    assert len(wav) == SECONDS * 16000 and wav[0] == pytest.approx(1.0, abs=1e-4) and abs(wav[-1]) < 1e-3
    np.testing.assert_array_equal(fit_duration(np.ones(3), 0.5, 10), [1, 1, 1, 0, 0])
