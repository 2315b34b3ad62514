"""V2Meow's soundtrack for a whole video (``python cli.py generate``; :mod:`models.v2meow.generation`): on an untrained
tiny chain (debug sizes; every stage's checkpoint made here and chained by path as ``make v2meow`` does), a video of
any length gives a WAV and an MP4 of exactly its length through windows of ``stage_crop_seconds`` (the last one
padded); ``--text`` conditions a model with control and is refused by one without; ``--features`` supplies the visual
kinds; bad input (corrupt or frameless video, NaN features, token ids past the vocabulary, features of another width
or length) is one error naming the file; ``predict`` writes a metrics JSON beside its WAVs."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import pytorch_lightning as pl
import soundfile as sf
import torch
import yaml

from models.v2meow import V2Meow
from models.v2meow.generation import resolve_kinds
from tests.helpers.cli_runner import ROOT, run_cli

RATE, FPS, SECONDS = 16000, 8, 6.5  # a 6.5-s video: two 4-s windows, the second padded past the video's end
WINDOW = 4.0  # stage_crop_seconds of these tests (the paper's 10 s would only make the test slower)
FEATURE_DIMS = (1280, 45)  # effnet_lite0 + flow, as experiments/v2meow.yaml
DEBUG = ("v2meow_codec", "v2meow_semantic", "v2meow_joint", "v2meow_fine")
CONFIG = ["--config", "experiments/v2meow_fine.yaml", "--config", "experiments/debug/v2meow_fine.yaml"]


def _sizes(**kw) -> dict:
    """The debug sizes of the tokenizers and the token stages (experiments/debug/)."""
    sizes: dict = {}
    for name in DEBUG:
        sizes |= yaml.safe_load((ROOT / "experiments" / "debug" / f"{name}.yaml").read_text())["model"]["init_args"]
    return sizes | {"feature_dims": FEATURE_DIMS, "stage_crop_seconds": WINDOW} | kw


def _save(model: V2Meow, path: Path) -> Path:
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return path


def _chain(folder: Path, control: str = "none") -> Path:
    """Untrained stages saved one by one, then stage 3 built from their checkpoints (the whole chain) and saved."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = _sizes(control=control, control_dropout=0.1 if control == "joint" else 0.0)
    torch.manual_seed(0)
    paths = {
        stage: _save(V2Meow(stage=stage, **sizes), folder / f"{stage}.ckpt")
        for stage in ("codec", "semantic", *(("joint",) if control == "joint" else ()))
    }
    for stage in ("visual2semantic", "semantic2coarse"):
        args = {f"{name}_ckpt": str(path) for name, path in paths.items()}
        paths[stage] = _save(V2Meow(stage=stage, **(sizes | args)), folder / f"{stage}.ckpt")
    chain = V2Meow(stage="coarse2fine", **(sizes | {f"{name}_ckpt": str(path) for name, path in paths.items()}))
    assert all(getattr(chain, name) is not None for name in (*paths, "coarse2fine"))
    return _save(chain, folder / "chain.ckpt")


def _write_video(path: Path, seconds: float = SECONDS, size: tuple[int, int] = (64, 48)) -> Path:
    """A bar moving over a dark background, H.264 at 8 fps."""
    frames = int(round(seconds * FPS))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for k in range(frames):
            image = np.full((size[1], size[0], 3), (20, 30, 60), dtype=np.uint8)
            x = int(k * size[0] / frames)
            image[18:30, x : x + 10] = (220, 160, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _features(folder: Path, stem: str, seconds: float = SECONDS, **arrays: np.ndarray) -> Path:
    """A ``--features`` folder ``<kind>/<stem>.npy`` with random effnet_lite0 and flow rows (or ``arrays``)."""
    g = np.random.default_rng(0)
    rows = int(np.floor(seconds))
    kinds = ("effnet_lite0", "flow")
    defaults = {k: g.standard_normal((rows, d)).astype(np.float32) for k, d in zip(kinds, FEATURE_DIMS)}
    for kind, array in (defaults | arrays).items():
        (folder / kind).mkdir(parents=True, exist_ok=True)
        np.save(folder / kind / f"{stem}.npy", array)
    return folder


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_video(tmp_path_factory.mktemp("video") / "clip.mp4")


@pytest.fixture(scope="module")
def plain_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _chain(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def text_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _chain(tmp_path_factory.mktemp("text"), control="joint")


def _load(chain: Path, **kw) -> V2Meow:
    checkpoint = torch.load(chain, map_location="cpu", weights_only=False)
    model = V2Meow(**(dict(checkpoint["hyper_parameters"]) | kw))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def _generate(chain: Path, video: Path, out: Path, *extra: str, check: bool = True):
    # the chain checkpoint carries every network; codec_ckpt null keeps the test off runs/ of the checkout
    return run_cli(
        "generate", *CONFIG, "--ckpt", str(chain), "--video", str(video), "--out", str(out),
        "--model.init_args.codec_ckpt", "null", "--model.init_args.stage_crop_seconds", str(WINDOW), *extra,
        tmp=out.parent, timeout=400, check=check,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------- cli generate
def test_generate_writes_a_wav_and_an_mp4_of_the_videos_length(plain_chain: Path, video: Path, tmp_path: Path) -> None:
    """As a user runs it: the stage-3 config, the chain checkpoint; features extracted offline from the video."""
    out = tmp_path / "out" / "soundtrack.mp4"
    result = _generate(plain_chain, video, out)
    assert "wrote wav" in result.stdout and "wrote video" in result.stdout
    wav, rate = sf.read(str(out.with_suffix(".wav")), dtype="float32")
    assert rate == RATE and len(wav) == round(SECONDS * RATE)
    # the second window was generated, not padded with silence: sound after the first window's end
    assert np.abs(wav[int(WINDOW * RATE) + 100 :]).max() > 0 and np.isfinite(wav).all()
    with av.open(str(out)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        assert abs(float(a.duration * a.time_base) - float(v.duration * v.time_base)) <= 0.05
        assert sum(1 for _ in container.decode(video=0)) == round(SECONDS * FPS)


def test_text_prompt_conditions_a_model_with_control(
    text_chain: Path, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    features = _features(tmp_path / "features", video.stem)
    out = tmp_path / "out" / "prompted.mp4"
    prompt = "an energetic rock song with guitar"
    _generate(text_chain, video, out, "--text", prompt, "--features", str(features))
    assert sf.info(str(out.with_suffix(".wav"))).frames == round(SECONDS * RATE) and out.is_file()
    # every window of stage 1 gets the prompt's joint embedding; no prompt or an empty one: the null embedding
    model = _load(text_chain, stage_crop_seconds=WINDOW)
    seen: list[tuple] = []
    original = model.generate_tokens
    monkeypatch.setattr(model, "generate_tokens", lambda *a, **k: seen.append(a[2:4]) or original(*a, **k))
    prompted = model.generate_from_video(str(video), text=prompt, features=str(features)).audio
    unprompted = model.generate_from_video(str(video), features=str(features)).audio
    empty = model.generate_from_video(str(video), text="  ", features=str(features)).audio
    (control, null), (_, none), (_, blank) = seen
    expected = model.joint.embed_b([prompt]).float()
    assert control.shape == (2, 128) and torch.allclose(control, expected.expand(2, -1))
    assert null.tolist() == [False, False] and none.tolist() == blank.tolist() == [True, True]
    assert np.array_equal(empty, unprompted) and len(prompted) == len(unprompted)  # seeded: same video, same audio


def test_text_prompt_without_control_is_one_error(plain_chain: Path, video: Path, tmp_path: Path) -> None:
    model = _load(plain_chain, stage_crop_seconds=WINDOW)
    with pytest.raises(ValueError, match=r"prompt was given \('a jazz tune'\) but this model has control='none'"):
        model.generate_from_video(str(video), text="a jazz tune")  # refused before any feature is extracted
    audio = model.generate_from_video(str(video), text="", features=str(_features(tmp_path / "f", video.stem))).audio
    assert len(audio) == round(SECONDS * RATE)  # an empty prompt is no prompt


def test_other_models_refuse_text_and_features(video: Path, tmp_path: Path) -> None:
    from cli import SuiteTrainer
    from tests.helpers.tiny import TinyModel

    trainer = SuiteTrainer(logger=False, accelerator="cpu", enable_progress_bar=False)
    for option in ({"text": "a rock song"}, {"features": tmp_path}):
        with pytest.raises(ValueError, match=f"TinyModel takes no --{next(iter(option))}"):
            trainer.generate(TinyModel(), video, tmp_path / "o.mp4", **option)


# ----------------------------------------------------------------------------------------------- visual input
def test_visual_kinds_come_from_the_widths_or_are_named() -> None:
    assert resolve_kinds((1280, 45), 0, 0) == (("effnet_lite0", "flow"), ())
    assert resolve_kinds((45,), 8192, 49) == (("flow",), ("effnet_tokens",))
    assert resolve_kinds((768,), 0, 0, ["clip"]) == (("clip",), ())
    with pytest.raises(ValueError, match=r"width \[768, 1024\].*visual_kinds"):
        resolve_kinds((768, 1024), 0, 0)
    with pytest.raises(ValueError, match=r"visual_kinds \['clip'\] do not match feature_dims \[768, 1024\]"):
        V2Meow(stage="codec", feature_dims=(768, 1024), visual_kinds=["clip"])


def test_features_of_kinds_the_suite_cannot_compute_come_from_the_folder(video: Path, tmp_path: Path) -> None:
    from models.v2meow.generation import visual_windows

    model = V2Meow(stage="codec", **_sizes(feature_dims=(7, 45), visual_kinds=["clip", "flow"]))
    clip = np.arange(6 * 7, dtype=np.float32).reshape(6, 7)
    folder = _features(tmp_path / "features", video.stem, clip=clip)
    windows = visual_windows(model, video, folder)["visual_features"]
    assert windows.inputs.shape == (2, 4, 52) and windows.duration == pytest.approx(SECONDS)
    assert torch.equal(windows.inputs[1, :2, :7], torch.from_numpy(clip[4:6]))
    assert torch.equal(windows.inputs[1, 2:, :7], torch.from_numpy(clip[[5, 5]]))  # padded with the last second
    with pytest.raises(FileNotFoundError, match=r"cannot compute the visual kind 'clip'.*no --features"):
        visual_windows(model, video)


# ------------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_one_error_naming_the_file(plain_chain: Path, video: Path, tmp_path: Path) -> None:
    model = _load(plain_chain, stage_crop_seconds=WINDOW)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(RuntimeError, match="corrupt.mp4"):
        model.generate_from_video(str(corrupt))
    frameless = tmp_path / "frameless.mp4"  # a container with an audio stream and no picture
    with av.open(str(frameless), mode="w") as container:
        stream = container.add_stream("aac", rate=RATE)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = RATE
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(RuntimeError, match="frameless.mp4"):
        model.generate_from_video(str(frameless))

    nan = np.ones((6, 45), dtype=np.float32)
    nan[3, 2] = np.nan
    folder = _features(tmp_path / "nan", video.stem, flow=nan)
    with pytest.raises(ValueError, match=r"nan/flow/clip\.npy \(flow\) holds NaN"):
        model.generate_from_video(str(video), features=str(folder))
    folder = _features(tmp_path / "wide", video.stem, flow=np.ones((6, 44), dtype=np.float32))
    with pytest.raises(ValueError, match=r"wide/flow/clip\.npy \(flow\) has shape \(6, 44\); the model takes \[T, 45"):
        model.generate_from_video(str(video), features=str(folder))
    folder = _features(tmp_path / "long", video.stem, flow=np.ones((20, 45), dtype=np.float32))
    with pytest.raises(ValueError, match=r"long/flow/clip\.npy \(flow\) has 20 rows, the video lasts 6.50 s"):
        model.generate_from_video(str(video), features=str(folder))
    (tmp_path / "broken" / "flow").mkdir(parents=True)
    (tmp_path / "broken" / "flow" / "clip.npy").write_bytes(b"not an array")
    with pytest.raises(RuntimeError, match=r"cannot read flow features .*broken/flow/clip\.npy"):
        model.generate_from_video(str(video), features=str(tmp_path / "broken"))

    tokens = V2Meow(stage="codec", **_sizes(feature_dims=(), visual_token_vocab=8192, visual_token_patches=49))
    folder = _features(tmp_path / "ids", video.stem, effnet_tokens=np.full((6, 49), 8192, dtype=np.int16))
    with pytest.raises(ValueError, match=r"ids/effnet_tokens/clip\.npy \(effnet_tokens\) holds token ids 8192"):
        tokens.generate_from_video(str(video), features=str(folder))


# ---------------------------------------------------------------------------------------------------- predict
def test_predict_writes_a_metrics_json_beside_the_wavs(tmp_path: Path) -> None:
    from tests.helpers.v2meow_chain import TOKENIZER_SIZES, sine_clips, tokenizer_checkpoints

    tokenizers = tokenizer_checkpoints(tmp_path / "tokenizers")  # trained for two steps: k-means fitted
    sizes = TOKENIZER_SIZES | dict(
        lm_dim=32, lm_encoder_layers=1, lm_decoder_layers=1, lm_heads=2, lm_feedforward=64, feature_dims=(6,),
        coarse_levels=2, fine_levels=2, stage_crop_seconds=2, fine_crop_seconds=1.0,
    )  # fmt: skip
    paths = {f"{name}_ckpt": str(path) for name, path in tokenizers.items() if name != "joint"}
    for stage in ("visual2semantic", "semantic2coarse"):
        paths[f"{stage}_ckpt"] = str(_save(V2Meow(stage=stage, **(sizes | paths)), tmp_path / f"{stage}.ckpt"))
    from metrics.suite_embedder import SuiteAudioEmbedder

    embedder = SuiteAudioEmbedder(channels=(4, 4, 4, 4), embedding_dim=8)  # untrained: the metrics' plumbing only
    torch.save({"config": embedder.config(), "state_dict": embedder.state_dict()}, tmp_path / "embedder.pt")
    model = V2Meow(stage="coarse2fine", **(sizes | paths | {"eval_embedder": str(tmp_path / "embedder.pt")}))
    g = torch.Generator().manual_seed(0)
    batch = {
        "audio": sine_clips(2, 2.0), "visual_features": torch.randn(2, 2, 6, generator=g), "text": ["", ""],
        "meta": [{"id": f"v{i}", "sample_rate": RATE, "start_s": 0.0} for i in range(2)],
    }  # fmt: skip
    trainer = pl.Trainer(default_root_dir=tmp_path, logger=False, accelerator="cpu", enable_progress_bar=False,
                         enable_model_summary=False)  # fmt: skip
    trainer.predict(model, torch.utils.data.DataLoader([batch, batch], batch_size=None))
    folder = tmp_path / "v2meow_predictions"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert sorted(p.name for p in folder.glob("*.wav")) == ["v0_0s.wav", "v1_0s.wav"]
    assert np.isfinite(metrics["fad_suite_embedder"]) and np.isfinite(metrics["kl_suite_embedder"])
    assert metrics["clips"] == 4 and set(metrics["token_nll"]) == {"visual2semantic", "semantic2coarse", "coarse2fine"}
    # an untrained stage predicts about uniformly: NLL near log(vocabulary) (8 semantic ids, 16 codes per level)
    nll = metrics["token_nll"]
    assert abs(nll["visual2semantic"] - np.log(9)) < 1.0 and abs(nll["coarse2fine"] - np.log(16 * 4 + 1)) < 1.5
    with torch.no_grad():
        loss, _ = model.eval()._token_loss(batch, "semantic2coarse", (None, None))
    assert nll["semantic2coarse"] == pytest.approx(float(loss), rel=1e-5)  # the same batch twice: its NLL


def test_a_chain_whose_stages_disagree_on_shared_sizes_names_both_files(tmp_path: Path) -> None:
    sizes = _sizes()
    codec = _save(V2Meow(stage="codec", **sizes), tmp_path / "codec.ckpt")
    semantic = _save(V2Meow(stage="semantic", **sizes), tmp_path / "semantic.ckpt")
    tokenizers = {"codec_ckpt": str(codec), "semantic_ckpt": str(semantic)}
    stage1 = _save(V2Meow(stage="visual2semantic", **(sizes | tokenizers)), tmp_path / "stage1.ckpt")
    narrow = sizes | tokenizers | {"feature_dims": (1280,)}  # another visual kind set than stage 1's
    visual = _save(V2Meow(stage="semantic2coarse", coarse_visual=True, **narrow), tmp_path / "visual2.ckpt")
    chain = tokenizers | {"visual2semantic_ckpt": str(stage1), "semantic2coarse_ckpt": str(visual)}
    with pytest.raises(ValueError, match=r"visual2\.ckpt was trained with feature_dims=\(1280,\).*stage1\.ckpt with"):
        V2Meow(stage="coarse2fine", **(sizes | chain))
    # stage 2 without visual input reads no visual kinds: stage 1 keeps its own
    audio_only = _save(V2Meow(stage="semantic2coarse", **narrow), tmp_path / "audio2.ckpt")
    model = V2Meow(stage="coarse2fine", **(sizes | chain | {"semantic2coarse_ckpt": str(audio_only)}))
    assert list(model.hparams.feature_dims) == list(FEATURE_DIMS) and model.semantic2coarse is not None
    lm = _save(V2Meow(stage="semantic2coarse", **(sizes | tokenizers | {"lm_dim": 32})), tmp_path / "lm32.ckpt")
    with pytest.raises(ValueError, match=r"lm32\.ckpt was trained with lm_dim=32, but visual2semantic_ckpt .*stage1"):
        V2Meow(stage="coarse2fine", **(sizes | chain | {"semantic2coarse_ckpt": str(lm)}))


def test_sampling_benchmark_cached_equals_uncached_on_a_tiny_model() -> None:
    """``benchmarks/v2meow.py``: the KV-cached sampler and the reference loop that recomputes the prefix every step
    give the same greedy tokens for stage 1 (encoder-decoder) and stage 2 (decoder-only with a prefilled prefix)."""
    from benchmarks.v2meow import markdown, paper_defaults, sample_both, sampling_speed, uncached_step

    tiny = {"lm_dim": 32, "lm_encoder_layers": 1, "lm_decoder_layers": 2, "lm_heads": 2, "lm_feedforward": 64}
    result = sampling_speed(tokens=12, sizes=tiny)
    for name in ("stage1_visual2semantic", "stage2_semantic2coarse"):
        run = result[name]
        assert run["same_tokens"] and run["cached_tokens_per_s"] > 0 and run["uncached_tokens_per_s"] > 0
    assert result["stage2_semantic2coarse"]["prefix"] == 250  # 10 s of semantic tokens at 25 Hz
    table = "\n".join(markdown({"seconds": 1.0, "threads": 1, "sampling": result | {"threads": 1}}))
    assert "| stage1_visual2semantic | 0 |" in table and "| stage2_semantic2coarse | 250 |" in table
    # the reference loop is the teacher-forcing forward: at any step its logits equal the cached step's
    torch.manual_seed(0)
    net = V2Meow._token_network("semantic2coarse", paper_defaults() | tiny).eval()
    prefix = torch.randint(0, 1024, (1, 7))
    tokens = sample_both(net, 5, prefix=prefix)["cached"]
    history = torch.cat([prefix, torch.full((1, 1), net.vocab_size - 1), tokens[:, :3]], 1)
    with torch.no_grad():
        logits, grown = uncached_step(net, prefix, prefix.shape[1])(tokens[:, 3], history)
        _, cache = net.prefill(history, net.init_cache(batch_size=1), prefix.shape[1])
        expected, _ = net.step_fn(prefix.shape[1])(tokens[:, 3], cache)
    assert torch.equal(grown, torch.cat([history, tokens[:, 3:4]], 1))
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)


def test_chain_benchmark_times_every_stage_of_a_debug_chain() -> None:
    """``benchmarks/v2meow.py``: the per-stage split of one generated window covers the whole call, and the chain
    generates the audio and tokens of the requested length at debug sizes (25 Hz semantic, 2 + 2 levels at 25 Hz)."""
    from benchmarks.v2meow import chain_speed, markdown
    from models.v2meow import model as v2meow_model

    original = v2meow_model.sample
    result = chain_speed(seconds=1.0)
    assert v2meow_model.sample is original  # the timing wrapper is removed
    stages = ("stage1_visual2semantic_s", "stage2_semantic2coarse_s", "stage3_coarse2fine_s", "codec_decoder_s")
    assert all(result[s] > 0 for s in stages)
    assert sum(result[s] for s in stages) == pytest.approx(result["total_s"], rel=1e-6)
    assert result["audio_s"] == pytest.approx(1.0) and result["tokens"] == {"semantic": 25, "coarse": 50, "fine": 50}
    table = "\n".join(markdown({"seconds": 1.0, "threads": 1, "chain": result | {"threads": 1}}))
    assert "| stage 1 visual -> semantic |" in table
